"""Compiled (numba) int8 x int8 -> int32 GEMM on AVX-512 VNNI, with the activation quantization fused
into the patch gathering and the int32 -> float32 conversion fused into the output transpose.

Why not plain numba loops: LLVM vectorizes a single dot-product reduction (u8 x s8 -> ``vpdpwssd`` on
256-bit registers), but not a register-blocked tile, and a reduction per output re-reads both operands
from cache: measured 6-12x *slower* than float32 OpenBLAS at ResNet-18's layer sizes. So the inner
tile is written in LLVM IR (a numba ``@intrinsic``): ``MR`` output positions x ``NR`` = 32 output
channels kept in 12 zmm accumulators, each step one ``vpdpbusd`` (16 lanes x 4 u8*s8 products, added
into int32) per accumulator. That is 64 multiply-adds per instruction, twice what a float32 FMA
does per instruction: where this beats float32 BLAS is here.

Operands (the oneDNN / FBGEMM u8s8 scheme): activation codes q in [lo, hi] (hi - lo <= 255) are stored
as unsigned bytes u = q - lo; the weights are signed bytes. sum_k u_k w_k = sum_k (q_k - z) w_k +
(z - lo) sum_k w_k, so the exact integer dot product of (q - z) and w is the VNNI sum minus
(z - lo) x (row sum of w), all in int32 (the caller checks that no sum can pass 2^31). Zero padding of
a conv is the code z (float 0 quantizes to z), i.e. u = z - lo.

Layouts: activations ``xq [Ppad, Kpad]`` u8 (a row of K bytes per output position, Kpad a multiple of
8, Ppad of MR); weights ``wq [O/32, Kpad/4, 32, 4]`` s8 (zero rows and columns as padding);
result ``acc [Ppad, Opad]`` int32. Only used when the CPU has AVX-512 VNNI (``available()``); callers
keep their float32-BLAS path otherwise.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

#: output positions per register tile
MR = 6
#: output channels per register tile (two zmm of 16 int32 lanes)
NR = 32


def _llvm_major() -> int:
    import llvmlite.binding as llvm

    return int(llvm.llvm_version_info[0])


#: LLVM 22 declares the VNNI operands as <64 x i8>; older releases as <16 x i32> (newer ones still
#: accept that form through their intrinsic auto-upgrade)
_BYTE_OPERANDS = _llvm_major() >= 22


def available() -> bool:
    """True when this CPU (as numba compiles for it) has AVX-512 VNNI."""
    features = numba.config.CPU_FEATURES or ""
    if features:
        return "+avx512vnni" in features.split(",")
    import llvmlite.binding as llvm

    return bool(llvm.get_host_cpu_features().get("avx512vnni", False))


@intrinsic
def _vnni_tile(typingctx, xq, x_off, x_stride, wq, w_off, kq, acc, acc_off, ld):
    """acc[acc_off + r*ld + c] = sum_kk vpdpbusd(x quad (r, kk), w quad (kk, c)), r < MR, c < NR."""
    sig = types.void(xq, x_off, x_stride, wq, w_off, kq, acc, acc_off, ld)

    def codegen(context, builder, signature, args):
        i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
        v16, v64 = ir.VectorType(i32, 16), ir.VectorType(i8, 64)
        ints = [context.cast(builder, args[i], signature.args[i], types.int64) for i in (1, 2, 4, 5, 7, 8)]
        x_off_, x_stride_, w_off_, kq_, acc_off_, ld_ = ints
        x_data = cgutils.create_struct_proxy(signature.args[0])(context, builder, value=args[0]).data
        w_data = cgutils.create_struct_proxy(signature.args[3])(context, builder, value=args[3]).data
        a_data = cgutils.create_struct_proxy(signature.args[6])(context, builder, value=args[6]).data
        operand = v64 if _BYTE_OPERANDS else v16
        dp = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v16, [v16, operand, operand]),
                                            "llvm.x86.avx512.vpdpbusd.512")
        zero = ir.Constant(v16, None)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(2 * MR)]
        splat = ir.Constant(ir.VectorType(i32, 16), [0] * 16)
        with cgutils.for_range(builder, kq_) as loop:
            kk = loop.index
            wbase = builder.add(w_off_, builder.mul(kk, ir.Constant(i64, 4 * NR)))
            wv = [builder.load(builder.bitcast(builder.gep(w_data, [builder.add(wbase, ir.Constant(i64, 64 * h))]),
                                               operand.as_pointer()), align=1) for h in range(2)]
            for r in range(MR):
                xo = builder.add(x_off_, builder.add(builder.mul(ir.Constant(i64, r), x_stride_),
                                                     builder.mul(kk, ir.Constant(i64, 4))))
                quad = builder.load(builder.bitcast(builder.gep(x_data, [xo]), i32.as_pointer()), align=1)
                vec = builder.insert_element(ir.Constant(v16, ir.Undefined), quad, ir.Constant(i32, 0))
                bx = builder.bitcast(builder.shuffle_vector(vec, ir.Constant(v16, ir.Undefined), splat), operand)
                for h in range(2):
                    slot = accs[2 * r + h]
                    builder.store(builder.call(dp, [builder.load(slot), bx, wv[h]]), slot)
        for r in range(MR):
            for h in range(2):
                row = builder.mul(ir.Constant(i64, r), ld_)
                off = builder.add(acc_off_, builder.add(row, ir.Constant(i64, 16 * h)))
                ptr = builder.bitcast(builder.gep(a_data, [off]), v16.as_pointer())
                builder.store(builder.load(accs[2 * r + h]), ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def gemm_u8s8_serial(xq, p_pad, kpad, wq, o_blocks, acc):
    """acc [Ppad, O/32*32] = xq [Ppad, Kpad] (u8) x wq (s8, packed), one thread."""
    kq = kpad // 4
    ld = o_blocks * NR
    for ob in range(o_blocks):
        for p0 in range(0, p_pad, MR):
            _vnni_tile(xq, p0 * kpad, kpad, wq, ob * kq * 4 * NR, kq, acc, p0 * ld + ob * NR, ld)


@njit(cache=True, parallel=True)
def gemm_u8s8_parallel(xq, p_pad, kpad, wq, o_blocks, acc):
    kq = kpad // 4
    ld = o_blocks * NR
    n_p = p_pad // MR
    for t in prange(o_blocks * n_p):
        ob = t // n_p
        p0 = (t % n_p) * MR
        _vnni_tile(xq, p0 * kpad, kpad, wq, ob * kq * 4 * NR, kq, acc, p0 * ld + ob * NR, ld)


#: 1.5 * 2^23: adding and subtracting it rounds a float32 of magnitude < 2^22 to the nearest integer, ties
#: to even (the default rounding mode), as ``np.rint`` does, without a libm call (so the loop vectorizes)
_ROUND = np.float32(12582912.0)
#: |x / s| is clamped here first: any value beyond rounds and clips to the same grid end
_CLAMP = np.float32(2.0**21)


@njit(cache=True, inline="always")
def _code(v, scale, zpf, lof, hif):
    """clip(rint(v / scale) + zp, lo, hi) - lo in float32, as ``actquant.quantize_activation`` computes it."""
    y = v / scale
    y = min(max(y, -_CLAMP), _CLAMP)
    y = ((y + _ROUND) - _ROUND) + zpf
    y = min(max(y, lof), hif)
    return np.uint8(np.int32(y - lof))


@njit(cache=True)
def quantize_u8(x, scale, zp, lo, hi):
    """u8 codes - lo of a float32 array (any shape, C order), element by element."""
    flat = x.reshape(-1)
    out = np.empty(flat.size, np.uint8)
    s, zpf, lof, hif = np.float32(scale), np.float32(zp), np.float32(lo), np.float32(hi)
    for i in range(flat.size):
        out[i] = _code(flat[i], s, zpf, lof, hif)
    return out


@njit(cache=True)
def patches_u8(x, scale, zp, lo, hi, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, kpad, p_pad):
    """Quantized patches of x [N, C, H, W] (float32 on its grid) as u8 rows [Ppad, Kpad], K in
    (tap i, tap j, channel) order; padded taps hold the code of 0 (z - lo); tail columns and rows 0."""
    n_n, c_n, h_n, w_n = x.shape
    out = np.zeros((p_pad, kpad), np.uint8)
    pad_code = np.uint8(zp - lo)
    qc = quantize_u8(x, scale, zp, lo, hi).reshape(n_n, c_n, h_n * w_n)
    q = np.empty((n_n, h_n, w_n, c_n), np.uint8)  # channels last: a tap's K bytes are one run
    q2 = q.reshape(n_n, h_n * w_n, c_n)
    for n in range(n_n):
        for c0 in range(0, c_n, 16):
            for s in range(h_n * w_n):
                for c in range(c0, min(c0 + 16, c_n)):
                    q2[n, s, c] = qc[n, c, s]
    if c_n % 8 == 0:  # whole 8-byte words per tap
        _gather(q.reshape(-1).view(np.uint64), out.reshape(-1).view(np.uint64),
                np.uint64(pad_code) * np.uint64(0x0101010101010101), n_n, h_n, w_n, c_n // 8, kh, kw, sh, sw, dh, dw,
                pt, pl, ho, wo, kpad // 8)
    else:
        _gather(q.reshape(-1), out.reshape(-1), pad_code, n_n, h_n, w_n, c_n, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo,
                kpad)
    return out


@njit(cache=True)
def _gather(q, out, pad_word, n_n, h_n, w_n, cw, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, kw_row):
    """``patches_u8``'s gather on flat arrays of bytes or 8-byte words (cw per pixel, kw_row per row)."""
    for n in range(n_n):
        for oy in range(ho):
            for ox in range(wo):
                dst = ((n * ho + oy) * wo + ox) * kw_row
                for i in range(kh):
                    iy = oy * sh - pt + i * dh
                    for j in range(kw):
                        ix = ox * sw - pl + j * dw
                        if iy < 0 or iy >= h_n or ix < 0 or ix >= w_n:
                            for t in range(cw):
                                out[dst + t] = pad_word
                        else:
                            src = ((n * h_n + iy) * w_n + ix) * cw
                            for t in range(cw):
                                out[dst + t] = q[src + t]
                        dst += cw


