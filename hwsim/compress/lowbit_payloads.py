"""Encoded payloads of binary and ternary weight tensors: really packed codes, with their scales.

They follow ``hwsim.formats``' payload contract (``format``, ``shape``, ``decode()``, ``stored_bits``,
``nnz``, ``meta()``, ``int_streams()``, ``with_streams()``), so an entropy coder can replace their
code stream like any other payload's. The tensor keeps encoding ``dense`` (a dense tensor of a 1- or
2-bit dtype: no index structure); ``format`` names the code layout for readers of the payload.

* :class:`BinaryPayload`: one 1-bit code per weight, 1 = +1, 0 = -1 (sign(0) = +1).
* :class:`TernaryPayload`: one 2-bit code per weight, 0 = 0, 1 = +1, 3 = -1 (2 is never written).

Both may carry fp32 scales, per tensor (1) or per output channel (axis 0); ``decode()`` returns the
effective weights code x scale. ``stored_bits`` = the code stream's bits (``FixedWidthInts.to_bytes``
packs them, n x width bits) + 32 per scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hwsim.formats.intstream import FixedWidthInts, IntStream, stored_ints

SCALE_BITS = 32  # scales are stored as fp32


def _scale_shape(shape: tuple[int, ...], scales: np.ndarray) -> tuple[int, ...]:
    if scales.size == 1:
        return (1,) * len(shape)
    return (shape[0],) + (1,) * (len(shape) - 1)


def _check_scales(scales: np.ndarray | None, shape: tuple[int, ...], what: str) -> np.ndarray | None:
    if scales is None:
        return None
    sc = np.asarray(scales, np.float32).reshape(-1)
    if sc.size not in (1, shape[0]):
        raise ValueError(f"{what} scales must be per tensor or per output channel, got {sc.size} for {shape}")
    return sc


@dataclass(frozen=True, eq=False)
class _LowBit:
    shape: tuple[int, ...]
    codes: IntStream
    scales: np.ndarray | None = None

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape))

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        out = values.astype(np.float32).reshape(self.shape)  # a new array: scaled in place
        if self.scales is not None:
            out *= self.scales.reshape(_scale_shape(self.shape, self.scales)).astype(np.float32, copy=False)
        return out

    def _codes(self) -> np.ndarray:
        """The stored codes in their own small dtype (a fixed-width stream's array, not widened to int64)."""
        return stored_ints(self.codes)

    @property
    def stored_bits(self) -> int:
        return int(self.codes.stored_bits) + (0 if self.scales is None else SCALE_BITS * int(self.scales.size))

    def int_streams(self) -> dict[str, IntStream]:
        return {"codes": self.codes}

    def with_streams(self, streams: Mapping[str, IntStream]) -> Any:
        return replace(self, codes=streams.get("codes", self.codes))

    def _meta(self, value_bits: int) -> dict[str, Any]:
        n = 0 if self.scales is None else int(self.scales.size)
        return {"structure": "dense", "value_format": self.format, "value_bits": value_bits,  # type: ignore[attr-defined]
                "value_coding": self.codes.coding, "scale_count": n, "scale_bits": SCALE_BITS,
                "scale_granularity": granularity(n)}


@dataclass(frozen=True, eq=False)
class BinaryPayload(_LowBit):
    """+/-1 weights, one bit each, optionally scaled per tensor or per output channel (axis 0)."""

    @classmethod
    def encode(cls, weights: np.ndarray, scales: np.ndarray | None = None) -> "BinaryPayload":
        w = np.asarray(weights)
        shape = tuple(int(d) for d in w.shape)
        bits = (w.reshape(-1) >= 0).astype(np.uint8)
        return cls(shape, FixedWidthInts(bits, 1), _check_scales(scales, shape, "binary"))

    @property
    def format(self) -> str:
        return "binary"

    @property
    def nnz(self) -> int:
        return self.numel

    def signs(self) -> np.ndarray:
        """The +/-1 values as int8 in the tensor's shape."""
        signs = self._codes().astype(np.int8)
        signs *= 2
        signs -= 1
        return signs.reshape(self.shape)

    def decode(self) -> np.ndarray:
        return self._scaled(self.signs())

    def meta(self) -> dict[str, Any]:
        return self._meta(1)


@dataclass(frozen=True, eq=False)
class TernaryPayload(_LowBit):
    """{-1, 0, +1} weights, two bits each, scaled per tensor or per output channel (axis 0)."""

    @classmethod
    def encode(cls, ternary: np.ndarray, scales: np.ndarray | None = None) -> "TernaryPayload":
        t = np.asarray(ternary)
        if not np.isin(t, (-1, 0, 1)).all():
            raise ValueError("ternary payload values must be -1, 0 or +1")
        shape = tuple(int(d) for d in t.shape)
        flat = t.reshape(-1)
        codes = np.where(flat == 0, 0, np.where(flat > 0, 1, 3)).astype(np.uint8)
        return cls(shape, FixedWidthInts(codes, 2), _check_scales(scales, shape, "ternary"))

    @property
    def format(self) -> str:
        return "ternary"

    def values(self) -> np.ndarray:
        """The {-1, 0, +1} values as int8 in the tensor's shape."""
        c = self._codes()
        out = (c == 1).astype(np.int8)
        out[c == 3] = -1
        return out.reshape(self.shape)

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self._codes()))

    def decode(self) -> np.ndarray:
        return self._scaled(self.values())

    def meta(self) -> dict[str, Any]:
        return self._meta(2)


def granularity(n_scales: int) -> str:
    """The formats' vocabulary for how many scales a tensor has: none, tensor (1) or channel."""
    return "none" if n_scales == 0 else ("tensor" if n_scales == 1 else "channel")


def lowbit_meta(value_format: str, value_bits: int, n_scales: int) -> dict[str, Any]:
    """The payload's ``meta()`` without a payload (cost-only runs)."""
    return {"structure": "dense", "value_format": value_format, "value_bits": value_bits, "value_coding": "fixed",
            "scale_count": n_scales, "scale_bits": SCALE_BITS, "scale_granularity": granularity(n_scales)}


def formula_bits(numel: int, bits_per_weight: int, n_scales: int) -> int:
    """Stored size without encoding (cost-only runs): equals the fixed-width payload's ``stored_bits``."""
    return numel * bits_per_weight + SCALE_BITS * n_scales
