"""Dense-structured payloads: one stored value per element.

- ``DensePayload`` (format ``dense``): fp32, fp16 or bf16 values.
- ``CodebookPayload`` (format ``codebook``): a code per element into a float32 centroid table.
- ``QuantizedIntPayload`` (format ``quantized_int``): b-bit integers with per-tensor or per-channel
  (axis 0) scales and zero points: value = (q - zero_point[c]) * scale[c].

These are also the *value sources* structure formats take their stored values from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Union

import numpy as np

from hwsim.errors import CompressionError
from hwsim.formats.base import FormatDef, check_options, register_format
from hwsim.formats.intstream import FixedWidthInts, IntStream, min_bits, smallest_uint, value_counts
from hwsim.formats.values import CENTROID_BITS, FLOAT_BITS, SCALE_BITS, CodebookValues, FloatValues, QuantizedValues


@dataclass(frozen=True, eq=False)
class _DenseBase:
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def stored_bits(self) -> int:
        return self.values.stored_bits  # type: ignore[attr-defined]

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.decode()))

    def decode(self) -> np.ndarray:
        return self.values.decode().reshape(self.shape)  # type: ignore[attr-defined]

    def int_streams(self) -> dict[str, IntStream]:
        return self.values.int_streams()  # type: ignore[attr-defined]

    def with_streams(self, streams: Mapping[str, IntStream]) -> Any:
        return replace(self, values=self.values.with_streams(dict(streams)))  # type: ignore[attr-defined]

    def entry_positions(self) -> np.ndarray:
        return np.arange(self.numel)

    def meta(self) -> dict[str, Any]:
        return {"structure": "dense", **self.values.meta()}  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class DensePayload(_DenseBase):
    """Dense float storage. ``values.data`` is float32 / float16 / uint16 (bf16 bit patterns)."""

    values: FloatValues

    @property
    def format(self) -> str:
        return "dense"

    @property
    def kind(self) -> str:
        return self.values.kind


@dataclass(frozen=True, eq=False)
class CodebookPayload(_DenseBase):
    """Weight sharing: ``centroids[indices()]``. ``values.zero_code`` (if set) is the code of exact 0."""

    values: CodebookValues

    @property
    def format(self) -> str:
        return "codebook"

    @property
    def nnz(self) -> int:
        """Elements whose centroid is not 0 (a histogram of the codes; no decode needed)."""
        counts = value_counts(self.values.codes, self.centroids.size)
        return int(counts[: self.centroids.size][self.centroids != 0].sum())

    @property
    def centroids(self) -> np.ndarray:
        return self.values.centroids

    def indices(self) -> np.ndarray:
        """The code of every element, shaped like the tensor (int64)."""
        return self.values.codes.values().reshape(self.shape)


@dataclass(frozen=True, eq=False)
class QuantizedIntPayload(_DenseBase):
    """Integer storage with scales: value = (q - zero_point) * scale, per tensor or per output channel
    (axis 0). An integer kernel multiplies ``q()`` and rescales its int32 accumulators."""

    values: QuantizedValues

    @property
    def format(self) -> str:
        return "quantized_int"

    @property
    def bits(self) -> int:
        return self.values.bits

    @property
    def signed(self) -> bool:
        return self.values.signed

    @property
    def scale(self) -> np.ndarray:
        return self.values.scale

    @property
    def zero_point(self) -> np.ndarray:
        return self.values.zero_point

    @property
    def axis(self) -> int | None:
        """0 when scales are per output channel, None when one scale covers the tensor."""
        return 0 if self.values.scale.size > 1 else None

    def q(self) -> np.ndarray:
        """The integers, shaped like the tensor (int32)."""
        return self.values.q().reshape(self.shape)


DenseFamily = Union[DensePayload, CodebookPayload, QuantizedIntPayload]
DENSE_FAMILY = (DensePayload, CodebookPayload, QuantizedIntPayload)


# --- encoders ---------------------------------------------------------------------------------------

def encode_dense(source: Any, kind: str | None = None) -> DenseFamily:
    """Dense storage. An array is stored at ``kind`` (default fp32); a dense-family payload is kept
    as it is (it is already dense-structured) unless ``kind`` asks for a float re-encoding."""
    if isinstance(source, DENSE_FAMILY) and kind is None:
        return source
    arr = source.decode() if hasattr(source, "decode") else np.asarray(source)
    return DensePayload(tuple(arr.shape), FloatValues.of(arr, kind or "fp32"))


def encode_codebook(source: Any, centroids: np.ndarray | None = None, bits: int | None = None,
                    zero_code: bool | None = None) -> CodebookPayload:
    """Assign each element to its nearest centroid. Without ``centroids`` the distinct values of the
    array become the codebook (lossless when there are at most 2^bits of them). ``zero_code`` (default:
    when the array has zeros) reserves code 0 for exact 0.0."""
    arr = source.decode() if hasattr(source, "decode") else np.asarray(source, np.float32)
    flat = arr.ravel().astype(np.float32, copy=False)
    has_zero = bool(np.any(flat == 0)) if zero_code is None else zero_code
    if centroids is None:
        table = np.unique(flat[flat != 0] if has_zero else flat)
        if bits is not None and table.size + has_zero > 2**bits:
            raise CompressionError(f"codebook of {bits} bits holds {2 ** bits} values; the array has "
                                   f"{table.size + has_zero} distinct values (give centroids to quantize)")
    else:
        table = np.unique(np.asarray(centroids, np.float32))
        if has_zero:
            table = table[table != 0]
    table = np.concatenate([[np.float32(0)], table]).astype(np.float32) if has_zero else table.astype(np.float32)
    if table.size == 0:
        table = np.zeros(1, np.float32)
    codes = nearest_codes(flat, table, zero_first=has_zero)
    width = bits if bits is not None else min_bits(table.size - 1)
    if table.size > 2**width:
        raise CompressionError(f"codebook has {table.size} entries, more than {width}-bit codes can address")
    return CodebookPayload(tuple(arr.shape), CodebookValues(FixedWidthInts.of(codes, width), table,
                                                            0 if has_zero else None))


def nearest_codes(flat: np.ndarray, table: np.ndarray, zero_first: bool = False) -> np.ndarray:
    """Index of the nearest table entry for each value (O(n log k) with sorted midpoints), as the smallest
    unsigned dtype that holds every index. With ``zero_first`` entry 0 is exact zero: only exact zeros
    map to it. Searched a chunk at a time, so the int64 indices of ``searchsorted`` never exist for the
    whole array (they were four times a float32 layer's size)."""
    flat = np.asarray(flat).ravel()
    codes = np.empty(flat.size, smallest_uint(max(table.size - 1, 0)))
    rest = table[1:] if zero_first else table
    if rest.size == 0:
        codes[:] = 0
        return codes
    order = np.argsort(rest, kind="stable")
    s = rest[order].astype(np.float64)
    mids = floor_float32((s[:-1] + s[1:]) / 2.0)  # a value exactly between two entries goes to the lower one
    index = (order + 1 if zero_first else order).astype(codes.dtype)
    for start in range(0, flat.size, _CHUNK_ELEMENTS):
        chunk = np.asarray(flat[start:start + _CHUNK_ELEMENTS], np.float32)
        out = codes[start:start + chunk.size]
        np.take(index, np.searchsorted(mids, chunk, side="left"), out=out)
        if zero_first:
            out[chunk == 0] = 0
    return codes


def floor_float32(x: np.ndarray) -> np.ndarray:
    """The largest float32 <= each float64 value: for float32 v, v <= x exactly when v <= floor_float32(x),
    so boundaries can be searched in float32 without converting (or copying) the data."""
    x = np.asarray(x, np.float64)
    f = x.astype(np.float32)
    over = f.astype(np.float64) > x
    f[over] = np.nextafter(f[over], np.float32(-np.inf))
    return f


_CHUNK_ELEMENTS = 1 << 20  # values quantized at a time: temporaries stay ~4 MiB whatever the layer's size


def _integer_codes(rows: np.ndarray, scale: np.ndarray, zp: np.ndarray, qmin: int, qmax: int, offset: int,
                   rounding: str, rng: np.random.Generator | None) -> np.ndarray:
    """``clip(round(x / scale) + zp, qmin, qmax) - offset`` of every value of ``rows`` ([C, n], one scale
    and zero point per row), as the smallest unsigned dtype holding the codes. Computed a chunk at a time
    in float32 (exact for the integers of up to 24-bit codes; wider codes go through float64), so a
    layer of N weights needs N code bytes, not several float64 copies of the layer."""
    c, n = rows.shape
    codes = np.empty(c * n, smallest_uint(qmax - offset))
    work = np.float32 if qmax - qmin < 2**24 else np.float64
    # a block of rows (one scale each, broadcast) or, with one scale for everything, a slice of the values
    step = max(1, _CHUNK_ELEMENTS // max(n, 1)) if c > 1 else _CHUNK_ELEMENTS
    flat = rows.reshape(-1)
    out = codes.reshape(c, n)
    for lo in range(0, c if c > 1 else c * n, step):
        hi = min(lo + step, c if c > 1 else c * n)
        if c > 1:
            src, s, z, dst = rows[lo:hi], scale[lo:hi, None], zp[lo:hi, None], out[lo:hi]
        else:
            src, s, z, dst = flat[lo:hi], scale[0], zp[0], codes[lo:hi]
        t = np.divide(src, s, dtype=np.float32).astype(work, copy=False)
        if rounding == "nearest":
            np.rint(t, out=t)
        else:
            t += rng.random(t.shape, dtype=np.float32)  # type: ignore[union-attr]
            np.floor(t, out=t)
        t += np.asarray(z, work)
        np.clip(t, qmin, qmax, out=t)
        t -= offset
        dst[...] = t
    return codes


def quantize_array(arr: np.ndarray, bits: int, symmetric: bool = True, per_channel: bool = False,
                   rounding: str = "nearest", rng: np.random.Generator | None = None,
                   scale: np.ndarray | None = None, zero_point: np.ndarray | None = None) -> QuantizedIntPayload:
    """Uniform quantization to ``bits``-bit integers.

    Symmetric: signed, narrow range [-(2^(b-1)-1), 2^(b-1)-1], zero point 0, scale = max|x| / qmax.
    Asymmetric: unsigned [0, 2^b-1], range [min(x,0), max(x,0)] so that 0 is exactly representable
    (pruned zeros and padding stay exact). Per channel = one scale per slice of axis 0.
    ``rounding="stochastic"`` rounds up with probability equal to the fractional part (Gupta et al.
    2015) and needs a seeded ``rng``. Given ``scale``/``zero_point`` are used as they are."""
    if bits < 1:
        raise CompressionError(f"quantization needs bits >= 1, got {bits}")
    if symmetric and bits < 2:
        raise CompressionError("symmetric quantization needs bits >= 2 (1 bit has no room for a sign and "
                               "a magnitude; use asymmetric, or the binarize pass)")
    x = np.asarray(arr, np.float32)
    shape = tuple(x.shape)
    c = shape[0] if per_channel and x.ndim >= 1 else 1
    rows = x.reshape(c, -1)
    if symmetric:
        qmin, qmax = -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
        if scale is None:
            amax = np.abs(rows).max(axis=1) if rows.size else np.zeros(c, np.float32)
            scale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
        zp = np.zeros(c, np.int32) if zero_point is None else np.asarray(zero_point, np.int32)
    else:
        qmin, qmax = 0, 2**bits - 1
        if scale is None:
            lo = np.minimum(rows.min(axis=1), 0) if rows.size else np.zeros(c, np.float32)
            hi = np.maximum(rows.max(axis=1), 0) if rows.size else np.zeros(c, np.float32)
            scale = np.where(hi > lo, (hi - lo) / qmax, 1.0).astype(np.float32)
            zp = np.clip(np.rint(-lo / scale), qmin, qmax).astype(np.int32)
        else:
            zp = np.zeros(c, np.int32) if zero_point is None else np.asarray(zero_point, np.int32)
    scale = np.asarray(scale, np.float32).reshape(-1)
    zp = np.asarray(zp, np.int32).reshape(-1)
    if scale.size != c or zp.size != c:
        raise CompressionError(f"quantization needs {c} scales and zero points, got {scale.size} and {zp.size}")
    if rounding not in ("nearest", "stochastic"):
        raise CompressionError(f"unknown rounding {rounding!r}; known: nearest, stochastic")
    if rounding == "stochastic" and rng is None:
        raise CompressionError("stochastic rounding needs a seeded random generator")
    offset = -(2 ** (bits - 1)) if symmetric else 0
    stream = FixedWidthInts.of(_integer_codes(rows, scale, zp, qmin, qmax, offset, rounding, rng), bits)
    values = QuantizedValues(stream, bits, symmetric, scale, zp, None)
    return QuantizedIntPayload(shape, values)


def encode_quantized(source: Any, bits: int = 8, symmetric: bool = True, per_channel: bool = False,
                     rounding: str = "nearest", seed: int | None = None,
                     scale: np.ndarray | None = None, zero_point: np.ndarray | None = None) -> QuantizedIntPayload:
    arr = source.decode() if hasattr(source, "decode") else np.asarray(source, np.float32)
    rng = np.random.default_rng(seed) if seed is not None else None
    return quantize_array(arr, bits, symmetric, per_channel, rounding, rng, scale, zero_point)


# --- formula estimators ----------------------------------------------------------------------------

def estimate_dense(shape: tuple[int, ...], density: float = 1.0, value_bits: int = 32, table_bits: int = 0) -> int:
    return int(np.prod(shape, dtype=np.int64)) * value_bits + table_bits


def estimate_codebook(shape: tuple[int, ...], density: float = 1.0, value_bits: int = 8, table_bits: int | None = None
                      ) -> int:
    n = int(np.prod(shape, dtype=np.int64))
    return n * value_bits + (2**value_bits * CENTROID_BITS if table_bits is None else table_bits)


def estimate_quantized(shape: tuple[int, ...], density: float = 1.0, value_bits: int = 8, table_bits: int | None = None,
                       channels: int = 1, symmetric: bool = True) -> int:
    n = int(np.prod(shape, dtype=np.int64))
    tables = channels * (SCALE_BITS + (0 if symmetric else value_bits)) if table_bits is None else table_bits
    return n * value_bits + tables


def _dense_encoder(source: Any, **options: Any) -> DenseFamily:
    check_options("dense", options, {"kind"})
    return encode_dense(source, **options)


def _codebook_encoder(source: Any, **options: Any) -> CodebookPayload:
    check_options("codebook", options, {"centroids", "bits", "zero_code"})
    return encode_codebook(source, **options)


def _quantized_encoder(source: Any, **options: Any) -> QuantizedIntPayload:
    check_options("quantized_int", options, {"bits", "symmetric", "per_channel", "rounding", "seed", "scale",
                                             "zero_point"})
    return encode_quantized(source, **options)


register_format(FormatDef("dense", _dense_encoder, estimate_dense, lossless=True, structure=False,
                          doc="one value per element at fp32 / fp16 / bf16"))
register_format(FormatDef("codebook", _codebook_encoder, estimate_codebook, lossless=False, structure=False,
                          doc="a log2(k)-bit code per element into k fp32 centroids (weight sharing)"))
register_format(FormatDef("quantized_int", _quantized_encoder, estimate_quantized, lossless=False, structure=False,
                          doc="b-bit integers with per-tensor or per-channel fp32 scales and zero points"))

__all__ = ["DensePayload", "CodebookPayload", "QuantizedIntPayload", "DENSE_FAMILY", "DenseFamily", "encode_dense",
           "encode_codebook", "quantize_array", "encode_quantized", "nearest_codes", "FLOAT_BITS"]
