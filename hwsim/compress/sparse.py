"""``sparse_format``: store each weight tensor in a chosen sparse format, or the smallest one.

With ``format: auto`` every candidate format really encodes the tensor and the smallest encoding wins
(dense wins for dense tensors). The values keep whatever representation earlier passes gave them
(fp32 / fp16, codebook codes, quantized integers), so the pass composes in any order with prune,
quantize and share. The relative-index width is per layer: Deep Compression's Section 2 says 8 bits
for conv and 5 for fc (the default here); its AlexNet table uses 4 and its LeNet / VGG tables 5, so
set ``index_bits`` (or a per-layer override) to reproduce a table.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from hwsim.compress._encoded import (
    FORMULA_NOTE, WEIGHTED_OPS, carry_meta, change, formula_spec, is_materialized, real_spec, split_encodable,
    value_repr,
)
from hwsim.compress.base import PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.errors import CompressionError
from hwsim.formats import DENSE_FAMILY, FORMATS, densify, encode
from hwsim.ir.graph import OpGraph
from hwsim.ir.tensor import TensorSpec

FormatName = Literal["dense", "csr", "csc", "coo", "bitmap", "relative_index"]
ALL_FORMATS: tuple[str, ...] = ("dense", "csr", "csc", "coo", "bitmap", "relative_index")
DC_INDEX_BITS = {"conv2d": 8, "linear": 5}  # Deep Compression, Section 2


class SparseFormatParams(PassParams):
    format: Literal["auto", "dense", "csr", "csc", "coo", "bitmap", "relative_index"] = "auto"
    candidates: list[FormatName] = Field(default_factory=lambda: list(ALL_FORMATS),
                                         description="formats 'auto' chooses from")
    index_bits: int | None = Field(default=None, ge=1, le=32,
                                   description="relative-index width; default 8 for conv, 5 for linear")
    slots: list[str] = Field(default_factory=lambda: ["weight"], description="weight slots to encode")


def _options(fmt: str, op: str, index_bits: int | None) -> dict[str, Any]:
    if fmt == "relative_index":
        return {"index_bits": index_bits if index_bits is not None else DC_INDEX_BITS.get(op, 5)}
    return {}


def _source(value: Any) -> Any:
    """The dense-structured value source of a stored weight (array or dense-family payload)."""
    if isinstance(value, np.ndarray) or isinstance(value, DENSE_FAMILY):
        return value
    if hasattr(value, "entry_positions"):
        return densify(value)
    raise CompressionError(f"weights stored as {getattr(value, 'format', type(value).__name__)!r} have no "
                           "element-wise values to re-encode in a sparse format")


def _exact_bits(fmt: str, source: Any, nnz: int) -> int | None:
    """Size of ``fmt`` for this source without encoding it, where the size is fully determined by the
    shape and the non-zero count (dense, csr, csc, coo, bitmap with fixed-width values: the formulas
    are exact for these, as the format tests check). None when it depends on the positions
    (relative_index: filler zeros) or on the values' histogram (Huffman-coded streams)."""
    if isinstance(source, np.ndarray):
        shape, value_bits, table_bits = tuple(source.shape), 32, 0
    else:
        shape, values = tuple(source.shape), source.values
        codes = values.int_streams().get("codes")
        if codes is not None and codes.coding != "fixed":
            return None
        value_bits = codes.bits if codes is not None else values.bits
        table_bits = getattr(values, "table_bits", 0)
    numel = int(np.prod(shape, dtype=np.int64))
    if fmt == "dense":
        return int(source.stored_bits) if not isinstance(source, np.ndarray) else numel * 32
    if fmt == "relative_index":
        return None
    return int(FORMATS[fmt].estimate(shape, nnz / numel if numel else 0.0, value_bits, table_bits))


def _sizes(source: Any, candidates: list[str], op: str, index_bits: int | None) -> tuple[dict[str, int],
                                                                                        dict[str, Any]]:
    """Real size of every candidate: exact by formula where the non-zero count determines it, otherwise
    (relative index) by encoding, unless its lower bound (no filler at all) already loses: then the
    bound is recorded (a ">=" size) and the format is not chosen."""
    nnz = int(np.count_nonzero(source)) if isinstance(source, np.ndarray) else int(source.nnz)
    sizes: dict[str, int] = {}
    encoded: dict[str, Any] = {}
    for fmt in candidates:
        exact = _exact_bits(fmt, source, nnz)
        if exact is not None:
            sizes[fmt] = exact
    best = min(sizes.values(), default=None)
    for fmt in candidates:
        if fmt in sizes:
            continue
        opts = _options(fmt, op, index_bits)
        floor = _relative_floor(source, nnz, opts["index_bits"]) if fmt == "relative_index" else None
        if best is not None and floor is not None and floor >= best:
            sizes[fmt] = floor
            continue
        payload = encode(fmt, source, **opts)
        sizes[fmt] = int(payload.stored_bits)
        encoded[fmt] = payload
    return sizes, encoded