@njit(cache=True)
def rows_u8(x, scale, zp, lo, hi, kpad, p_pad):
    """Quantized rows of x [M, K] as u8 [Ppad, Kpad] (zero tail)."""
    m, k = x.shape
    out = np.zeros((p_pad, kpad), np.uint8)
    out[:m, :k] = quantize_u8(x, scale, zp, lo, hi).reshape(m, k)
    return out


@njit(cache=True)
def finish_f32(acc, corr, o_n, p_n):
    """float32 [O, P] of the exact integer sums acc[p, o] - corr[o] (the transpose fused in)."""
    y = np.empty((o_n, p_n), np.float32)
    for p in range(p_n):
        for o in range(o_n):
            y[o, p] = np.float32(acc[p, o] - corr[o])
    return y


def pack_weights(w: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Integer weights [O, K] (values in [-128, 127]) -> (packed s8 [O/32, Kpad/4, 32, 4] flat, o_blocks,
    Kpad, a multiple of 8), zero-padded."""
    o, k = w.shape
    kpad = -(-k // 8) * 8  # whole 8-byte words per row (the patch gather copies words)
    o_blocks = -(-o // NR)
    packed = np.zeros((o_blocks, kpad // 4, NR, 4), np.int8)
    block = np.zeros((NR, kpad), np.int8)
    for ob in range(o_blocks):  # one block of 32 rows at a time: no second full-size copy
        rows = w[ob * NR:(ob + 1) * NR]
        block[:] = 0
        block[:rows.shape[0], :k] = rows
        packed[ob] = block.reshape(NR, kpad // 4, 4).transpose(1, 0, 2)
    return packed.reshape(-1), o_blocks, kpad
