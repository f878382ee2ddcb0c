"""Constants and indexing: a constant tensor as a node (so any op can take a constant operand), gather
with constant indices, the embedding lookup (a weight table indexed by token ids), slice, expand and
tile. Data movement counts ``move`` per output element; a constant is a view of its stored value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import numbers
from typing import Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, ParamSlot, register_op
from hwsim.ir.opdefs._attrs import broadcast_shapes, norm_axis, numel, only, positive

Shape = tuple[int, ...]


def _int_list(value: Any, what: str, minimum: int | None = None) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                              for v in value):
        raise ShapeError(f"{what} must be a list of ints, got {value!r}")
    out = [int(v) for v in value]
    if minimum is not None and any(v < minimum for v in out):
        raise ShapeError(f"{what} must be ints >= {minimum}, got {out}")
    return out


def _moves(c: CountInput) -> OpCounts:
    return OpCounts(arith={"move": sum(numel(s) for s in c.out_shapes)})


# --- constant --------------------------------------------------------------------------------------

def normalize_constant(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"shape"}, "constant")
    shape = _int_list(attrs.get("shape"), "constant 'shape'", minimum=1)
    if not shape:
        raise ShapeError("constant 'shape' needs at least one dimension (a scalar is shape [1])")
    return {"shape": shape}


register_op(OpDef(
    name="constant", group=OpGroup.VIEW, arity=(0, 0),
    doc="a stored tensor (slot 'value') as a node output: constant operands of any op (a scale, a position "
        "embedding, a mask)",
    infer=lambda attrs, in_shapes: [tuple(attrs["shape"])], count=lambda c: OpCounts(),
    normalize=normalize_constant, params=(ParamSlot("value", "zeros", trainable=False),),
    param_shapes=lambda attrs, in_shapes: {"value": tuple(attrs["shape"])}, attr_names=frozenset({"shape"}),
))


# --- gather with constant indices ------------------------------------------------------------------

def normalize_gather(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"axis", "indices"}, "gather")
    src = in_shapes[0]
    axis = norm_axis(int(attrs.get("axis", 0)), len(src), "gather")
    raw = attrs.get("indices")
    scalar = isinstance(raw, numbers.Integral) and not isinstance(raw, bool)
    idx = [int(raw)] if scalar else _int_list(raw, "gather 'indices'")
    if not idx:
        raise ShapeError("gather 'indices' is empty")
    dim = src[axis]
    if any(not -dim <= i < dim for i in idx):
        raise ShapeError(f"gather indices {idx} out of range for axis {axis} of size {dim}")
    if scalar and len(src) == 1:
        raise ShapeError("gather of one element of a rank-1 tensor gives a scalar; hwsim tensors have rank >= 1")
    norm = [i % dim for i in idx]
    return {"axis": axis, "indices": norm[0] if scalar else norm}


def infer_gather(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    src, axis, idx = list(in_shapes[0]), attrs["axis"], attrs["indices"]
    if isinstance(idx, int):
        return [tuple(src[:axis] + src[axis + 1:])]
    return [tuple(src[:axis] + [len(idx)] + src[axis + 1:])]


register_op(OpDef(name="gather", group=OpGroup.DATA,
                  doc="take constant indices along one axis (an int index drops the axis, a list keeps it)",
                  infer=infer_gather, count=_moves, normalize=normalize_gather,
                  attr_names=frozenset({"axis", "indices"})))


# --- embedding lookup ------------------------------------------------------------------------------

def normalize_embedding(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"num_embeddings", "embedding_dim"}, "embedding")
    for key in ("num_embeddings", "embedding_dim"):
        if key not in attrs:
            raise ShapeError(f"embedding needs attribute {key!r}")
    return {"num_embeddings": positive(attrs["num_embeddings"], "embedding num_embeddings"),
            "embedding_dim": positive(attrs["embedding_dim"], "embedding embedding_dim")}


def embedding_rows_read(c: CountInput) -> int:
    return numel(c.in_shapes[0]) * int(c.attrs["embedding_dim"])


register_op(OpDef(
    name="embedding", group=OpGroup.DATA, output_dtype="fp32",
    doc="row lookup: out[..., :] = weight[ids[...], :]; weight [num_embeddings, embedding_dim] (token "
        "embeddings; reads only the rows it gathers)",
    infer=lambda attrs, in_shapes: [tuple(in_shapes[0]) + (attrs["embedding_dim"],)], count=_moves,
    normalize=normalize_embedding, params=(ParamSlot("weight", "normal_small"),),
    param_shapes=lambda attrs, in_shapes: {"weight": (attrs["num_embeddings"], attrs["embedding_dim"])},
    attr_names=frozenset({"num_embeddings", "embedding_dim"}), weight_read=embedding_rows_read,
))


# --- slice -----------------------------------------------------------------------------------------

def normalize_slice(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    """ONNX Slice semantics (negative indices count from the end, out-of-range bounds are clamped),
    normalized to one (start, stop, step) per axis; a stop of -1 with a negative step means 'through
    index 0'."""
    only(attrs, {"starts", "ends", "axes", "steps"}, "slice")
    src = in_shapes[0]
    rank = len(src)
    starts = _int_list(attrs.get("starts"), "slice 'starts'")
    ends = _int_list(attrs.get("ends"), "slice 'ends'")
    axes = _int_list(attrs.get("axes", list(range(len(starts)))), "slice 'axes'")
    steps = _int_list(attrs.get("steps", [1] * len(starts)), "slice 'steps'")
    if not (len(starts) == len(ends) == len(axes) == len(steps)):
        raise ShapeError("slice 'starts', 'ends', 'axes' and 'steps' must have the same length")
    full_start, full_stop, full_step = [0] * rank, list(src), [1] * rank
    seen: set[int] = set()
    for s, e, a, st in zip(starts, ends, axes, steps):
        ax = norm_axis(a, rank, "slice")
        if ax in seen:
            raise ShapeError(f"slice names axis {ax} twice")
        seen.add(ax)
        if st == 0:
            raise ShapeError("slice step 0")
        dim = src[ax]
        s = s + dim if s < 0 else s
        e = e + dim if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), dim), min(max(e, 0), dim)
        else:
            s, e = min(max(s, 0), dim - 1), min(max(e, -1), dim - 1)
        full_start[ax], full_stop[ax], full_step[ax] = s, e, st
    out = [len(range(s, e, st)) for s, e, st in zip(full_start, full_stop, full_step)]
    if any(d < 1 for d in out):
        raise ShapeError(f"slice of {list(src)} is empty (shape {out}); hwsim tensors have no empty dimensions")
    return {"starts": full_start, "ends": full_stop, "steps": full_step}


