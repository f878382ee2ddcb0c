"""Sparse structure formats: CSR, CSC, COO and bitmap, over the tensor's 2-D view [shape[0], rest].

Each stores the positions of the non-zeros in integer streams of the fewest bits that address the
matrix (column / row indices: ceil(log2(dim)) bits; row / column pointers: ceil(log2(nnz + 1)) bits)
and the non-zero values as a value stream (float, codebook codes or quantized integers, whatever the
source tensor used). Deep Compression counts CSR/CSC as 2a + n + 1 numbers; here each of those
numbers has its real width.

Kernels use ``matrix()`` (a ``scipy.sparse`` matrix of the decoded float32 values) or the raw fields
(``indptr``, ``indices``, ``values``) when they execute the codes themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from hwsim.formats.base import FormatDef, check_options, matrix_shape, register_format
from hwsim.formats.dense import DENSE_FAMILY, CodebookPayload, DensePayload, QuantizedIntPayload
from hwsim.formats.intstream import FixedWidthInts, IntStream, min_bits
from hwsim.formats.values import CodebookValues, FloatValues, QuantizedValues, ValueStream


# --- value sources ----------------------------------------------------------------------------------

def source_values(source: Any, kind: str | None = None) -> ValueStream:
    """The value stream over every element of ``source`` (array or payload), in flat C order."""
    if isinstance(source, DENSE_FAMILY) and kind is None:
        return source.values
    if isinstance(source, DENSE_FAMILY) or hasattr(source, "entry_positions"):
        if kind is None:
            return densify(source).values
        return FloatValues.of(source.decode(), kind)
    return FloatValues.of(np.asarray(source, np.float32), kind or "fp32")


def source_array(source: Any) -> np.ndarray:
    return source.decode() if hasattr(source, "decode") else np.asarray(source, np.float32)


def nonzero_positions(source: Any, chunk: int = 1 << 20) -> np.ndarray:
    """Flat C-order positions of the non-zero elements of ``source`` (array or payload), as int32 when
    every position fits (int64 otherwise), found a chunk at a time: a payload whose values decode by
    range is never rebuilt whole as float32 just to find its non-zeros, and no full int64 index array
    is made (on a large pruned layer these were a large part of the encoders' peak memory)."""
    values = getattr(source, "values", None)
    if isinstance(source, DENSE_FAMILY) and hasattr(values, "decode_range"):
        n = int(np.prod(source.shape, dtype=np.int64))
        piece = lambda start, stop: values.decode_range(start, stop)  # noqa: E731
    else:
        flat = source_array(source).ravel()
        n = flat.size
        piece = lambda start, stop: flat[start:stop]  # noqa: E731
    dtype = np.int32 if n < 2**31 else np.int64
    parts = [(np.flatnonzero(piece(start, min(start + chunk, n))) + start).astype(dtype)
             for start in range(0, n, chunk)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def densify(payload: Any) -> Any:
    """A dense-structured payload with the same value representation as a structure payload."""
    if isinstance(payload, DENSE_FAMILY):
        return payload
    shape = tuple(payload.shape)
    n = int(np.prod(shape, dtype=np.int64))
    pos = payload.entry_positions()
    v = payload.values
    if isinstance(v, FloatValues):
        data = np.zeros(n, v.data.dtype)
        data[pos] = v.data
        return DensePayload(shape, FloatValues(data, v.kind))
    if isinstance(v, CodebookValues):
        if v.zero_code is None and pos.size < n:
            raise ValueError("a sparse codebook stream without a zero code cannot be densified")
        codes = np.full(n, v.zero_code or 0, np.int64)
        codes[pos] = v.codes.values()
        return CodebookPayload(shape, CodebookValues(FixedWidthInts.of(codes, v.bits), v.centroids, v.zero_code))
    if isinstance(v, QuantizedValues):
        c = v.scale.size
        zp_code = (v.zero_point - v.qmin).astype(np.int64)
        codes = np.repeat(zp_code, n // c) if c > 1 else np.full(n, zp_code[0], np.int64)
        codes[pos] = v.codes.values()
        return QuantizedIntPayload(shape, QuantizedValues(FixedWidthInts.of(codes, v.bits), v.bits, v.signed,
                                                          v.scale, v.zero_point, None, v.scale_bits, v.group_size))
    raise TypeError(f"unknown value stream {type(v).__name__}")


# --- shared behaviour -------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Structured:
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def matrix_shape(self) -> tuple[int, int]:
        return matrix_shape(self.shape)

    def _index_streams(self) -> dict[str, IntStream]:
        raise NotImplementedError

    def _structure_bits(self) -> int:
        return sum(s.stored_bits for s in self._index_streams().values())

    @property
    def stored_bits(self) -> int:
        return self._structure_bits() + self.values.stored_bits  # type: ignore[attr-defined]

    @property
    def nnz(self) -> int:
        return int(self.values.n)  # type: ignore[attr-defined]

    def decode(self) -> np.ndarray:
        out = np.zeros(self.numel, np.float32)
        out[self.entry_positions()] = self.values.decode()  # type: ignore[attr-defined]
        return out.reshape(self.shape)

    def entry_positions(self) -> np.ndarray:
        raise NotImplementedError

    def int_streams(self) -> dict[str, IntStream]:
        streams = dict(self._index_streams())
        streams.update({f"values.{k}": s for k, s in self.values.int_streams().items()})  # type: ignore[attr-defined]
        return streams

    def with_streams(self, streams: Mapping[str, IntStream]) -> Any:
        own = {k: s for k, s in streams.items() if not k.startswith("values.")}
        vals = {k.removeprefix("values."): s for k, s in streams.items() if k.startswith("values.")}
        return replace(self, values=self.values.with_streams(vals), **own)  # type: ignore[attr-defined]

    def _index_bits(self) -> int:
        """Bits of position information per stored value, before entropy coding."""
        raise NotImplementedError

    def meta(self) -> dict[str, Any]:
        index = self._index_streams()
        return {"structure": self.format, "nnz": self.nnz,  # type: ignore[attr-defined]
                "index_bits": self._index_bits(),
                "index_coding": "huffman" if any(s.coding == "huffman" for s in index.values()) else "fixed",
                "index_stored_bits": self._structure_bits(),
                **self.values.meta()}  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class CSRPayload(_Structured):
    """Compressed sparse rows of the [rows, cols] view: ``indptr`` (rows + 1), column ``indices``, values."""

    indptr: IntStream
    indices: IntStream
    values: ValueStream

    @property
    def format(self) -> str:
        return "csr"

    def _index_streams(self) -> dict[str, IntStream]:
        return {"indptr": self.indptr, "indices": self.indices}

    def _index_bits(self) -> int:
        return int(self.indices.bits)

    def meta(self) -> dict[str, Any]:
        return {**super().meta(), "pointer_bits": int(self.indptr.bits)}

    def entry_positions(self) -> np.ndarray:
        rows, cols = self.matrix_shape
        counts = np.diff(self.indptr.values())
        return np.repeat(np.arange(rows, dtype=np.int64), counts) * cols + self.indices.values()

    def matrix(self) -> sp.csr_matrix:
        return sp.csr_matrix((self.values.decode(), self.indices.values(), self.indptr.values()),
                             shape=self.matrix_shape)


@dataclass(frozen=True, eq=False)
class CSCPayload(_Structured):
    """Compressed sparse columns of the [rows, cols] view; values in column-major order."""

    indptr: IntStream
    indices: IntStream
    values: ValueStream

    @property
    def format(self) -> str:
        return "csc"

    def _index_streams(self) -> dict[str, IntStream]:
        return {"indptr": self.indptr, "indices": self.indices}

    def _index_bits(self) -> int:
        return int(self.indices.bits)

    def meta(self) -> dict[str, Any]:
        return {**super().meta(), "pointer_bits": int(self.indptr.bits)}

    def entry_positions(self) -> np.ndarray:
        rows, cols = self.matrix_shape
        counts = np.diff(self.indptr.values())
        return self.indices.values() * cols + np.repeat(np.arange(cols, dtype=np.int64), counts)

    def matrix(self) -> sp.csc_matrix:
        return sp.csc_matrix((self.values.decode(), self.indices.values(), self.indptr.values()),
                             shape=self.matrix_shape)


@dataclass(frozen=True, eq=False)
class COOPayload(_Structured):
    """Coordinate list of the [rows, cols] view: a row and a column index per non-zero (row-major)."""

    rows: IntStream
    cols: IntStream
    values: ValueStream

    @property
    def format(self) -> str:
        return "coo"

    def _index_streams(self) -> dict[str, IntStream]:
        return {"rows": self.rows, "cols": self.cols}

    def _index_bits(self) -> int:
        return int(self.rows.bits) + int(self.cols.bits)

    def entry_positions(self) -> np.ndarray:
        return self.rows.values() * self.matrix_shape[1] + self.cols.values()

    def matrix(self) -> sp.coo_matrix:
        return sp.coo_matrix((self.values.decode(), (self.rows.values(), self.cols.values())), shape=self.matrix_shape)


@dataclass(frozen=True, eq=False)
class BitmapPayload(_Structured):
    """One presence bit per element (``mask``, packed little-endian) plus the non-zero values in flat order."""

    mask: np.ndarray  # uint8, np.packbits(..., bitorder="little") of the flat presence mask
    values: ValueStream

    @property
    def format(self) -> str:
        return "bitmap"

    def _index_streams(self) -> dict[str, IntStream]:
        return {}

    def _structure_bits(self) -> int:
        return self.numel

    def _index_bits(self) -> int:
        return 1

    def presence(self) -> np.ndarray:
        return np.unpackbits(self.mask, count=self.numel, bitorder="little").astype(bool)

    def entry_positions(self) -> np.ndarray:
        return np.flatnonzero(self.presence())


# --- encoders ---------------------------------------------------------------------------------------

def _nonzero_flat(source: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    arr = source_array(source)
    return np.flatnonzero(arr.ravel()), tuple(arr.shape)


def encode_csr(source: Any, value_kind: str | None = None) -> CSRPayload:
    pos, shape = _nonzero_flat(source)
    rows, cols = matrix_shape(shape)
    r, c = np.divmod(pos, cols)
    indptr = np.zeros(rows + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=rows), out=indptr[1:])
    values = source_values(source, value_kind).take(pos)
    return CSRPayload(shape, FixedWidthInts.of(indptr, min_bits(pos.size)), FixedWidthInts.of(c, min_bits(cols - 1)),
                      values)


def encode_csc(source: Any, value_kind: str | None = None) -> CSCPayload:
    arr = source_array(source)
    shape = tuple(arr.shape)
    rows, cols = matrix_shape(shape)
    col_major = np.flatnonzero(arr.reshape(rows, cols).T.ravel())  # non-zeros in column-major order
    c, r = np.divmod(col_major, rows)
    pos = r * cols + c
    indptr = np.zeros(cols + 1, np.int64)
    np.cumsum(np.bincount(c, minlength=cols), out=indptr[1:])
    values = source_values(source, value_kind).take(pos)
    return CSCPayload(shape, FixedWidthInts.of(indptr, min_bits(pos.size)), FixedWidthInts.of(r, min_bits(rows - 1)),
                      values)


def encode_coo(source: Any, value_kind: str | None = None) -> COOPayload:
    pos, shape = _nonzero_flat(source)
    rows, cols = matrix_shape(shape)
    r, c = np.divmod(pos, cols)
    values = source_values(source, value_kind).take(pos)
    return COOPayload(shape, FixedWidthInts.of(r, min_bits(rows - 1)), FixedWidthInts.of(c, min_bits(cols - 1)), values)


def encode_bitmap(source: Any, value_kind: str | None = None) -> BitmapPayload:
    arr = source_array(source)
    present = arr.ravel() != 0
    pos = np.flatnonzero(present)
    values = source_values(source, value_kind).take(pos)
    return BitmapPayload(tuple(arr.shape), np.packbits(present, bitorder="little"), values)


# --- formula estimators ----------------------------------------------------------------------------

def _nnz(shape: tuple[int, ...], density: float) -> int:
    return int(round(int(np.prod(shape, dtype=np.int64)) * density))


def estimate_csr(shape: tuple[int, ...], density: float, value_bits: int = 32, table_bits: int = 0) -> int:
    rows, cols = matrix_shape(shape)
    nnz = _nnz(shape, density)
    return nnz * (value_bits + min_bits(cols - 1)) + (rows + 1) * min_bits(nnz) + table_bits


def estimate_csc(shape: tuple[int, ...], density: float, value_bits: int = 32, table_bits: int = 0) -> int:
    rows, cols = matrix_shape(shape)
    nnz = _nnz(shape, density)
    return nnz * (value_bits + min_bits(rows - 1)) + (cols + 1) * min_bits(nnz) + table_bits


def estimate_coo(shape: tuple[int, ...], density: float, value_bits: int = 32, table_bits: int = 0) -> int:
    rows, cols = matrix_shape(shape)
    return _nnz(shape, density) * (value_bits + min_bits(rows - 1) + min_bits(cols - 1)) + table_bits


def estimate_bitmap(shape: tuple[int, ...], density: float, value_bits: int = 32, table_bits: int = 0) -> int:
    return int(np.prod(shape, dtype=np.int64)) + _nnz(shape, density) * value_bits + table_bits


def _wrap(name: str, fn: Any) -> Any:
    def encode(source: Any, **options: Any) -> Any:
        check_options(name, options, {"value_kind"})
        return fn(source, **options)
    return encode


for _name, _enc, _est, _doc in (
    ("csr", encode_csr, estimate_csr, "compressed sparse rows of the [out, rest] view"),
    ("csc", encode_csc, estimate_csc, "compressed sparse columns of the [out, rest] view"),
    ("coo", encode_coo, estimate_coo, "row and column index per non-zero"),
    ("bitmap", encode_bitmap, estimate_bitmap, "one presence bit per element plus the non-zero values"),
):
    register_format(FormatDef(_name, _wrap(_name, _enc), _est, lossless=True, structure=True, doc=_doc))

__all__ = ["CSRPayload", "CSCPayload", "COOPayload", "BitmapPayload", "encode_csr", "encode_csc", "encode_coo",
           "encode_bitmap", "densify", "source_values", "nonzero_positions", "source_array"]
