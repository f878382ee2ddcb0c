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


# --- 16 lanes, fused multiply-add (the packed GEMM of ``hwsim.kernels.jit_gemm``) -------------------
#
# ``fma16`` rounds once (``llvm.fma``): a GEMM sums in an order of its own anyway (BLAS does too), and is
# held to a tolerance, not to bits. On a CPU with AVX-512 each value is one zmm register (one
# instruction per operation); elsewhere LLVM splits it into two 8-lane (or four 4-lane) halves.

LANES16 = 16
_VEC16 = ir.VectorType(ir.FloatType(), LANES16)


class F32x16Type(types.Type):
    """Sixteen float32 lanes (one AVX-512 register)."""

    def __init__(self) -> None:
        super().__init__(name="F32x16")


f32x16 = F32x16Type()


@register_model(F32x16Type)
class _F32x16Model(models.PrimitiveModel):
    def __init__(self, dmm: Any, fe_type: Any) -> None:
        super().__init__(dmm, fe_type, _VEC16)


def _lanes16_at(context: Any, builder: Any, arrty: Any, arr: Any, idx: Any) -> Any:
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [idx]), _VEC16.as_pointer())


@intrinsic
def load16(typingctx: Any, arr: Any, idx: Any) -> Any:
    """The 16 floats ``arr[idx : idx + 16]`` (no bounds check)."""
    _check_array(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.load(_lanes16_at(context, builder, sig.args[0], args[0], args[1]), align=4)

    return f32x16(arr, idx), codegen


@intrinsic
def store16(typingctx: Any, arr: Any, idx: Any, value: Any) -> Any:
    """``arr[idx : idx + 16] = value`` (no bounds check)."""
    _check_array(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        builder.store(args[2], _lanes16_at(context, builder, sig.args[0], args[0], args[1]), align=4)
        return context.get_dummy_value()

    return types.none(arr, idx, value), codegen


@intrinsic
def zeros16(typingctx: Any) -> Any:
    """Sixteen +0.0 lanes."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return ir.Constant(_VEC16, [0.0] * LANES16)

    return f32x16(), codegen


@intrinsic
def splat16(typingctx: Any, value: Any) -> Any:
    """One float32 in all 16 lanes."""
    if value != types.float32:
        raise TypeError(f"expected a float32, got {value}")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        one = builder.insert_element(ir.Constant(_VEC16, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(one, one, ir.Constant(ir.VectorType(ir.IntType(32), LANES16), [0] * LANES16))

    return f32x16(value), codegen


@intrinsic
def fma16(typingctx: Any, acc: Any, a: Any, b: Any) -> Any:
    """``acc + a * b`` lane by lane, rounded once (fused multiply-add)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        module = builder.module
        fn = module.globals.get("llvm.fma.v16f32")
        if fn is None:
            fn = ir.Function(module, ir.FunctionType(_VEC16, [_VEC16] * 3), "llvm.fma.v16f32")
        return builder.call(fn, [args[1], args[2], args[0]])

    return f32x16(acc, a, b), codegen


@intrinsic
def store16_first(typingctx: Any, arr: Any, idx: Any, value: Any, count: Any) -> Any:
    """``arr[idx : idx + count] = value[:count]`` (0 <= count <= 16): a masked store, touching nothing
    past the ``count`` floats (no bounds check)."""
    _check_array(arr)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        i32 = ir.IntType(32)
        lanes = ir.Constant(ir.VectorType(i32, LANES16), list(range(LANES16)))
        n = builder.trunc(args[3], i32) if args[3].type.width > 32 else args[3]
        limit = builder.shuffle_vector(builder.insert_element(ir.Constant(ir.VectorType(i32, LANES16), ir.Undefined),
                                                              n, ir.Constant(i32, 0)),
                                       ir.Constant(ir.VectorType(i32, LANES16), ir.Undefined),
                                       ir.Constant(ir.VectorType(i32, LANES16), [0] * LANES16))
        mask = builder.icmp_unsigned("<", lanes, limit)
        ptr = _lanes16_at(context, builder, sig.args[0], args[0], args[1])
        module = builder.module
        name = f"llvm.masked.store.v16f32.{_pointer_suffix(ptr.type)}"
        fn = module.globals.get(name)
        if fn is None:
            fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [_VEC16, ptr.type, i32, mask.type]), name)
        builder.call(fn, [args[2], ptr, ir.Constant(i32, 4), mask])
        return context.get_dummy_value()

    return types.none(arr, idx, value, count), codegen


def _pointer_suffix(ptr_type: Any) -> str:
    """The overload suffix LLVM gives a pointer argument: "p0" with opaque pointers, "p0v16f32" with typed."""
    return "p0" if getattr(ptr_type, "is_opaque", False) else "p0v16f32"


def _fma_function(builder: Any, vec: Any, name: str) -> Any:
    module = builder.module
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(vec, [vec] * 3), name)
    return fn


@intrinsic
def fma8(typingctx: Any, acc: Any, a: Any, b: Any) -> Any:
    """``acc + a * b`` on 8 lanes, rounded once (fused multiply-add)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.call(_fma_function(builder, _VEC, "llvm.fma.v8f32"), [args[1], args[2], args[0]])

    return f32x8(acc, a, b), codegen


@intrinsic
def fma32(typingctx: Any, a: Any, b: Any, acc: Any) -> Any:
    """``a * b + acc`` for float32 scalars, rounded once (LLVM vectorizes it in a loop)."""
    if not (a == b == acc == types.float32):
        raise TypeError(f"expected three float32 values, got {a}, {b}, {acc}")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.call(_fma_function(builder, ir.FloatType(), "llvm.fma.f32"), [args[0], args[1], args[2]])

    return types.float32(a, b, acc), codegen


# --- 16-lane epilogue stages (the packed GEMM applies bias / scale / ReLU / ReLU6 to its sums in registers):
# the same float32 operation per lane as ``jit_dense._epilogue_at``'s scalar loops, so the same bits.

@intrinsic
def add16(typingctx: Any, a: Any, b: Any) -> Any:
    """``a + b`` lane by lane."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fadd(args[0], args[1])

    return f32x16(a, b), codegen


@intrinsic
def mul16(typingctx: Any, a: Any, b: Any) -> Any:
    """``a * b`` lane by lane."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fmul(args[0], args[1])

    return f32x16(a, b), codegen


def _below(builder: Any, value: Any, bound: float) -> Any:
    return builder.fcmp_ordered("<", value, ir.Constant(_VEC16, [bound] * LANES16))


@intrinsic
def relu16(typingctx: Any, a: Any) -> Any:
    """``0 if a < 0 else a`` lane by lane (np.maximum(a, 0): NaN and -0.0 pass through)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.select(_below(builder, args[0], 0.0), ir.Constant(_VEC16, [0.0] * LANES16), args[0])

    return f32x16(a), codegen


@intrinsic
def relu6_16(typingctx: Any, a: Any) -> Any:
    """``relu16`` then ``6 if a > 6 else a`` lane by lane (np.clip(a, 0, 6))."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        six = ir.Constant(_VEC16, [6.0] * LANES16)
        low = builder.select(_below(builder, args[0], 0.0), ir.Constant(_VEC16, [0.0] * LANES16), args[0])
        return builder.select(builder.fcmp_ordered(">", low, six), six, low)

    return f32x16(a), codegen
