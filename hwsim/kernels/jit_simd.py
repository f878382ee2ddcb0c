"""Explicit float32 vectors for numba loops: ``F32x8`` and ``F32x16`` value types (LLVM ``<8 x float>`` and
``<16 x float>``) and the few operations the register-blocked kernels need: load, store, zero, fused
multiply-add (``jit_dense``'s depthwise loops), broadcast, masked store and the epilogue stages
(``jit_gemm``'s packed GEMM).

Why: LLVM's loop vectorizer vectorizes a loop over channels only when it stores one output stream;
a kernel that keeps several output pixels' sums in registers (sharing each weight load, and the input
columns neighbouring pixels both read) has several store streams whose relative offsets are unknown at
compile time, and the vectorizer gives up on it. Written with these vectors the loop is what it says.

Numerics: ``fma8`` / ``fma16`` / ``fma32`` round once (``llvm.fma``, no fast-math flags): lane by lane the
same value as a scalar fused multiply-add. On a CPU with AVX-512 a 16-lane value is one zmm register;
elsewhere LLVM splits it into 8- or 4-lane halves (same results).
Imported lazily, by ``jit_dense`` and ``jit_gemm`` only (it imports numba).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, models, register_model


@dataclass(frozen=True)
class _Vector:
    """One vector width: its numba type and its LLVM type."""

    lanes: int
    numba_type: Any
    llvm_type: Any


def _vector(lanes: int) -> _Vector:
    """Define the numba value type of ``lanes`` float32 lanes held in one LLVM vector."""
    llvm_type = ir.VectorType(ir.FloatType(), lanes)
    type_class = type(f"F32x{lanes}Type", (types.Type,), {
        "__doc__": f"{lanes} float32 lanes held in one vector value.",
        "__init__": lambda self: types.Type.__init__(self, name=f"F32x{lanes}")})

    class _Model(models.PrimitiveModel):
        def __init__(self, dmm: Any, fe_type: Any) -> None:
            super().__init__(dmm, fe_type, llvm_type)

    register_model(type_class)(_Model)
    return _Vector(lanes, type_class(), llvm_type)


_V8, _V16 = _vector(8), _vector(16)
f32x8, f32x16 = _V8.numba_type, _V16.numba_type


def _check_array(arr: Any) -> None:
    if not (isinstance(arr, types.Array) and arr.dtype == types.float32 and arr.ndim == 1):
        raise TypeError(f"expected a 1-D float32 array, got {arr}")


def _lanes_at(vec: _Vector, context: Any, builder: Any, arrty: Any, arr: Any, idx: Any) -> Any:
    """Pointer to the ``vec.lanes`` floats of a 1-D float32 array starting at flat index ``idx`` (no bounds
    check: the caller's loop bounds keep every lane inside the array)."""
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [idx]), vec.llvm_type.as_pointer())


def _named(name: str, doc: str, typer: Any) -> Any:
    """``typer`` as the numba intrinsic ``name`` (each width's intrinsic keeps its own name)."""
    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


def _call_fma(builder: Any, llvm_type: Any, suffix: str, a: Any, b: Any, acc: Any) -> Any:
    """``a * b + acc`` rounded once (``llvm.fma.<suffix>``)."""
    name = f"llvm.fma.{suffix}"
    fn = builder.module.globals.get(name) or ir.Function(builder.module, ir.FunctionType(llvm_type, [llvm_type] * 3),
                                                          name)
    return builder.call(fn, [a, b, acc])


def _load(vec: _Vector) -> Any:
    def typer(typingctx: Any, arr: Any, idx: Any) -> Any:
        _check_array(arr)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return builder.load(_lanes_at(vec, context, builder, sig.args[0], args[0], args[1]), align=4)

        return vec.numba_type(arr, idx), codegen

    return _named(f"load{vec.lanes}", f"The {vec.lanes} floats ``arr[idx : idx + {vec.lanes}]``.", typer)


def _store(vec: _Vector) -> Any:
    def typer(typingctx: Any, arr: Any, idx: Any, value: Any) -> Any:
        _check_array(arr)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            builder.store(args[2], _lanes_at(vec, context, builder, sig.args[0], args[0], args[1]), align=4)
            return context.get_dummy_value()

        return types.none(arr, idx, value), codegen

    return _named(f"store{vec.lanes}", f"``arr[idx : idx + {vec.lanes}] = value``.", typer)


def _zeros(vec: _Vector) -> Any:
    def typer(typingctx: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return ir.Constant(vec.llvm_type, [0.0] * vec.lanes)

        return vec.numba_type(), codegen

    return _named(f"zeros{vec.lanes}", f"{vec.lanes} +0.0 lanes.", typer)


def _fma(vec: _Vector) -> Any:
    def typer(typingctx: Any, acc: Any, a: Any, b: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return _call_fma(builder, vec.llvm_type, f"v{vec.lanes}f32", args[1], args[2], args[0])

        return vec.numba_type(acc, a, b), codegen

    return _named(f"fma{vec.lanes}", f"``acc + a * b`` on {vec.lanes} lanes, rounded once (fused multiply-add).",
                  typer)


load8, store8, zeros8, fma8 = _load(_V8), _store(_V8), _zeros(_V8), _fma(_V8)
load16, store16, zeros16, fma16 = _load(_V16), _store(_V16), _zeros(_V16), _fma(_V16)

LANES16 = _V16.lanes
_VEC16 = _V16.llvm_type


@intrinsic
def fma32(typingctx: Any, a: Any, b: Any, acc: Any) -> Any:
    """``a * b + acc`` for float32 scalars, rounded once (LLVM vectorizes it in a loop)."""
    if not (a == b == acc == types.float32):
        raise TypeError(f"expected three float32 values, got {a}, {b}, {acc}")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return _call_fma(builder, ir.FloatType(), "f32", args[0], args[1], args[2])

    return types.float32(a, b, acc), codegen


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
        ptr = _lanes_at(_V16, context, builder, sig.args[0], args[0], args[1])
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