def _relative_floor(source: Any, nnz: int, index_bits: int) -> int | None:
    """A lower bound of the relative-index size: every non-zero costs a value and an index."""
    if isinstance(source, np.ndarray):
        return nnz * (32 + index_bits)
    values = source.values
    codes = values.int_streams().get("codes")
    if codes is not None and codes.coding != "fixed":
        return None
    value_bits = codes.bits if codes is not None else values.bits
    return nnz * (value_bits + index_bits) + getattr(values, "table_bits", 0)


@register_pass("sparse_format", SparseFormatParams, family="sparse", lossless=True)
def sparse_format(graph: OpGraph, params: SparseFormatParams) -> PassResult:
    """Encode weights as dense / CSR / CSC / COO / bitmap / relative index, or the smallest (auto)."""
    nodes, skipped = split_encodable(graph, select_layers(graph, params, WEIGHTED_OPS, "sparse_format"),
                                     "sparse_format")
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    formula = False
    for node in nodes:
        p = layer_params(params, node.name)
        candidates = list(p.candidates) if p.format == "auto" else [p.format]
        if not candidates:
            raise CompressionError("pass 'sparse_format': 'candidates' is empty", where=f"layer {node.name!r}")
        info: dict[str, Any] = {}
        for slot in p.slots:
            t = node.params.get(slot)
            if t is None:
                continue
            spec = graph.tensor(t)
            keep = carry_meta(spec)
            if is_materialized(graph, [t]):
                source = _source(graph.weight(t))
                sizes, encoded = _sizes(source, candidates, node.op, p.index_bits)
                fmt = min(candidates, key=lambda f: (sizes[f], candidates.index(f)))
                payload = encoded[fmt] if fmt in encoded else encode(fmt, source, **_options(fmt, node.op,
                                                                                             p.index_bits))
                assert payload.stored_bits == sizes[fmt], (fmt, payload.stored_bits, sizes[fmt])
                if fmt == "dense" and isinstance(source, np.ndarray):
                    payload = source  # plain fp32 arrays stay plain
                weights[t] = payload
                specs[t] = real_spec(spec, payload, keep)
                meta = specs[t].meta_dict()
                info[slot] = {"format": fmt, "candidate_bits": sizes, "nnz": meta.get("nnz"),
                              "filler_zeros": meta.get("filler_zeros"), "index_bits": meta.get("index_bits")}
            else:
                formula = True
                value = value_repr(spec)
                structure = spec.meta_dict().get("structure", "dense") if spec.encoding != "dense" else "dense"
                if structure not in ALL_FORMATS:
                    raise CompressionError(f"pass 'sparse_format': weights stored as {spec.encoding!r} cannot be "
                                           "re-encoded", where=f"layer {node.name!r}")
                options = {fmt: _options(fmt, node.op, p.index_bits) for fmt in candidates}
                estimates = {fmt: formula_spec(spec, fmt, value, extra_meta=keep, **options[fmt])
                             for fmt in candidates}
                fmt = min(candidates, key=lambda f: (estimates[f].size_bits, candidates.index(f)))
                specs[t] = estimates[fmt]
                info[slot] = {"format": fmt, "candidate_bits": {f: e.size_bits for f, e in estimates.items()},
                              **options[fmt]}
        weight_info = info.get("weight", next(iter(info.values()), {}))
        details[node.name] = {**weight_info, "sparsity": round(1.0 - graph.tensor(node.params["weight"]).density, 6)}
    out = graph.with_specs(specs, weights)
    changes = tuple(change(graph, out, n, "encoded", **details[n.name]) for n in nodes)
    notes = tuple(skipped) + ((FORMULA_NOTE,) if formula else ())
    return PassResult(out, any(c.bytes_before != c.bytes_after or c.details.get("format") != "dense"
                               for c in changes), changes, notes)


__all__ = ["SparseFormatParams", "sparse_format", "DC_INDEX_BITS"]