def infer_slice(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(len(range(s, e, st)) for s, e, st in zip(attrs["starts"], attrs["ends"], attrs["steps"]))]


register_op(OpDef(name="slice", group=OpGroup.DATA, doc="strided sub-range of every axis (a copy)",
                  infer=infer_slice, count=_moves, normalize=normalize_slice,
                  attr_names=frozenset({"starts", "ends", "axes", "steps"})))


# --- expand and tile -------------------------------------------------------------------------------

def normalize_expand(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"shape"}, "expand")
    shape = _int_list(attrs.get("shape"), "expand 'shape'", minimum=1)
    try:
        broadcast_shapes(tuple(in_shapes[0]), tuple(shape))
    except ValueError:
        raise ShapeError(f"expand: {list(in_shapes[0])} does not broadcast to {shape}") from None
    return {"shape": shape}


def infer_expand(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [broadcast_shapes(tuple(in_shapes[0]), tuple(attrs["shape"]))]


def normalize_tile(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"repeats"}, "tile")
    reps = _int_list(attrs.get("repeats"), "tile 'repeats'", minimum=1)
    if len(reps) != len(in_shapes[0]):
        raise ShapeError(f"tile needs one repeat per axis ({len(in_shapes[0])}), got {reps}")
    return {"repeats": reps}


register_op(OpDef(name="expand", group=OpGroup.DATA, doc="broadcast to a larger shape (a materialized copy)",
                  infer=infer_expand, count=_moves, normalize=normalize_expand, attr_names=frozenset({"shape"})))
register_op(OpDef(name="tile", group=OpGroup.DATA, doc="repeat the tensor along every axis",
                  infer=lambda attrs, in_shapes: [tuple(d * r for d, r in zip(in_shapes[0], attrs["repeats"]))],
                  count=_moves, normalize=normalize_tile, attr_names=frozenset({"repeats"})))
