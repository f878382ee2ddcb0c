"""Helpers shared by the Deep Compression family of passes (prune, sparse formats, quantize, share,
Huffman): what a weight tensor currently is, how to re-encode it after its values change, and the
formula annotation used when the weights are not materialized (cost-only runs).

Rule (the same as the structural passes'): a pass encodes real arrays only when every weight it
touches has a real value (given by a file, by ``OpGraph.materialize()`` or by an earlier pass);
otherwise it annotates sizes with the formats' formula estimators, and says so in its notes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.compress.base import LayerChange
from hwsim.errors import CompressionError
from hwsim.formats import (
    FORMATS, CodebookPayload, DensePayload, HashedPayload, QuantizedIntPayload, densify, encode, quantize_array,
)
from hwsim.formats.annotate import annotate
from hwsim.formats.dense import encode_codebook, encode_dense
from hwsim.formats.values import CENTROID_BITS, FLOAT_BITS, SCALE_BITS
from hwsim.ir.dtypes import BF16, FP16, FP32, DType, int_dtype
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec

WEIGHTED_OPS = ("conv2d", "linear")
_SQNR_CHUNK = 1 << 20


def sqnr_db(w: np.ndarray, wq: np.ndarray | Callable[[int, int], np.ndarray]) -> float | None:
    """Signal-to-quantization-noise ratio of ``wq`` against ``w`` in dB (None for an all-zero ``w``, inf
    when exact). ``wq`` is an array or a function giving its flat elements [start, stop) (a payload's
    ``decode_range``, so the whole quantized array is never decoded at once). Summed a chunk at a time:
    no full-size difference array beside the two weights."""
    a = np.asarray(w).reshape(-1)
    if callable(wq):
        chunk_of = wq
    else:
        b = np.asarray(wq).reshape(-1)
        chunk_of = lambda start, stop: b[start:stop]  # noqa: E731
    signal = noise = 0.0
    for start in range(0, a.size, _SQNR_CHUNK):
        stop = min(start + _SQNR_CHUNK, a.size)
        x = a[start:stop].astype(np.float32, copy=False)
        d = x - np.asarray(chunk_of(start, stop)).astype(np.float32, copy=False)
        signal += float(np.dot(x, x))
        noise += float(np.dot(d, d))
    if signal == 0:
        return None
    return round(10 * math.log10(signal / noise), 3) if noise > 0 else math.inf


FORMULA_NOTE = ("weights not materialized: sizes are formula estimates (run on a model with weights, or "
                "materialize seeded ones, for real encodings)")


#: Encodings whose values are element-wise (one value per element or per stored entry): the passes of
#: this family can re-encode them. Others (hashed, binary / ternary, negated halves...) are skipped.
ELEMENTWISE_ENCODINGS = frozenset({"dense", "codebook", "quantized_int", "csr", "csc", "coo", "bitmap",
                                   "relative_index"})


def stored_as(spec: TensorSpec) -> str:
    """How a weight is stored, for messages: its encoding, or its dtype when that is what makes it
    special (binary / ternary weights keep encoding 'dense')."""
    return spec.dtype.name if spec.dtype.kind in ("binary", "ternary") else spec.encoding


def split_encodable(graph: OpGraph, nodes: list[Node], pass_name: str) -> tuple[list[Node], list[str]]:
    """(nodes whose weight this family can re-encode, a note naming the others if any)."""
    ok, skipped = [], []
    for node in nodes:
        spec = graph.tensor(node.params["weight"])
        if spec.encoding in ELEMENTWISE_ENCODINGS and spec.dtype.kind not in ("binary", "ternary"):
            ok.append(node)
        else:
            skipped.append(f"{node.name} ({stored_as(spec)})")
    notes = [f"{pass_name}: skipped {len(skipped)} layer(s) whose weights are not stored element-wise: "
             + ", ".join(skipped[:6]) + (" ..." if len(skipped) > 6 else "")] if skipped else []
    return ok, notes


def is_materialized(graph: OpGraph, tensors: Iterable[str]) -> bool:
    return all(graph.weights.provided(t) for t in tensors)


def weight_tensor(node: Node) -> str:
    return node.params["weight"]


def node_bytes(graph: OpGraph, node: Node) -> int:
    return sum(graph.tensor(t).size_bytes for t in node.params.values())


def structure_of(value: Any) -> str:
    """dense | csr | csc | coo | bitmap | relative_index | hashed | ... for an array or a payload."""
    if isinstance(value, np.ndarray):
        return "dense"
    if isinstance(value, (DensePayload, CodebookPayload, QuantizedIntPayload)):
        return "dense"
    return str(getattr(value, "format", "dense"))


def structure_options(value: Any) -> dict[str, Any]:
    if getattr(value, "format", None) == "relative_index":
        return {"index_bits": value.index_bits}
    return {}


def reencode(original: Any, new_dense: np.ndarray, what: str) -> Any:
    """``new_dense`` (float values) stored the way ``original`` was: same structure format, same value
    representation (codebook with the same centroids, integers with the same scales). Used after a
    pass changes values (pruning) of a tensor an earlier pass already encoded."""
    if isinstance(original, np.ndarray):
        return new_dense.astype(np.float32, copy=False)
    if isinstance(original, HashedPayload):
        raise CompressionError(f"{what}: hashed weights cannot be changed element-wise; run it before share_hash")
    structure = structure_of(original)
    source = original if structure == "dense" else densify(original)
    if isinstance(source, DensePayload):
        values: Any = encode_dense(new_dense, source.kind)
    elif isinstance(source, CodebookPayload):
        table = source.centroids
        values = encode_codebook(new_dense, centroids=table[table != 0] if source.values.zero_code is not None
                                 else table, bits=source.values.bits,
                                 zero_code=bool(source.values.zero_code is not None or np.any(new_dense == 0)))
    elif isinstance(source, QuantizedIntPayload):
        v = source.values
        values = quantize_array(new_dense, v.bits, v.symmetric and v.signed, v.scale.size > 1,
                                scale=v.scale, zero_point=v.zero_point)
    else:
        raise CompressionError(f"{what}: cannot re-encode weights stored as {getattr(original, 'format', '?')!r}")
    if structure == "dense":
        return values
    return encode(structure, values, **structure_options(original))


@dataclass(frozen=True)
class ValueRepr:
    """What one stored value is, read from an annotation (for formula estimates)."""

    format: str  # float | codebook | quantized_int
    bits: int
    table_bits: int
    extra: Mapping[str, Any]


def value_repr(spec: TensorSpec) -> ValueRepr:
    meta = spec.meta_dict()
    fmt = meta.get("value_format")
    if fmt == "codebook":
        k = int(meta.get("codebook_size", 2 ** int(meta.get("value_bits", 8))))
        return ValueRepr("codebook", int(meta["value_bits"]), k * CENTROID_BITS,
                         {k2: meta[k2] for k2 in ("codebook_size", "codebook_bits") if k2 in meta})
    if fmt == "quantized_int":
        bits = int(meta["value_bits"])
        count = int(meta.get("scale_count", 1))
        sym = bool(meta.get("symmetric", True))
        return ValueRepr("quantized_int", bits, count * (SCALE_BITS + (0 if sym else bits)),
                         {k2: meta[k2] for k2 in ("signed", "symmetric", "scale_granularity", "scale_count",
                                                  "scale_bits") if k2 in meta})
    kind = spec.dtype.name if spec.dtype.name in FLOAT_BITS else "fp32"
    return ValueRepr("float", FLOAT_BITS[kind], 0, {"value_dtype": kind})


def formula_spec(spec: TensorSpec, structure: str, value: ValueRepr, density: float | None = None,
                 dtype: DType | None = None, extra_meta: Mapping[str, Any] | None = None,
                 **options: Any) -> TensorSpec:
    """The annotation a real encoding would give, with the size from the format's formula."""
    d = spec.density if density is None else density
    fmt = structure if structure != "dense" else {"float": "dense", "codebook": "codebook",
                                                   "quantized_int": "quantized_int"}[value.format]
    if fmt == "dense":
        bits = FORMATS["dense"].estimate(spec.shape, d, value.bits)
    elif fmt in ("codebook", "quantized_int"):
        bits = FORMATS[fmt].estimate(spec.shape, d, value.bits, table_bits=value.table_bits)
    else:
        bits = FORMATS[fmt].estimate(spec.shape, d, value.bits, value.table_bits, **options)
    meta: dict[str, Any] = {"structure": structure, "value_format": value.format, "value_bits": value.bits,
                            **value.extra, "estimated": True}
    if structure != "dense":
        nnz = int(round(spec.numel * d))
        meta["nnz"] = nnz
        if "index_bits" in options:
            meta["index_bits"] = options["index_bits"]
    if extra_meta:
        meta.update(extra_meta)
    out_dtype = dtype or (int_dtype(value.bits, bool(value.extra.get("signed", True)))
                          if value.format == "quantized_int" else
                          {"fp16": FP16, "bf16": BF16}.get(str(value.extra.get("value_dtype")), FP32))
    return spec.with_(encoding=fmt, density=float(d), stored_bits=int(bits), dtype=out_dtype, meta=meta)


