"""Integer streams: the unsigned-integer sequences every encoding is built from (sparse indices, row
pointers, zero runs, codebook codes, quantized values).

A stream is fixed-width here (``FixedWidthInts``: n values of ``bits`` bits each, packed little-endian
bit by bit) or Huffman-coded (``hwsim.formats.huffman.HuffmanInts``). Both expose the same small
interface, so a Huffman pass can swap one for the other inside any payload:

- ``values()``: the decoded non-negative integers (int64, 1-D),
- ``stored_bits``: the exact bit length of ``to_bytes()`` before byte padding,
- ``to_bytes()`` / ``from_bytes``: the serialized form the size is counted from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from hwsim.errors import CompressionError

_CHUNK = 1 << 20  # values packed per step: bounds the (n, 64) bit matrix to 64 MiB


@runtime_checkable
class IntStream(Protocol):
    """What payloads need from an integer stream (fixed width or Huffman)."""

    @property
    def n(self) -> int: ...

    @property
    def stored_bits(self) -> int: ...

    @property
    def coding(self) -> str: ...  # "fixed" | "huffman"

    def values(self) -> np.ndarray: ...

    def to_bytes(self) -> bytes: ...


def min_bits(max_value: int) -> int:
    """Bits needed to hold every integer in [0, max_value] (at least 1)."""
    return max(1, int(max_value).bit_length())


def smallest_uint(max_value: int) -> np.dtype:
    for dt in (np.uint8, np.uint16, np.uint32):
        if max_value <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.uint64)


def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Pack non-negative integers < 2**bits into a little-endian bit string (value i at bit i*bits)."""
    v = np.ascontiguousarray(values, dtype=np.uint64).ravel()
    if bits == 8:
        return v.astype(np.uint8).tobytes()
    if bits == 16:
        return v.astype("<u2").tobytes()
    if bits == 32:
        return v.astype("<u4").tobytes()
    pieces: list[np.ndarray] = []
    carry = np.zeros(0, np.uint8)
    for start in range(0, v.size, _CHUNK):
        chunk = v[start:start + _CHUNK].astype("<u8")
        planes = np.unpackbits(chunk.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")[:, :bits]
        flat = np.concatenate([carry, planes.ravel()])
        whole = flat.size - flat.size % 8
        pieces.append(np.packbits(flat[:whole], bitorder="little"))
        carry = flat[whole:]
    if carry.size:
        pieces.append(np.packbits(carry, bitorder="little"))
    return b"".join(p.tobytes() for p in pieces)


def unpack_bits(buf: bytes, n: int, bits: int) -> np.ndarray:
    """Inverse of ``pack_bits``: n integers of ``bits`` bits as int64."""
    raw = np.frombuffer(buf, np.uint8)
    if bits == 8:
        return raw[:n].astype(np.int64)
    if bits == 16:
        return np.frombuffer(buf, "<u2", count=n).astype(np.int64)
    if bits == 32:
        return np.frombuffer(buf, "<u4", count=n).astype(np.int64)
    out = np.empty(n, np.int64)
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        first_bit = start * bits
        lo, hi = first_bit // 8, (first_bit + m * bits + 7) // 8
        flat = np.unpackbits(raw[lo:hi], bitorder="little")[first_bit - lo * 8:first_bit - lo * 8 + m * bits]
        planes = np.zeros((m, 64), np.uint8)
        planes[:, :bits] = flat.reshape(m, bits)
        out[start:start + m] = np.packbits(planes, axis=1, bitorder="little").view("<u8").ravel().astype(np.int64)
    return out


@dataclass(frozen=True, eq=False)
class FixedWidthInts:
    """n unsigned integers of ``bits`` bits each. ``data`` keeps them unpacked (smallest uint dtype) so
    kernels index them directly; ``to_bytes`` is the stored form and ``stored_bits == n * bits``."""

    data: np.ndarray
    bits: int

    def __post_init__(self) -> None:
        if self.bits < 1 or self.bits > 64:
            raise CompressionError(f"integer stream width must be 1..64 bits, got {self.bits}")
        if self.data.ndim != 1:
            raise ValueError("integer streams are 1-D")
        if self.data.size and (int(self.data.min()) < 0 or int(self.data.max()) >= 2**self.bits):
            raise CompressionError(f"integer stream values must lie in [0, 2^{self.bits}); got "
                                   f"[{int(self.data.min())}, {int(self.data.max())}]")

    @classmethod
    def of(cls, values: np.ndarray, bits: int | None = None) -> "FixedWidthInts":
        """A stream of ``values`` at ``bits`` width (default: the fewest bits holding the maximum)."""
        v = np.asarray(values).ravel()
        top = int(v.max()) if v.size else 0
        width = min_bits(top) if bits is None else bits
        return cls(v.astype(smallest_uint(max(top, 2**min(width, 63) - 1)), copy=False), width)

    @property
    def n(self) -> int:
        return int(self.data.size)

    @property
    def stored_bits(self) -> int:
        return self.n * self.bits

    @property
    def coding(self) -> str:
        return "fixed"

    @property
    def mean_code_bits(self) -> float:
        return float(self.bits)

    def values(self) -> np.ndarray:
        return self.data.astype(np.int64, copy=False)

    def to_bytes(self) -> bytes:
        return pack_bits(self.data, self.bits)

    @classmethod
    def from_bytes(cls, buf: bytes, n: int, bits: int) -> "FixedWidthInts":
        return cls.of(unpack_bits(buf, n, bits), bits)


def stored_ints(stream: IntStream) -> np.ndarray:
    """A stream's values in the unsigned dtype it keeps them in (a fixed-width stream's own array, never
    widened to int64: four to eight times the codes' memory on a large layer); other streams decode."""
    return stream.data if isinstance(stream, FixedWidthInts) else stream.values()


def value_counts(stream: IntStream, minlength: int, chunk: int = 1 << 20) -> np.ndarray:
    """How many times each value occurs (``np.bincount``), counted a chunk at a time so bincount's own
    int64 copy of the input stays chunk-sized."""
    data = stored_ints(stream)
    counts = np.zeros(minlength, np.int64)
    for start in range(0, data.size, chunk):
        part = np.bincount(data[start:start + chunk], minlength=minlength)
        if part.size > counts.size:
            counts = np.concatenate([counts, np.zeros(part.size - counts.size, np.int64)])
        counts[: part.size] += part
    return counts

