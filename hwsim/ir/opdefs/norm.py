"""batchnorm (inference: per-channel scale and shift, axis 1) and layernorm (over the last axis)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, ParamSlot, register_op
from hwsim.ir.opdefs._attrs import numel, only

Shape = tuple[int, ...]


def _same(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(in_shapes[0])]


def normalize_bn(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"eps", "num_features"}, "batchnorm")
    if len(in_shapes[0]) < 2:
        raise ShapeError(f"batchnorm needs rank >= 2 input (N, C, ...), got {list(in_shapes[0])}")
    c = in_shapes[0][1]
    if "num_features" in attrs and attrs["num_features"] != c:
        raise ShapeError(f"batchnorm declares num_features={attrs['num_features']} but its input has {c} channels")
    return {"eps": float(attrs.get("eps", 1e-5))}


def bn_params(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Shape]:
    c = (in_shapes[0][1],)
    return {"gamma": c, "beta": c, "mean": c, "var": c}


def count_bn(c: CountInput) -> OpCounts:
    n = numel(c.out_shapes[0])
    return OpCounts(arith={"mul": n, "add": n})  # folded y = x * s + t per element


def normalize_ln(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"eps", "normalized_size"}, "layernorm")
    d = in_shapes[0][-1]
    if "normalized_size" in attrs and attrs["normalized_size"] != d:
        raise ShapeError(f"layernorm declares normalized_size={attrs['normalized_size']} but the last axis is {d}")
    return {"eps": float(attrs.get("eps", 1e-5))}


def ln_params(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Shape]:
    d = (in_shapes[0][-1],)
    return {"gamma": d, "beta": d}


def count_ln(c: CountInput) -> OpCounts:
    n = numel(c.out_shapes[0])
    rows = n // c.out_shapes[0][-1]
    # mean (add), centre (add), square (mul), variance sum (add), normalize (mul), affine (mul, add)
    return OpCounts(arith={"add": 4 * n, "mul": 3 * n, "div": 2 * rows, "sqrt": rows})


register_op(OpDef(
    name="batchnorm", group=OpGroup.NORM, doc="inference batch normalization over axis 1 (running stats)",
    infer=_same, count=count_bn, normalize=normalize_bn, param_shapes=bn_params,
    params=(ParamSlot("gamma", "ones"), ParamSlot("beta", "zeros"),
            ParamSlot("mean", "zeros", trainable=False), ParamSlot("var", "ones", trainable=False)),
    attr_names=frozenset({"eps", "num_features"}),
))
register_op(OpDef(
    name="layernorm", group=OpGroup.NORM, doc="layer normalization over the last axis with affine gamma/beta",
    infer=_same, count=count_ln, normalize=normalize_ln, param_shapes=ln_params,
    params=(ParamSlot("gamma", "ones"), ParamSlot("beta", "zeros")),
    attr_names=frozenset({"eps", "normalized_size"}),
))
