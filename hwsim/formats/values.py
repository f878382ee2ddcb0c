"""Value streams: how the stored values of a tensor are represented, independently of where they sit.

Dense payloads store one value per element; sparse payloads store one value per kept entry (and per
filler zero of the relative-index format). In both cases the values are one of:

- ``FloatValues``: IEEE fp32 / fp16 or bfloat16 numbers (``bits`` 32 or 16),
- ``CodebookValues``: integer codes into a table of float32 centroids (weight sharing),
- ``QuantizedValues``: b-bit integers with per-tensor or per-channel scale and zero point.

``decode()`` always returns float32 (the numbers a kernel computes with), so any structure format
can carry any value representation, and passes compose (prune -> share -> relative index -> Huffman).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

import numpy as np

from hwsim.errors import CompressionError
from hwsim.formats.intstream import FixedWidthInts, IntStream, stored_ints

FLOAT_BITS = {"fp32": 32, "fp16": 16, "bf16": 16}
CENTROID_BITS = 32  # codebook entries are stored as fp32
SCALE_BITS = 32  # quantization scales are stored as fp32


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even; NaN stays NaN."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(np.asarray(x, np.float32))
    if nan.any():
        rounded = rounded.copy()
        rounded[nan] = np.uint16(0x7FC0)
    return rounded


def from_bf16_bits(b: np.ndarray) -> np.ndarray:
    return (np.asarray(b, np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def float_storage(x: np.ndarray, kind: str) -> np.ndarray:
    """The stored array of float values of ``kind`` (fp32 / fp16 as floats, bf16 as uint16 bits)."""
    if kind == "fp32":
        return np.asarray(x, np.float32)
    if kind == "fp16":
        return np.asarray(x, np.float32).astype(np.float16)
    if kind == "bf16":
        return to_bf16_bits(x)
    raise CompressionError(f"unknown float storage {kind!r}; known: {', '.join(FLOAT_BITS)}")


@dataclass(frozen=True, eq=False)
class FloatValues:
    """Float values stored at 32 or 16 bits. ``data`` is float32, float16, or uint16 (bf16 bits)."""

    data: np.ndarray
    kind: str = "fp32"  # fp32 | fp16 | bf16

    @classmethod
    def of(cls, x: np.ndarray, kind: str = "fp32") -> "FloatValues":
        return cls(float_storage(np.asarray(x).ravel(), kind), kind)

    @property
    def format(self) -> str:
        return "float"

    @property
    def n(self) -> int:
        return int(self.data.size)

    @property
    def bits(self) -> int:
        return FLOAT_BITS[self.kind]

    @property
    def stored_bits(self) -> int:
        return self.n * self.bits

    def decode(self) -> np.ndarray:
        if self.kind == "bf16":
            return from_bf16_bits(self.data)
        return self.data.astype(np.float32, copy=False)

    def take(self, idx: np.ndarray) -> "FloatValues":
        return FloatValues(self.data[idx], self.kind)

    def int_streams(self) -> dict[str, IntStream]:
        return {}

    def with_streams(self, streams: dict[str, IntStream]) -> "FloatValues":
        return self

    def meta(self) -> dict[str, object]:
        return {"value_format": "float", "value_bits": self.bits, "value_dtype": self.kind}


@dataclass(frozen=True, eq=False)
class CodebookValues:
    """Codes into a centroid table (``centroids[codes]``). When ``zero_code`` is set, that code means
    exactly 0.0 (pruned positions, relative-index filler zeros) and its centroid is 0."""

    codes: IntStream
    centroids: np.ndarray  # float32 [k]
    zero_code: int | None = None

    @property
    def format(self) -> str:
        return "codebook"

    @property
    def n(self) -> int:
        return self.codes.n

    @property
    def bits(self) -> int:
        """Width of one code before Huffman coding (the declared b of a 2^b-entry codebook)."""
        return int(self.codes.bits)

    @property
    def table_bits(self) -> int:
        return int(self.centroids.size) * CENTROID_BITS

    @property
    def stored_bits(self) -> int:
        return self.codes.stored_bits + self.table_bits

    def decode(self) -> np.ndarray:
        return self.decode_range(0, self.codes.n)

    def decode_range(self, start: int, stop: int) -> np.ndarray:
        """The decoded values of elements [start, stop): a chunk without decoding the whole array."""
        return self.centroids[stored_ints(self.codes)[start:stop]].astype(np.float32, copy=False)

    def take(self, idx: np.ndarray) -> "CodebookValues":
        return CodebookValues(FixedWidthInts.of(stored_ints(self.codes)[idx], self.bits), self.centroids, self.zero_code)

    def int_streams(self) -> dict[str, IntStream]:
        return {"codes": self.codes}

    def with_streams(self, streams: dict[str, IntStream]) -> "CodebookValues":
        return replace(self, codes=streams.get("codes", self.codes))

    def meta(self) -> dict[str, object]:
        return {"value_format": "codebook", "value_bits": self.bits, "codebook_size": int(self.centroids.size),
                "codebook_bits": CENTROID_BITS, "value_coding": self.codes.coding}


@dataclass(frozen=True, eq=False)
class QuantizedValues:
    """b-bit integers. The stream holds ``q - qmin`` (non-negative); real value = (q - zero_point) x scale.

    ``scale``/``zero_point`` have one entry per channel (or one for the tensor); ``channel`` gives each
    stored value's channel (derived from its position, so it costs no storage). Group-wise formats
    (``group_size`` set: llama.cpp's Q4_0 / Q8_0 blocks, GPTQ / AWQ groups) have one entry per group
    of ``group_size`` consecutive values of a row, laid out group after group."""

    codes: IntStream
    bits: int
    signed: bool
    scale: np.ndarray  # float32 [C]
    zero_point: np.ndarray  # int32 [C]
    channel: np.ndarray | None = None  # channel of each value; None = per-tensor, or contiguous channels
    scale_bits: int = SCALE_BITS  # fp32 scales; 16 for the fp16 scales of GGUF / GPTQ / AWQ storage
    group_size: int | None = None  # scales per group of this many consecutive values (group-wise formats)

    def _channels(self) -> np.ndarray | None:
        """Channel index per value, or None when one scale covers everything."""
        if self.scale.size == 1:
            return None
        if self.channel is not None:
            return self.channel
        return np.repeat(np.arange(self.scale.size), self.n // self.scale.size)

    @property
    def format(self) -> str:
        return "quantized_int"

    @property
    def n(self) -> int:
        return self.codes.n

    @property
    def qmin(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def symmetric(self) -> bool:
        return bool(np.all(self.zero_point == 0))

    @property
    def table_bits(self) -> int:
        """Scales (fp32) plus zero points (b bits each, only if asymmetric)."""
        per = self.scale_bits + (0 if self.symmetric else self.bits)
        return int(self.scale.size) * per

    @property
    def stored_bits(self) -> int:
        return self.codes.stored_bits + self.table_bits

    def q(self) -> np.ndarray:
        """The integer values themselves (int32), as an integer kernel consumes them."""
        return (self.codes.values() + self.qmin).astype(np.int32)

    def decode(self) -> np.ndarray:
        if self.bits <= 23 and self.channel is None and self.group_size is None:
            return self._decode_float32()
        q = self.q()
        scale = self.scale.astype(np.float32)
        if self.scale.size == 1:
            return ((q - self.zero_point[0]).astype(np.float32) * scale[0]).astype(np.float32)
        if self.channel is None:  # values laid out channel after channel (a dense tensor, axis 0)
            per = q.reshape(self.scale.size, -1) - self.zero_point[:, None]
            return (per.astype(np.float32) * scale[:, None]).ravel()
        return ((q - self.zero_point[self.channel]).astype(np.float32) * scale[self.channel]).astype(np.float32)

    def _decode_float32(self) -> np.ndarray:
        """``decode`` with one float32 array as its only allocation (the codes are never widened to int64):
        codes + (qmin - zero_point) is an exact float32 integer below 2^24, so the values are the same."""
        raw = stored_ints(self.codes)
        out = raw.astype(np.float32)
        rows = out.reshape(self.scale.size, -1)
        rows += (self.qmin - self.zero_point.astype(np.int64)).astype(np.float32)[:, None]
        rows *= self.scale.astype(np.float32)[:, None]
        return out

    def take(self, idx: np.ndarray) -> "QuantizedValues":
        channel = None
        if self.scale.size > 1:
            channel = self.channel[idx] if self.channel is not None else (idx // (self.n // self.scale.size))
            channel = channel.astype(np.int32)
        return QuantizedValues(FixedWidthInts.of(stored_ints(self.codes)[idx], self.bits), self.bits, self.signed,
                               self.scale, self.zero_point, channel, self.scale_bits, self.group_size)

    def int_streams(self) -> dict[str, IntStream]:
        return {"codes": self.codes}

    def with_streams(self, streams: dict[str, IntStream]) -> "QuantizedValues":
        return replace(self, codes=streams.get("codes", self.codes))

    def meta(self) -> dict[str, object]:
        return {"value_format": "quantized_int", "value_bits": self.bits, "signed": self.signed,
                "symmetric": self.symmetric, "scale_granularity": ("group" if self.group_size else "channel")
                if self.scale.size > 1 else "tensor",
                "scale_count": int(self.scale.size), "scale_bits": self.scale_bits, "value_coding": self.codes.coding,
                **({"group_size": self.group_size} if self.group_size else {})}


ValueStream = Union[FloatValues, CodebookValues, QuantizedValues]
