"""linear (y = x W^T + b over the last axis, weight [out, in]) and matmul (batched, broadcasting)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, ParamSlot, register_op
from hwsim.ir.opdefs._attrs import broadcast_shapes, numel, only, positive

Shape = tuple[int, ...]


def normalize_linear(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"out_features", "in_features", "bias"}, "linear")
    if len(in_shapes[0]) < 1:
        raise ShapeError("linear needs an input of rank >= 1")
    if "out_features" not in attrs:
        raise ShapeError("linear needs attribute 'out_features'")
    in_f = in_shapes[0][-1]
    if "in_features" in attrs and attrs["in_features"] != in_f:
        raise ShapeError(f"linear declares in_features={attrs['in_features']} but its input's last axis is {in_f}")
    return {"out_features": positive(attrs["out_features"], "linear out_features"), "bias": bool(attrs.get("bias", True))}


def infer_linear(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(in_shapes[0][:-1]) + (attrs["out_features"],)]


def linear_params(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {"weight": (attrs["out_features"], in_shapes[0][-1])}
    if attrs.get("bias"):
        shapes["bias"] = (attrs["out_features"],)
    return shapes


def count_linear(c: CountInput) -> OpCounts:
    out = numel(c.out_shapes[0])
    macs = out * c.in_shapes[0][-1]
    return OpCounts(macs=macs, arith={"add": out} if c.attrs.get("bias") else {})


def normalize_matmul(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, set(), "matmul")
    a, b = in_shapes
    if len(a) < 2 or len(b) < 2:
        raise ShapeError(f"matmul needs rank >= 2 operands, got {list(a)} and {list(b)}")
    if a[-1] != b[-2]:
        raise ShapeError(f"matmul inner dimensions differ: {list(a)} x {list(b)}")
    try:
        broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        raise ShapeError(f"matmul batch dimensions do not broadcast: {list(a)} x {list(b)}") from None
    return {}


def infer_matmul(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    a, b = in_shapes
    batch = broadcast_shapes(a[:-2], b[:-2])
    return [batch + (a[-2], b[-1])]


def count_matmul(c: CountInput) -> OpCounts:
    return OpCounts(macs=numel(c.out_shapes[0]) * c.in_shapes[0][-1])


register_op(OpDef(
    name="linear", group=OpGroup.DENSE,
    doc="fully connected / gemm over the last axis: y = x W^T + b, weight [out, in]",
    infer=infer_linear, count=count_linear, normalize=normalize_linear,
    params=(ParamSlot("weight", "kaiming_normal"), ParamSlot("bias", "zeros", optional_attr="bias")),
    param_shapes=linear_params, attr_names=frozenset({"out_features", "in_features", "bias"}),
))
register_op(OpDef(
    name="matmul", group=OpGroup.MATMUL,
    doc="batched matrix product of two activations with broadcasting batch axes (attention)",
    infer=infer_matmul, count=count_matmul, normalize=normalize_matmul, arity=(2, 2),
))
