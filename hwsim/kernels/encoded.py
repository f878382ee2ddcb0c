"""Reading encoded weight payloads the way a kernel consumes them (never via ``payload.decode()``).

* ``entry_data``: the numbers a value stream contributes per stored entry (float values as stored,
  codebook codes looked up in their centroid table, quantized integers minus their zero point) and the
  per-output-channel scale applied after accumulation (quantized values only).
* ``sparse_operator``: a ``scipy.sparse`` CSR/CSC matrix over the [O, G*K] block-diagonal view built
  from a structure payload's own index streams (CSR/CSC pointers and indices, COO coordinates, bitmap
  bits, relative-index zero runs with their filler zeros) and ``entry_data``.
* ``decoded_operands``: the dense operand and scale of the *same* arithmetic, for the references.

Integer streams go through ``hwsim.kernels.huffman.stream_ints`` (Huffman streams are decoded by
this package's own decoder).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from hwsim.formats import (
    BitmapPayload, CodebookPayload, CodebookValues, COOPayload, CSCPayload, CSRPayload, FloatValues, HashedPayload,
    QuantizedIntPayload, QuantizedValues, RelativeIndexPayload, densify,
)
from hwsim.formats.base import matrix_shape
from hwsim.formats.intstream import FixedWidthInts
from hwsim.kernels.huffman import stream_ints

STRUCTURE_PAYLOADS = (CSRPayload, CSCPayload, COOPayload, BitmapPayload, RelativeIndexPayload)


def entry_data(values: Any, rows: np.ndarray | None, n_rows: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(data per stored entry as float32, per-row scale or None). ``rows`` gives each entry's output
    channel (needed for per-channel zero points); None means entries are laid out channel by channel."""
    if isinstance(values, FloatValues):
        return values.decode(), None
    if isinstance(values, CodebookValues):
        return values.centroids[stream_ints(values.codes)].astype(np.float32, copy=False), None
    if isinstance(values, QuantizedValues) and values.bits <= 23:
        # codes - zero point as float32 directly (exact below 2^24): no int64 copies of a large layer
        raw = values.codes.data if isinstance(values.codes, FixedWidthInts) else stream_ints(values.codes)
        data = raw.astype(np.float32)
        offset = (values.qmin - values.zero_point.astype(np.int64)).astype(np.float32)
        if offset.size == 1:
            data += offset[0]
        elif rows is None:
            per_channel = data.reshape(offset.size, -1)  # a view: entries laid out channel by channel
            per_channel += offset[:, None]
        else:
            data += offset[rows]
        return data, values.scale.astype(np.float32)
    if isinstance(values, QuantizedValues):
        q = stream_ints(values.codes) + values.qmin
        zp = values.zero_point.astype(np.int64)
        if zp.size == 1:
            codes = q - zp[0]
        else:
            if rows is None:
                rows = np.repeat(np.arange(zp.size), q.size // zp.size)
            codes = q - zp[rows]
        return codes.astype(np.float32), values.scale.astype(np.float32)
    raise TypeError(f"unknown value stream {type(values).__name__}")


def _positions_to_csr(pos: np.ndarray, n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = np.divmod(pos, n_cols)
    indptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, cols, rows


def structure(payload: Any) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """(kind 'csr' | 'csc', indptr, indices, row of each entry in stream order) from the payload's streams."""
    n_rows, n_cols = matrix_shape(payload.shape)
    if isinstance(payload, CSRPayload):
        indptr = stream_ints(payload.indptr)
        return "csr", indptr, stream_ints(payload.indices), np.repeat(np.arange(n_rows), np.diff(indptr))
    if isinstance(payload, CSCPayload):
        indices = stream_ints(payload.indices)
        return "csc", stream_ints(payload.indptr), indices, indices
    if isinstance(payload, COOPayload):
        rows, cols = stream_ints(payload.rows), stream_ints(payload.cols)
        indptr = np.zeros(n_rows + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        return "csr", indptr, cols, rows
    if isinstance(payload, BitmapPayload):
        present = np.unpackbits(payload.mask, count=payload.numel, bitorder="little")
        indptr, cols, rows = _positions_to_csr(np.flatnonzero(present), n_rows, n_cols)
        return "csr", indptr, cols, rows
    if isinstance(payload, RelativeIndexPayload):
        pos = np.cumsum(stream_ints(payload.runs) + 1) - 1  # zero runs -> positions (fillers included)
        indptr, cols, rows = _positions_to_csr(pos, n_rows, n_cols)
        return "csr", indptr, cols, rows
    raise TypeError(f"{type(payload).__name__} is not a sparse structure payload")


def sparse_operator(payload: Any, groups: int = 1) -> tuple[sp.spmatrix, np.ndarray | None]:
    """The payload as a sparse [O, groups*K] matrix (block diagonal over conv groups) and its row scale.

    Within every row, entries accumulate in increasing column order, as the reference does."""
    n_rows, n_cols = matrix_shape(payload.shape)
    kind, indptr, indices, rows = structure(payload)
    data, scale = entry_data(payload.values, rows, n_rows)
    if groups == 1:
        ctor = sp.csr_matrix if kind == "csr" else sp.csc_matrix
        m = ctor((data, indices, indptr), shape=(n_rows, n_cols))
    else:
        og = n_rows // groups
        cols = (indices if kind == "csr" else np.repeat(np.arange(n_cols), np.diff(indptr))) + (rows // og) * n_cols
        order = np.lexsort((cols, rows))
        ip = np.zeros(n_rows + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=ip[1:])
        m = sp.csr_matrix((data[order], cols[order], ip), shape=(n_rows, groups * n_cols))
    return m, scale


def dense_codes(payload: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """A dense-structured payload's operand: values looked up (codebook, hashed) or integer codes
    minus zero point (quantized), shaped like the tensor, and the per-row scale (quantized only)."""
    if isinstance(payload, CodebookPayload):
        return payload.centroids[stream_ints(payload.values.codes)].reshape(payload.shape), None
    if isinstance(payload, HashedPayload):
        # the hash is recomputed from the stored seed, as HashedNets does at run time
        idx, sign = payload.bucket_index(), payload.signs()
        return (payload.buckets.decode()[idx] * sign).astype(np.float32), None
    if isinstance(payload, QuantizedIntPayload):
        data, scale = entry_data(payload.values, None, payload.shape[0])
        return data.reshape(payload.shape), scale
    raise TypeError(f"{type(payload).__name__} is not a dense-structured encoded payload")


def decoded_operands(payload: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The dense operand and scale that define what a compressed kernel computes (for references):
    sparse structures are densified (explicit zeros) with the same value representation."""
    if isinstance(payload, STRUCTURE_PAYLOADS):
        return dense_codes(densify(payload)) if not isinstance(payload.values, FloatValues) else \
            (payload.decode(), None)
    return dense_codes(payload)
