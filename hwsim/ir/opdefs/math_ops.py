"""Elementwise arithmetic beyond add / mul: binary ops with broadcasting (sub, div, min, max, pow,
comparisons, where) and pointwise unary math (sqrt, reciprocal, exp, log, erf, neg, abs, power by a
constant exponent, hardsigmoid, clip, cast).

A constant operand (a bias added outside a layer, attention's 1/sqrt(d) scale, a position embedding)
reaches these ops as the output of a ``constant`` node (``hwsim.ir.opdefs.indexing``), so every binary op
takes activations only. Counts are per output element, by operation kind (the kinds device profiles
give rates for: add, mul, cmp, div, sqrt, exp, erf, move); a logarithm is counted as one ``exp``-kind
transcendental (the same range-reduction-plus-polynomial cost), a general power ``a ** b`` as
``exp(b * log a)``: two transcendentals and a multiply.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, register_op
from hwsim.ir.opdefs._attrs import numel, only
from hwsim.ir.opdefs.tensor_ops import broadcast_normalizer, infer_broadcast


Shape = tuple[int, ...]


def _per_output(**ops_per_element: int) -> Callable[[CountInput], OpCounts]:
    def count(c: CountInput) -> OpCounts:
        n = numel(c.out_shapes[0])
        return OpCounts(arith={k: v * n for k, v in ops_per_element.items() if v})
    return count


def _same(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(in_shapes[0])]


# --- binary, broadcasting --------------------------------------------------------------------------

#: name -> (doc, arity, operations per output element)
_BINARY: dict[str, tuple[str, int, dict[str, int]]] = {
    "sub": ("a - b with broadcasting", 2, {"add": 1}),
    "div": ("a / b with broadcasting", 2, {"div": 1}),
    "min": ("elementwise minimum with broadcasting", 2, {"cmp": 1}),
    "max": ("elementwise maximum with broadcasting", 2, {"cmp": 1}),
    "pow": ("a ** b with broadcasting (exp(b * log a): two transcendentals and a multiply)", 2,
            {"exp": 2, "mul": 1}),
    "equal": ("1.0 where a == b else 0.0 (a mask held as float)", 2, {"cmp": 1}),
    "less": ("1.0 where a < b else 0.0", 2, {"cmp": 1}),
    "greater": ("1.0 where a > b else 0.0", 2, {"cmp": 1}),
    "where": ("b where condition a != 0 else c, all three broadcast (a select)", 3, {"cmp": 1}),
}

for _name, (_doc, _arity, _ops) in _BINARY.items():
    register_op(OpDef(name=_name, group=OpGroup.ELEMENTWISE, doc=_doc, infer=infer_broadcast,
                      count=_per_output(**_ops), normalize=broadcast_normalizer(_name), arity=(_arity, _arity)))


# --- unary -----------------------------------------------------------------------------------------

def _fixed_attrs(defaults: dict[str, Any], what: str) -> Callable[[dict[str, Any], Sequence[Shape]], dict[str, Any]]:
    def normalize(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
        only(attrs, set(defaults), what)
        out = {}
        for k, v in defaults.items():
            value = attrs.get(k, v)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ShapeError(f"{what}: attribute {k!r} must be a number, got {value!r}")
            out[k] = float(value)
        return out
    return normalize


#: name -> (doc, attributes with defaults, operations per element)
_UNARY: dict[str, tuple[str, dict[str, Any], dict[str, int]]] = {
    "sqrt": ("square root", {}, {"sqrt": 1}),
    "reciprocal": ("1 / x", {}, {"div": 1}),
    "exp": ("e ** x", {}, {"exp": 1}),
    "log": ("natural logarithm (counted as one exp-kind transcendental)", {}, {"exp": 1}),
    "erf": ("the error function", {}, {"erf": 1}),
    "neg": ("-x", {}, {"add": 1}),
    "abs": ("|x|", {}, {"cmp": 1}),
    "floor": ("round down to an integer", {}, {"cmp": 1}),
    "hardsigmoid": ("max(0, min(1, alpha * x + beta)) (MobileNetV3: alpha 1/6, beta 0.5)",
                    {"alpha": 0.2, "beta": 0.5}, {"mul": 1, "add": 1, "cmp": 2}),
}

for _name, (_doc, _defaults, _ops) in _UNARY.items():
    register_op(OpDef(name=_name, group=OpGroup.ACTIVATION, doc=_doc, infer=_same, count=_per_output(**_ops),
                      normalize=_fixed_attrs(_defaults, _name), attr_names=frozenset(_defaults)))


def normalize_clip(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"min", "max"}, "clip")
    lo = float(attrs.get("min", -math.inf))
    hi = float(attrs.get("max", math.inf))
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise ShapeError(f"clip needs min <= max, got min={lo}, max={hi}")
    return {"min": lo, "max": hi}


def count_clip(c: CountInput) -> OpCounts:
    n = numel(c.out_shapes[0])
    bounds = int(math.isfinite(c.attrs["min"])) + int(math.isfinite(c.attrs["max"]))
    return OpCounts(arith={"cmp": bounds * n} if bounds else {})


register_op(OpDef(name="clip", group=OpGroup.ACTIVATION, doc="min(max(x, min), max); an infinite bound is no bound",
                  infer=_same, count=count_clip, normalize=normalize_clip, attr_names=frozenset({"min", "max"})))


def normalize_power(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"exponent"}, "power")
    e = attrs.get("exponent")
    if not isinstance(e, (int, float)) or isinstance(e, bool) or not math.isfinite(e):
        raise ShapeError(f"power needs a finite number 'exponent', got {e!r}")
    return {"exponent": float(e)}


def count_power(c: CountInput) -> OpCounts:
    """x ** 2 is a multiply, x ** 0.5 a square root, x ** 1 nothing, any other exponent exp(e log x)."""
    n = numel(c.out_shapes[0])
    e = c.attrs["exponent"]
    if e == 1.0:
        return OpCounts()
    if e == 0.5:
        return OpCounts(arith={"sqrt": n})
    if e.is_integer() and 2 <= e <= 4:
        return OpCounts(arith={"mul": int(e - 1) * n})
    return OpCounts(arith={"exp": 2 * n, "mul": n})


register_op(OpDef(name="power", group=OpGroup.ACTIVATION, doc="x ** exponent for a constant exponent",
                  infer=_same, count=count_power, normalize=normalize_power, attr_names=frozenset({"exponent"})))

#: what ``cast`` may round to: the value set of the target type, held in the tensor's float dtype
CAST_TARGETS = ("float", "int", "bool")


def normalize_cast(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"to"}, "cast")
    to = attrs.get("to", "float")
    if to not in CAST_TARGETS:
        raise ShapeError(f"cast 'to' must be one of {list(CAST_TARGETS)}, got {to!r}")
    return {"to": to}


def count_cast(c: CountInput) -> OpCounts:
    n = numel(c.out_shapes[0])
    return OpCounts(arith={"move": n} if c.attrs["to"] == "float" else {"cmp": n})


register_op(OpDef(name="cast", group=OpGroup.ACTIVATION,
                  doc="convert to float (a copy), or round toward zero (int) / test != 0 (bool), values kept "
                      "in the tensor's float dtype",
                  infer=_same, count=count_cast, normalize=normalize_cast, attr_names=frozenset({"to"})))