def real_spec(spec: TensorSpec, payload: Any, extra_meta: Mapping[str, Any] | None = None) -> TensorSpec:
    """Annotation of a real payload; a plain array is dense fp32 storage with its measured density."""
    if isinstance(payload, np.ndarray):
        density = float(np.count_nonzero(payload)) / payload.size if payload.size else 1.0
        meta = {**spec.meta_dict(), **(extra_meta or {})}
        return spec.with_(encoding="dense", density=density, stored_bits=None, dtype=FP32, meta=meta)
    return annotate(spec, payload, extra_meta=dict(extra_meta or {}))


def carry_meta(spec: TensorSpec, keys: Iterable[str] = ("pruned_density", "pruned_by")) -> dict[str, Any]:
    """Pass-level meta keys worth keeping across re-encodings."""
    meta = spec.meta_dict()
    return {k: meta[k] for k in keys if k in meta}


def change(graph_before: OpGraph, graph_after: OpGraph, node: Node, action: str, **details: Any) -> LayerChange:
    after_node = graph_after.node(node.name) if graph_after.has_node(node.name) else None
    after = node_bytes(graph_after, after_node) if after_node is not None else 0
    return LayerChange(node.name, action, node_bytes(graph_before, node), after, details)


def overridden_keys(params: Any, layer: str) -> set[str]:
    """Parameter names a per-layer override sets for ``layer`` (they beat op-kind defaults)."""
    import fnmatch

    return {k for pattern, values in params.overrides.items() if fnmatch.fnmatchcase(layer, pattern)
            for k in values}


def default_by_op(op: str, conv: Any, linear: Any) -> Any:
    return conv if op == "conv2d" else linear
