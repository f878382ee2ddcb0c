"""Pointwise activations and softmax. Counts follow each op's defining formula, by operation kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, register_op
from hwsim.ir.opdefs._attrs import norm_axis, numel, only

Shape = tuple[int, ...]


def _same(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(in_shapes[0])]


def _per_element(**ops_per_element: int) -> Callable[[CountInput], OpCounts]:
    def count(c: CountInput) -> OpCounts:
        n = numel(c.out_shapes[0])
        return OpCounts(arith={k: v * n for k, v in ops_per_element.items()})

    return count


def _attrs(allowed: dict[str, Any], what: str) -> Callable[[dict[str, Any], Sequence[Shape]], dict[str, Any]]:
    def normalize(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
        only(attrs, set(allowed), what)
        return {k: type(v)(attrs.get(k, v)) for k, v in allowed.items()}

    return normalize


#: name -> (doc, attributes with defaults, operations per element)
_POINTWISE: dict[str, tuple[str, dict[str, Any], dict[str, int]]] = {
    "relu": ("max(x, 0)", {}, {"cmp": 1}),
    "relu6": ("min(max(x, 0), 6)", {}, {"cmp": 2}),
    "leaky_relu": ("x if x > 0 else alpha * x", {"alpha": 0.01}, {"cmp": 1, "mul": 1}),
    "sigmoid": ("1 / (1 + exp(-x))", {}, {"exp": 1, "add": 1, "div": 1}),
    "tanh": ("(e^2x - 1) / (e^2x + 1)", {}, {"exp": 1, "add": 2, "div": 1}),
    "gelu": ("x * 0.5 * (1 + erf(x / sqrt 2))", {}, {"erf": 1, "mul": 3, "add": 1}),
    "silu": ("x * sigmoid(x)", {}, {"exp": 1, "add": 1, "div": 1, "mul": 1}),
    "hardswish": ("x * relu6(x + 3) / 6", {}, {"add": 1, "cmp": 2, "mul": 2}),
    "sign": ("+1 if x >= 0 else -1 (binarized activation, BNN / XNOR-Net)", {}, {"cmp": 1}),
}

for _name, (_doc, _defaults, _ops) in _POINTWISE.items():
    register_op(OpDef(
        name=_name, group=OpGroup.ACTIVATION, doc=_doc, infer=_same, count=_per_element(**_ops),
        normalize=_attrs(_defaults, _name), attr_names=frozenset(_defaults),
    ))


def normalize_softmax(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"axis"}, "softmax")
    return {"axis": norm_axis(int(attrs.get("axis", -1)), len(in_shapes[0]), "softmax")}


def count_softmax(c: CountInput) -> OpCounts:
    n = numel(c.out_shapes[0])
    return OpCounts(arith={"cmp": n, "add": 2 * n, "exp": n, "div": n})  # max, subtract, exp, sum, divide


register_op(OpDef(
    name="softmax", group=OpGroup.ACTIVATION, doc="softmax along one axis (max-subtracted)",
    infer=_same, count=count_softmax, normalize=normalize_softmax, attr_names=frozenset({"axis"}),
))
