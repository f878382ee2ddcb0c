"""KERNELS[(op kind, form)]: the NumPy kernel that runs one op kind on one storage form of its weight.

A *form* is how the op's main weight is stored (``dense``, ``csr``, ``csc``, ``bitmap``, ``codebook``,
``int`` for integer codes with scales, ``binary``, ``ternary``, ...) or, for a dense conv2d, the
algorithm that computes it (``direct``, ``im2col``, ``winograd_f2x2_3x3``, ``winograd_f4x4_3x3``,
``fft``). Ops without weights have the single form ``dense``. A kernel executes the stored data of its
form: a CSR kernel multiplies the CSR arrays, an XNOR kernel pops bits of packed words; nothing decodes
to a dense copy first.

Each kernel declares how it relates to its dense *reference* (``hwsim.kernels.reference``, the plain
definition of the op): ``exact`` kernels must agree bit for bit on the same decoded operands (integer,
binary, ternary, sparse and lossless paths accumulate in the reference's order or in exact integer
arithmetic); ``tolerance`` kernels (BLAS GEMM, Winograd, FFT) reassociate sums and state a bound.
``UNSUPPORTED`` records (op, form) pairs that have no kernel, with the reason, so that nothing is
silently run on the wrong arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hwsim.ir.graph import Node
from hwsim.ir.tensor import TensorSpec
from hwsim.registry import Registry

Exactness = Literal["exact", "tolerance"]


@dataclass(frozen=True)
class KernelCall:
    """Everything a kernel sees: the node (normalized attrs), its input arrays, its stored weights
    (slot -> array or encoded payload, exactly as the graph stores them) with their specs, and the
    declared specs of its inputs and outputs (the executor may run a different batch size)."""

    node: Node
    inputs: tuple[np.ndarray, ...]
    weights: Mapping[str, Any]
    weight_specs: Mapping[str, TensorSpec]
    in_specs: tuple[TensorSpec, ...]
    out_specs: tuple[TensorSpec, ...]

    @property
    def attrs(self) -> Mapping[str, Any]:
        return self.node.attrs

    def weight(self, slot: str) -> Any:
        return self.weights.get(slot)

    def with_weights(self, weights: Mapping[str, Any]) -> "KernelCall":
        return KernelCall(self.node, self.inputs, {**self.weights, **weights}, self.weight_specs,
                          self.in_specs, self.out_specs)

    def with_inputs(self, inputs: tuple[np.ndarray, ...]) -> "KernelCall":
        return KernelCall(self.node, inputs, self.weights, self.weight_specs, self.in_specs, self.out_specs)


KernelFn = Callable[[KernelCall], tuple[np.ndarray, ...]]


@dataclass(frozen=True)
class KernelDef:
    """A registered kernel.

    ``reference`` computes the same op on the *decoded* operands with the plain reference definition
    (None: the generic dense reference of ``hwsim.kernels.reference`` on ``dense_weight`` values).
    ``rtol`` bounds ``max|kernel - reference| / max|reference|`` for tolerance kernels."""

    op: str
    form: str
    fn: KernelFn
    exactness: Exactness
    doc: str
    rtol: float | None = None
    reference: KernelFn | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    exact_if: Callable[[KernelCall], bool] | None = None  # a tolerance kernel that is exact for some calls

    def is_exact(self, call: KernelCall) -> bool:
        """Whether this call must match its reference bit for bit."""
        return self.exactness == "exact" or (self.exact_if is not None and self.exact_if(call))

    def __call__(self, call: KernelCall) -> tuple[np.ndarray, ...]:
        return self.fn(call)


KERNELS: Registry[tuple[str, str], KernelDef] = Registry("kernel")
UNSUPPORTED: Registry[tuple[str, str], str] = Registry("unsupported kernel")


def register_kernel(op: str, form: str, exactness: Exactness, rtol: float | None = None,
                    reference: KernelFn | None = None, tags: tuple[str, ...] = (),
                    exact_if: Callable[[KernelCall], bool] | None = None) -> Callable[[KernelFn], KernelFn]:
    """Decorator: register ``fn`` as the kernel of ``(op, form)``; its docstring documents it."""
    if exactness == "tolerance" and rtol is None:
        raise ValueError(f"kernel ({op}, {form}): a tolerance kernel must state rtol")

    def wrap(fn: KernelFn) -> KernelFn:
        KERNELS.register((op, form), KernelDef(op, form, fn, exactness, (fn.__doc__ or "").strip(), rtol,
                                               reference, frozenset(tags), exact_if))
        return fn

    return wrap


def register_unsupported(op: str, form: str, reason: str) -> None:
    UNSUPPORTED.register((op, form), reason)


def forms_of(op: str) -> list[str]:
    """Every form with a kernel for ``op``."""
    return sorted(f for (o, f) in KERNELS.keys() if o == op)
