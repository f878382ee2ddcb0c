"""Encoded payloads of binary and ternary weight tensors: really bit-packed, with their scales.

A payload is what ``OpGraph.weight`` returns for an encoded tensor: ``decode()`` gives the effective
float weights (sign x scale), ``stored_bits`` the exact size of what is stored (packed codes plus one
fp32 scale per scaled group). Packing is MSB-first (``np.packbits`` big bit order) over the
row-major flattened tensor; the last byte is zero-padded, and ``stored_bits`` counts the real bits
(``numel`` or ``2 numel``), as a device storing many tensors back to back would.

* :class:`BinaryPayload`: 1 bit per weight, 1 = +1, 0 = -1 (sign(0) = +1).
* :class:`TernaryPayload`: 2 bits per weight, 00 = 0, 01 = +1, 11 = -1 (10 is never written).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALE_BITS = 32  # scales are stored as fp32


def _scale_shape(shape: tuple[int, ...], scales: np.ndarray) -> tuple[int, ...]:
    """Broadcast shape of per-output-channel (axis 0) or per-tensor scales."""
    if scales.size == 1:
        return (1,) * len(shape)
    return (shape[0],) + (1,) * (len(shape) - 1)


@dataclass(frozen=True, eq=False)
class BinaryPayload:
    """+/-1 weights packed 8 per byte, optionally scaled per tensor or per output channel (axis 0)."""

    shape: tuple[int, ...]
    packed: np.ndarray  # uint8
    scales: np.ndarray | None = None  # float32, size 1 or shape[0]

    @classmethod
    def encode(cls, weights: np.ndarray, scales: np.ndarray | None = None) -> "BinaryPayload":
        w = np.asarray(weights)
        bits = (w.reshape(-1) >= 0).astype(np.uint8)
        sc = None if scales is None else np.asarray(scales, np.float32).reshape(-1)
        if sc is not None and sc.size not in (1, w.shape[0]):
            raise ValueError(f"binary scales must be per tensor or per output channel, got {sc.size} for {w.shape}")
        return cls(tuple(int(d) for d in w.shape), np.packbits(bits), sc)

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape))

    def signs(self) -> np.ndarray:
        """The +/-1 values as int8 in the tensor's shape."""
        bits = np.unpackbits(self.packed, count=self.numel)
        return (bits.astype(np.int8) * 2 - 1).reshape(self.shape)

    def decode(self) -> np.ndarray:
        out = self.signs().astype(np.float32)
        if self.scales is not None:
            out = out * self.scales.reshape(_scale_shape(self.shape, self.scales))
        return out

    @property
    def stored_bits(self) -> int:
        return self.numel + (0 if self.scales is None else SCALE_BITS * self.scales.size)

    @property
    def nbytes(self) -> int:
        return int(self.packed.nbytes) + (0 if self.scales is None else int(self.scales.nbytes))


@dataclass(frozen=True, eq=False)
class TernaryPayload:
    """{-1, 0, +1} weights packed 4 per byte (2-bit codes), scaled per tensor or per output channel."""

    shape: tuple[int, ...]
    packed: np.ndarray  # uint8
    scales: np.ndarray | None = None

    @classmethod
    def encode(cls, ternary: np.ndarray, scales: np.ndarray | None = None) -> "TernaryPayload":
        t = np.asarray(ternary)
        if not np.isin(t, (-1, 0, 1)).all():
            raise ValueError("ternary payload values must be -1, 0 or +1")
        flat = t.reshape(-1).astype(np.int8)
        codes = np.where(flat == 0, 0b00, np.where(flat > 0, 0b01, 0b11)).astype(np.uint8)
        bits = np.stack([(codes >> 1) & 1, codes & 1], axis=1).reshape(-1)  # MSB of each code first
        sc = None if scales is None else np.asarray(scales, np.float32).reshape(-1)
        if sc is not None and sc.size not in (1, t.shape[0]):
            raise ValueError(f"ternary scales must be per tensor or per output channel, got {sc.size} for {t.shape}")
        return cls(tuple(int(d) for d in t.shape), np.packbits(bits), sc)

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape))

    def values(self) -> np.ndarray:
        """The {-1, 0, +1} values as int8 in the tensor's shape."""
        bits = np.unpackbits(self.packed, count=2 * self.numel).reshape(-1, 2)
        codes = (bits[:, 0] << 1) | bits[:, 1]
        vals = np.where(codes == 0b01, 1, np.where(codes == 0b11, -1, 0)).astype(np.int8)
        return vals.reshape(self.shape)

    def decode(self) -> np.ndarray:
        out = self.values().astype(np.float32)
        if self.scales is not None:
            out = out * self.scales.reshape(_scale_shape(self.shape, self.scales))
        return out

    @property
    def stored_bits(self) -> int:
        return 2 * self.numel + (0 if self.scales is None else SCALE_BITS * self.scales.size)

    @property
    def nbytes(self) -> int:
        return int(self.packed.nbytes) + (0 if self.scales is None else int(self.scales.nbytes))


def formula_bits(numel: int, bits_per_weight: int, n_scales: int) -> int:
    """Stored size without encoding (cost-only runs): must equal the payload's ``stored_bits``."""
    return numel * bits_per_weight + SCALE_BITS * n_scales
