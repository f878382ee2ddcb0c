"""Kernels of the elementwise arithmetic, unary math, reductions, constants and indexing ops.

For these ops the NumPy expression of the reference definition (``hwsim.kernels.reference``) is already
the vectorized kernel, so each kernel runs that definition and is exact against it by construction.
What differs from the reference is batch handling: ``expand`` and ``slice`` bake shapes into their
attributes, and map a leading dimension equal to the declared batch to the batch actually run.
"""

from __future__ import annotations

import numpy as np

from hwsim.errors import VerificationError
from hwsim.kernels.reference import BINARY, REDUCTIONS, UNARY, slice_index
from hwsim.kernels.reference import REFERENCE
from hwsim.kernels.registry import KernelCall, register_kernel


def _by_reference(op: str, doc: str) -> None:
    ref = REFERENCE.get(op)

    def kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
        params = {slot: np.asarray(v) for slot, v in call.weights.items()}
        return tuple(ref(call.attrs, list(call.inputs), params))

    kernel.__doc__ = doc
    register_kernel(op, "dense", "exact")(kernel)


for _op in BINARY:
    _by_reference(_op, f"{_op}, elementwise with broadcasting (NumPy).")
for _op in UNARY:
    _by_reference(_op, f"{_op}, elementwise (NumPy).")
for _op in REDUCTIONS:
    _by_reference(_op, f"{_op} over the given axes (NumPy, pairwise summation for sums).")
_by_reference("where", "Select b where the condition is non-zero, else c (broadcasting).")
_by_reference("argmax", "Index of the first maximum along one axis, as a float value.")
_by_reference("gather", "Take constant indices along one axis.")
_by_reference("tile", "Repeat along every axis.")


@register_kernel("constant", "dense", "exact")
def k_constant(call: KernelCall) -> tuple[np.ndarray, ...]:
    """The stored value (as float32 activations are)."""
    return (np.asarray(call.weight("value"), dtype=np.float32),)


@register_kernel("embedding", "dense", "exact")
def k_embedding(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Row gather of the table by integer token ids (held as float values); an id outside the table is an
    error, never a wrapped index."""
    ids = np.asarray(call.inputs[0])
    table = np.asarray(call.weight("weight"))
    rows = ids.astype(np.int64)
    if ids.size and (np.any(rows != ids) or rows.min() < 0 or rows.max() >= table.shape[0]):
        raise VerificationError(f"embedding ids must be integers in [0, {table.shape[0]}); got values in "
                                f"[{ids.min()}, {ids.max()}]", where=f"node {call.node.name!r}")
    return (table[rows],)


@register_kernel("slice", "dense", "exact")
def k_slice(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Strided sub-range of every axis (a copy)."""
    x = call.inputs[0]
    return (np.ascontiguousarray(x[slice_index(call.attrs, x.shape, call.in_specs[0].shape)]),)


@register_kernel("expand", "dense", "exact")
def k_expand(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Broadcast to the target shape (materialized); a leading target dimension equal to the declared
    batch follows the batch actually run."""
    x = call.inputs[0]
    target = list(call.attrs["shape"])
    declared = call.in_specs[0].shape
    if x.shape[0] != declared[0] and len(target) == x.ndim and target[0] == declared[0]:
        target[0] = x.shape[0]
    try:
        shape = np.broadcast_shapes(x.shape, tuple(target))
    except ValueError:
        raise VerificationError(f"expand of {list(x.shape)} to {target} does not broadcast",
                                where=f"node {call.node.name!r}") from None
    return (np.ascontiguousarray(np.broadcast_to(x, shape)),)
