"""The closed op taxonomy: every op kind hwsim knows, its group, parameter slots, shape rule and counts.

An ``OpDef`` is the single definition of an op kind for the IR: how its attributes are normalized,
what shapes it produces, which weight tensors (slots) it owns, and exactly how much arithmetic of each
kind it performs. Kernels (``hwsim.kernels``) and cost models (``hwsim.cost``) key their own
registries by the same names. The definitions themselves live in ``hwsim.ir.opdefs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hwsim.registry import Registry

Shape = tuple[int, ...]


class OpGroup(str, Enum):
    """Families that passes and cost models match on (tinygrad-style op groups)."""

    CONV = "conv"  # conv2d and its rewritten forms: weights, sliding windows
    DENSE = "dense"  # linear / gemm with a weight matrix
    MATMUL = "matmul"  # activation x activation products (attention)
    STRUCTURED = "structured"  # FFT / Walsh-Hadamard structured-matrix layers
    NORM = "norm"  # batchnorm, layernorm
    ACTIVATION = "activation"  # pointwise nonlinearities and softmax
    POOL = "pool"  # max / average / global pooling and reductions over any axes (mean, sum, max, argmax)
    ELEMENTWISE = "elementwise"  # binary ops with broadcasting: add, sub, mul, div, min, max, pow, compare, where
    DATA = "data"  # data movement: concat, split, transpose, pad, shuffle, resize, gather, slice, expand
    VIEW = "view"  # free reinterpretations: reshape, flatten, identity, dropout, constant
    CONTROL = "control"  # early-exit decisions and other graph control


#: Groups whose ops carry the multiply-accumulates of a network (what MAC tables count).
MAC_GROUPS = frozenset({OpGroup.CONV, OpGroup.DENSE, OpGroup.MATMUL, OpGroup.STRUCTURED})


@dataclass(frozen=True)
class ParamSlot:
    """A weight tensor an op owns. ``init`` names the generator used when no array is given."""

    name: str
    init: str  # kaiming_normal | zeros | ones | uniform_fan_in | normal_small
    trainable: bool = True
    optional_attr: str | None = None  # the slot exists only if attrs[optional_attr] is truthy


@dataclass(frozen=True)
class OpCounts:
    """Arithmetic of one op. ``macs`` are the multiply-accumulates of its main product;
    ``arith`` counts every other operation by kind (add, mul, cmp, exp, div, sqrt, move, ...)."""

    macs: int = 0
    arith: Mapping[str, int] = field(default_factory=dict)

    def total_ops(self) -> int:
        return 2 * self.macs + sum(v for k, v in self.arith.items() if k != "move")


@dataclass(frozen=True)
class CountInput:
    """What a counting rule sees: normalized attrs, input and output shapes, parameter shapes."""

    attrs: Mapping[str, Any]
    in_shapes: Sequence[Shape]
    out_shapes: Sequence[Shape]
    param_shapes: Mapping[str, Shape]


NormalizeFn = Callable[[dict[str, Any], Sequence[Shape]], dict[str, Any]]
InferFn = Callable[[Mapping[str, Any], Sequence[Shape]], list[Shape]]
ParamShapesFn = Callable[[Mapping[str, Any], Sequence[Shape]], dict[str, Shape]]
CountFn = Callable[[CountInput], OpCounts]
#: share of its parameter bytes one run of the op reads (a lookup reads only the rows it gathers)
ReadShareFn = Callable[[Mapping[str, Any], Sequence[Shape]], float]


def _no_params(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Shape]:
    return {}


def _keep(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    return attrs


@dataclass(frozen=True)
class OpDef:
    """Definition of one op kind. ``arity`` is (min, max) activation inputs; max None = variadic."""

    name: str
    group: OpGroup
    doc: str
    infer: InferFn
    count: CountFn
    arity: tuple[int, int | None] = (1, 1)
    params: tuple[ParamSlot, ...] = ()
    param_shapes: ParamShapesFn = _no_params
    normalize: NormalizeFn = _keep
    attr_names: frozenset[str] = frozenset()
    #: outputs get this dtype (e.g. "fp32" for an embedding lookup fed integer token ids); None: the
    #: dtype of the first activation input
    output_dtype: str | None = None
    #: elements of the main weight one run reads (an embedding lookup reads only the gathered rows);
    #: None: all of it
    weight_read: Callable[[CountInput], int] | None = None

    def active_slots(self, attrs: Mapping[str, Any]) -> tuple[ParamSlot, ...]:
        return tuple(s for s in self.params if s.optional_attr is None or attrs.get(s.optional_attr))

    def slot(self, name: str) -> ParamSlot:
        for s in self.params:
            if s.name == name:
                return s
        raise KeyError(name)


OPS: Registry[str, OpDef] = Registry("op")


def register_op(op: OpDef) -> OpDef:
    return OPS.register(op.name, op)


def op_def(name: str) -> OpDef:
    _ensure_loaded()
    return OPS.get(name)


def all_ops() -> list[OpDef]:
    _ensure_loaded()
    return [v for _, v in OPS.items()]


_loaded = False


def _ensure_loaded() -> None:
    """Import the op definition modules once (they register themselves)."""
    global _loaded
    if not _loaded:
        _loaded = True
        import hwsim.ir.opdefs  # noqa: F401
