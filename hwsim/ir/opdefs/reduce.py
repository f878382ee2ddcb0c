"""Reductions over any axes: mean, sum, max, min, the norms (L1, L2, sum of squares) and argmax (group
``pool``: a pooling whose window is whole axes). Counts: one add (or compare) per input element folded
into an output, one divide per output for the mean; the norms add a multiply (square) or compare (abs)
per input element and the L2 norm one square root per output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, register_op
from hwsim.ir.opdefs._attrs import norm_axis, numel, only

Shape = tuple[int, ...]


def normalize_reduce(what: str):
    def normalize(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
        only(attrs, {"axes", "keepdims"}, what)
        rank = len(in_shapes[0])
        raw = attrs.get("axes")
        if raw is None:
            axes = list(range(rank))
        elif isinstance(raw, list) and raw and all(isinstance(a, int) and not isinstance(a, bool) for a in raw):
            axes = sorted({norm_axis(a, rank, what) for a in raw})
        else:
            raise ShapeError(f"{what}: 'axes' must be a non-empty list of ints, got {raw!r}")
        keep = bool(attrs.get("keepdims", True))
        if not keep and len(axes) == rank:
            raise ShapeError(f"{what} over every axis without keepdims gives a scalar; hwsim tensors have rank >= 1")
        return {"axes": axes, "keepdims": keep}
    return normalize


def infer_reduce(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    axes, src = set(attrs["axes"]), in_shapes[0]
    if attrs["keepdims"]:
        return [tuple(1 if i in axes else d for i, d in enumerate(src))]
    return [tuple(d for i, d in enumerate(src) if i not in axes)]


def _count(kind: str, divide: bool):
    def count(c: CountInput) -> OpCounts:
        n_in, n_out = numel(c.in_shapes[0]), numel(c.out_shapes[0])
        arith = {kind: n_in - n_out}
        if divide:
            arith["div"] = n_out
        return OpCounts(arith={k: v for k, v in arith.items() if v})
    return count


def _count_norm(per_element: str | None, per_output: str | None):
    def count(c: CountInput) -> OpCounts:
        n_in, n_out = numel(c.in_shapes[0]), numel(c.out_shapes[0])
        arith = {"add": n_in - n_out}
        if per_element:
            arith[per_element] = arith.get(per_element, 0) + n_in
        if per_output:
            arith[per_output] = arith.get(per_output, 0) + n_out
        return OpCounts(arith={k: v for k, v in arith.items() if v})
    return count


for _name, _elem, _out, _doc in (("reduce_l1", "cmp", None, "sum of absolute values over the given axes"),
                                 ("reduce_l2", "mul", "sqrt", "Euclidean norm over the given axes"),
                                 ("reduce_sum_square", "mul", None, "sum of squares over the given axes")):
    register_op(OpDef(name=_name, group=OpGroup.POOL, doc=_doc + " (keepdims keeps them as size 1)",
                      infer=infer_reduce, count=_count_norm(_elem, _out), normalize=normalize_reduce(_name),
                      attr_names=frozenset({"axes", "keepdims"})))


for _name, _kind, _div, _doc in (("reduce_mean", "add", True, "mean over the given axes"),
                                 ("reduce_sum", "add", False, "sum over the given axes"),
                                 ("reduce_max", "cmp", False, "maximum over the given axes"),
                                 ("reduce_min", "cmp", False, "minimum over the given axes")):
    register_op(OpDef(name=_name, group=OpGroup.POOL, doc=_doc + " (keepdims keeps them as size 1)",
                      infer=infer_reduce, count=_count(_kind, _div), normalize=normalize_reduce(_name),
                      attr_names=frozenset({"axes", "keepdims"})))


def normalize_argmax(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"axis", "keepdims"}, "argmax")
    rank = len(in_shapes[0])
    axis = norm_axis(int(attrs.get("axis", 0)), rank, "argmax")
    keep = bool(attrs.get("keepdims", True))
    if not keep and rank == 1:
        raise ShapeError("argmax of a rank-1 tensor without keepdims gives a scalar; hwsim tensors have rank >= 1")
    return {"axis": axis, "keepdims": keep}


def infer_argmax(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return infer_reduce({"axes": [attrs["axis"]], "keepdims": attrs["keepdims"]}, in_shapes)


register_op(OpDef(name="argmax", group=OpGroup.POOL,
                  doc="index of the first maximum along one axis (held as a float value)",
                  infer=infer_argmax, count=_count("cmp", False), normalize=normalize_argmax,
                  attr_names=frozenset({"axis", "keepdims"})))
