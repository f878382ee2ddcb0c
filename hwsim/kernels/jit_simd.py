"""Explicit 8-lane float32 vectors for numba loops: a ``F32x8`` value type (an LLVM ``<8 x float>``) and
the few operations the register-blocked kernels of ``hwsim.kernels.jit_dense`` need (load, store, zero,
multiply-then-add).

Why: LLVM's loop vectorizer vectorizes a loop over channels only when it stores one output stream;
a kernel that keeps several output pixels' sums in registers (sharing each weight load, and the input
columns neighbouring pixels both read) has several store streams whose relative offsets are unknown at
compile time, and the vectorizer gives up on it. Written with these vectors the loop is what it says.

Numerics: ``madd8(acc, a, b)`` is ``acc + a * b`` with the product rounded, then the sum (no fused
multiply-add, no fast-math flags): lane by lane exactly the float32 operations of the scalar loops.
Imported lazily, by ``jit_dense`` only (it imports numba).
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, models, register_model

LANES = 8
_VEC = ir.VectorType(ir.FloatType(), LANES)


class F32x8Type(types.Type):
    """Eight float32 lanes held in one vector register."""

    def __init__(self) -> None:
        super().__init__(name="F32x8")


f32x8 = F32x8Type()


@register_model(F32x8Type)
class _F32x8Model(models.PrimitiveModel):
    def __init__(self, dmm: Any, fe_type: Any) -> None:
        super().__init__(dmm, fe_type, _VEC)


def _lanes_at(context: Any, builder: Any, arrty: Any, arr: Any, idx: Any) -> Any:
    """Pointer to the 8 floats of a 1-D float32 array starting at flat index ``idx`` (no bounds check:
    the caller's loop bounds keep every lane inside the array)."""
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [idx]), _VEC.as_pointer())


def _check_array(arr: Any) -> None:
    if not (isinstance(arr, types.Array) and arr.dtype == types.float32 and arr.ndim == 1):
        raise TypeError(f"expected a 1-D float32 array, got {arr}")


@intrinsic
def load8(typingctx: Any, arr: Any, idx: Any) -> Any:
    """The 8 floats ``arr[idx : idx + 8]``."""
    _check_array(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.load(_lanes_at(context, builder, sig.args[0], args[0], args[1]), align=4)

    return f32x8(arr, idx), codegen


@intrinsic
def store8(typingctx: Any, arr: Any, idx: Any, value: Any) -> Any:
    """``arr[idx : idx + 8] = value``."""
    _check_array(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        builder.store(args[2], _lanes_at(context, builder, sig.args[0], args[0], args[1]), align=4)
        return context.get_dummy_value()

    return types.none(arr, idx, value), codegen


@intrinsic
def zeros8(typingctx: Any) -> Any:
    """Eight +0.0 lanes."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return ir.Constant(_VEC, [0.0] * LANES)

    return f32x8(), codegen


@intrinsic
def madd8(typingctx: Any, acc: Any, a: Any, b: Any) -> Any:
    """``acc + a * b`` lane by lane: the product rounded to float32, then the sum (no FMA)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fadd(args[0], builder.fmul(args[1], args[2]))

    return f32x8(acc, a, b), codegen
