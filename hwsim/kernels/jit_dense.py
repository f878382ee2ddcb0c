"""Compiled (numba) loops of the dense fp32 executor: the depthwise conv and the in-place epilogue pass.

Imported lazily (by ``hwsim.kernels.conv`` and ``hwsim.kernels.epilogue`` on a kernel's first call, never
at ``import hwsim``): importing this module imports numba; the first call of each loop compiles it,
or loads it from numba's on-disk cache (``cache=True``).

Numerics: ``fastmath=False`` keeps IEEE semantics (no reassociation, no fused multiply-add
contraction), so each loop performs exactly the float32 operations of the NumPy expressions it
replaces, in the same order: a product rounded, then a sum rounded, taps summed in (i, j) order,
channels never mixed. Every array is float32 and C-contiguous (one compiled signature per loop).

An *epilogue* is a short program applied to each output value before it is stored: ``codes[s]`` is
the operation of stage ``s`` and ``vectors[s]`` its per-channel operand (unused by the activations).
Sigmoid and SiLU compute exp with a polynomial (Cephes' expf, within 1 ulp of the exact value) so
that their loops vectorize: their values differ from NumPy's exp by an ulp or so, and every run of
the executor, fused or not, uses this one implementation.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.extending import intrinsic

from hwsim.kernels.jit_simd import fma8, fma16, fma32, load8, load16, store8, store16, zeros8, zeros16

ADD, MUL, RELU, RELU6, SIGMOID, SILU = 1, 2, 3, 4, 5, 6  # epilogue stage codes (hwsim.kernels.epilogue)

# error_model="numpy": a float division by zero gives inf as in NumPy, with no Python exception check
# (which would keep LLVM from vectorizing any loop that divides)
_jit = njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
_jit_inline = njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
_U = np.uint64  # unsigned offsets: numba adds no negative-index wraparound check, so LLVM vectorizes


@intrinsic
def _bits_as_float32(typingctx, bits):  # type: ignore[no-untyped-def]
    """Reinterpret an int32's bits as a float32 (an LLVM bitcast, vectorizable)."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], llvm_ir.FloatType())

    return types.float32(types.int32), codegen


@_jit_inline
def _epilogue_at(y, at, c, codes, vectors):  # type: ignore[no-untyped-def]
    """Apply the stages in place to the ``c`` channels stored at flat offset ``at`` of ``y``."""
    zero, one, six = np.float32(0), np.float32(1), np.float32(6)
    for s in range(codes.shape[0]):
        code = codes[s]
        v = vectors[s]
        if code == ADD:
            for k in range(c):
                y[at + k] = y[at + k] + v[k]
        elif code == MUL:
            for k in range(c):
                y[at + k] = y[at + k] * v[k]
        elif code == RELU:  # np.maximum(x, 0): NaN and -0.0 pass through
            for k in range(c):  # a select and an unconditional store: LLVM vectorizes it
                yk = y[at + k]
                y[at + k] = zero if yk < zero else yk
        elif code == RELU6:  # np.clip(x, 0, 6)
            for k in range(c):
                yk = y[at + k]
                yk = zero if yk < zero else yk
                y[at + k] = six if yk > six else yk
        elif code == SIGMOID or code == SILU:
            silu = code == SILU
            for k in range(c):
                x = y[at + k]
                # exp(-x) (Cephes' expf: 2^n times a degree-6 polynomial on [-ln2/2, ln2/2], within
                # 1 ulp; the argument clamped so that 2^n is a normal float, or inf from ~88.4 on,
                # where sigmoid is 0 to float32), written out here: LLVM vectorizes the loop only
                # when nothing in it is a call
                e = min(max(-x, np.float32(-87.33654)), np.float32(88.72283935546875))
                n = np.floor(e * np.float32(1.44269504088896341) + np.float32(0.5))
                r = e - n * np.float32(0.693359375)
                r = r + n * np.float32(2.12194440e-4)
                p = np.float32(1.9875691500e-4)
                p = p * r + np.float32(1.3981999507e-3)
                p = p * r + np.float32(8.3334519073e-3)
                p = p * r + np.float32(4.1665795894e-2)
                p = p * r + np.float32(1.6666665459e-1)
                p = p * r + np.float32(5.0000001201e-1)
                p = p * (r * r) + r + one
                e = p * _bits_as_float32((np.int32(n) + np.int32(127)) << np.int32(23))
                sig = one / (one + e)
                y[at + k] = (x * sig if silu else sig) if x == x else x  # NaN stays NaN


@_jit_inline
def _taps_bounded(x, w, o, ob, n, ih0, iw0, h, wd, kh, kw, dh, dw, c):  # type: ignore[no-untyped-def]
    """One output pixel, any kernel: taps outside the input (padding) are skipped (they add a zero)."""
    for k in range(c):
        o[ob + k] = np.float32(0)
    for i in range(kh):
        ih = ih0 + i * dh
        if ih < 0 or ih >= h:
            continue
        for j in range(kw):
            iw = iw0 + j * dw
            if iw < 0 or iw >= wd:
                continue
            xb = _U(((n * h + ih) * wd + iw)) * c
            wb = _U(i * kw + j) * c
            for k in range(c):
                o[ob + k] = fma32(x[xb + k], w[wb + k], o[ob + k])


@_jit_inline
def _pixel_in_vectors(xf, wf, of, ob, n, ih0, iw0, h, wd, kh, kw, c):  # type: ignore[no-untyped-def]
    """One output pixel of a dilation-1 depthwise conv whose window may reach into the padding: the
    in-bounds taps only (a padded tap adds a zero), in (i, j) order, each a fused multiply-add, 16
    channels at a time, then 8, then one (the same operations per output as the pixel blocks)."""
    i0, i1 = max(0, -ih0), min(kh, h - ih0)
    j0, j1 = max(0, -iw0), min(kw, wd - iw0)
    cu = _U(c)
    k = 0
    while k + 16 <= c:
        acc = zeros16()
        for i in range(i0, i1):
            xr = _U((n * h + ih0 + i) * wd + iw0) * cu + _U(k)
            wr = _U(i * kw) * cu + _U(k)
            for j in range(j0, j1):
                acc = fma16(acc, load16(xf, xr + _U(j) * cu), load16(wf, wr + _U(j) * cu))
        store16(of, ob + _U(k), acc)
        k += 16
    if k + 8 <= c:
        acc8 = zeros8()
        for i in range(i0, i1):
            xr = _U((n * h + ih0 + i) * wd + iw0) * cu + _U(k)
            wr = _U(i * kw) * cu + _U(k)
            for j in range(j0, j1):
                acc8 = fma8(acc8, load8(xf, xr + _U(j) * cu), load8(wf, wr + _U(j) * cu))
        store8(of, ob + _U(k), acc8)
        k += 8
    for kk in range(k, c):
        one = np.float32(0)
        for i in range(i0, i1):
            xr = _U((n * h + ih0 + i) * wd + iw0) * cu + _U(kk)
            wr = _U(i * kw) * cu + _U(kk)
            for j in range(j0, j1):
                one = fma32(xf[xr + _U(j) * cu], wf[wr + _U(j) * cu], one)
        of[ob + _U(kk)] = one


def _interior(size: int, k: int, stride: int, dil: int, pad: int, out_size: int) -> tuple[int, int]:
    """Output positions [a, b) whose whole kernel window lies inside an input of ``size``."""
    a = -(-pad // stride)
    b = (size - 1 - (k - 1) * dil + pad) // stride + 1
    return min(max(a, 0), out_size), min(max(b, 0), out_size)


_interior_jit = _jit_inline(_interior)


@_jit_inline
def _row_of_three(acc, xf, r, c, w0, w1, w2):  # type: ignore[no-untyped-def]
    """``acc`` plus the 3 taps of one kernel row, in order (16 lanes)."""
    return fma16(fma16(fma16(acc, load16(xf, r), w0), load16(xf, r + c), w1), load16(xf, r + 2 * c), w2)


@_jit_inline
def _four_pixels_3x3(xf, wf, of, xb, ob, rs, ps, c, k0):  # type: ignore[no-untyped-def]
    """Four neighbouring interior output pixels of a 3x3 depthwise conv (dilation 1), 16 channels at a
    time (then 8 for a remainder of 8): each pixel's sum in a vector register across the 9 taps,
    each weight row loaded once for the four; for stride 1 the four pixels read 6 input columns per
    kernel row, loaded once. ``xb``: flat index of the first pixel's window corner, ``ob``: of its
    output, ``rs`` / ``ps``: input steps of a kernel row / an output pixel. Each sum adds its taps
    in (i, j) order from +0, each by a fused multiply-add. Channels from ``k0`` on."""
    k = k0
    while k + 16 <= c:
        a0 = zeros16()
        a1 = a0
        a2 = a0
        a3 = a0
        for i in range(3):
            rb = xb + i * rs + k
            wb = i * 3 * c + k
            w0, w1, w2 = load16(wf, wb), load16(wf, wb + c), load16(wf, wb + 2 * c)
            if ps == c:
                x0, x1, x2 = load16(xf, rb), load16(xf, rb + c), load16(xf, rb + 2 * c)
                x3, x4, x5 = load16(xf, rb + 3 * c), load16(xf, rb + 4 * c), load16(xf, rb + 5 * c)
                a0 = fma16(fma16(fma16(a0, x0, w0), x1, w1), x2, w2)
                a1 = fma16(fma16(fma16(a1, x1, w0), x2, w1), x3, w2)
                a2 = fma16(fma16(fma16(a2, x2, w0), x3, w1), x4, w2)
                a3 = fma16(fma16(fma16(a3, x3, w0), x4, w1), x5, w2)
            else:
                a0 = _row_of_three(a0, xf, rb, c, w0, w1, w2)
                a1 = _row_of_three(a1, xf, rb + ps, c, w0, w1, w2)
                a2 = _row_of_three(a2, xf, rb + 2 * ps, c, w0, w1, w2)
                a3 = _row_of_three(a3, xf, rb + 3 * ps, c, w0, w1, w2)
        store16(of, ob + k, a0)
        store16(of, ob + c + k, a1)
        store16(of, ob + 2 * c + k, a2)
        store16(of, ob + 3 * c + k, a3)
        k += 16
    if k < c:  # 8 channels left
        b0 = zeros8()
        b1 = b0
        b2 = b0
        b3 = b0
        for i in range(3):
            rb = xb + i * rs + k
            wb = i * 3 * c + k
            w0, w1, w2 = load8(wf, wb), load8(wf, wb + c), load8(wf, wb + 2 * c)
            r1, r2, r3 = rb + ps, rb + 2 * ps, rb + 3 * ps
            b0 = fma8(fma8(fma8(b0, load8(xf, rb), w0), load8(xf, rb + c), w1), load8(xf, rb + 2 * c), w2)
            b1 = fma8(fma8(fma8(b1, load8(xf, r1), w0), load8(xf, r1 + c), w1), load8(xf, r1 + 2 * c), w2)
            b2 = fma8(fma8(fma8(b2, load8(xf, r2), w0), load8(xf, r2 + c), w1), load8(xf, r2 + 2 * c), w2)
            b3 = fma8(fma8(fma8(b3, load8(xf, r3), w0), load8(xf, r3 + c), w1), load8(xf, r3 + 2 * c), w2)
        store8(of, ob + k, b0)
        store8(of, ob + c + k, b1)
        store8(of, ob + 2 * c + k, b2)
        store8(of, ob + 3 * c + k, b3)


@_jit_inline
def _row_of_five(acc, xf, r, c, w0, w1, w2, w3, w4):  # type: ignore[no-untyped-def]
    """``acc`` plus the 5 taps of one kernel row, in order (16 lanes)."""
    acc = fma16(acc, load16(xf, r), w0)
    acc = fma16(acc, load16(xf, r + c), w1)
    acc = fma16(acc, load16(xf, r + 2 * c), w2)
    acc = fma16(acc, load16(xf, r + 3 * c), w3)
    return fma16(acc, load16(xf, r + 4 * c), w4)


@_jit_inline
def _row_of_five8(acc, xf, r, c, w0, w1, w2, w3, w4):  # type: ignore[no-untyped-def]
    """``_row_of_five`` on 8 lanes."""
    acc = fma8(acc, load8(xf, r), w0)
    acc = fma8(acc, load8(xf, r + c), w1)
    acc = fma8(acc, load8(xf, r + 2 * c), w2)
    acc = fma8(acc, load8(xf, r + 3 * c), w3)
    return fma8(acc, load8(xf, r + 4 * c), w4)


@_jit_inline
def _four_pixels_5x5(xf, wf, of, xb, ob, rs, ps, c, k0):  # type: ignore[no-untyped-def]
    """``_four_pixels_3x3`` for a 5x5 kernel."""
    k = k0
    while k + 16 <= c:
        a0 = zeros16()
        a1 = a0
        a2 = a0
        a3 = a0
        for i in range(5):
            rb = xb + i * rs + k
            wb = i * 5 * c + k
            w0, w1, w2 = load16(wf, wb), load16(wf, wb + c), load16(wf, wb + 2 * c)
            w3, w4 = load16(wf, wb + 3 * c), load16(wf, wb + 4 * c)
            a0 = _row_of_five(a0, xf, rb, c, w0, w1, w2, w3, w4)
            a1 = _row_of_five(a1, xf, rb + ps, c, w0, w1, w2, w3, w4)
            a2 = _row_of_five(a2, xf, rb + 2 * ps, c, w0, w1, w2, w3, w4)
            a3 = _row_of_five(a3, xf, rb + 3 * ps, c, w0, w1, w2, w3, w4)
        store16(of, ob + k, a0)
        store16(of, ob + c + k, a1)
        store16(of, ob + 2 * c + k, a2)
        store16(of, ob + 3 * c + k, a3)
        k += 16
    if k < c:  # 8 channels left
        b0 = zeros8()
        b1 = b0
        b2 = b0
        b3 = b0
        for i in range(5):
            rb = xb + i * rs + k
            wb = i * 5 * c + k
            w0, w1, w2 = load8(wf, wb), load8(wf, wb + c), load8(wf, wb + 2 * c)
            w3, w4 = load8(wf, wb + 3 * c), load8(wf, wb + 4 * c)
            b0 = _row_of_five8(b0, xf, rb, c, w0, w1, w2, w3, w4)
            b1 = _row_of_five8(b1, xf, rb + ps, c, w0, w1, w2, w3, w4)
            b2 = _row_of_five8(b2, xf, rb + 2 * ps, c, w0, w1, w2, w3, w4)
            b3 = _row_of_five8(b3, xf, rb + 3 * ps, c, w0, w1, w2, w3, w4)
        store8(of, ob + k, b0)
        store8(of, ob + c + k, b1)
        store8(of, ob + 2 * c + k, b2)
        store8(of, ob + 3 * c + k, b3)


@_jit_inline
def _eight_pixels_3x3(xf, wf, of, xb, ob, rs, ps, c):  # type: ignore[no-untyped-def]
    """Eight neighbouring interior output pixels of a 3x3 depthwise conv, 16 channels at a time: eight
    independent sums in flight (the four-pixel block's four leave the FMA units idle waiting on
    each sum's previous step); at stride 1 the eight windows share 10 input columns per kernel
    row, each loaded once. The same operations per output as ``_four_pixels_3x3``, which runs the
    channels left after the multiples of 16."""
    c16 = c - c % 16
    for k in range(0, c16, 16):
        a0 = zeros16()
        a1 = a0
        a2 = a0
        a3 = a0
        a4 = a0
        a5 = a0
        a6 = a0
        a7 = a0
        for i in range(3):
            rb = xb + i * rs + k
            wb = i * 3 * c + k
            w0, w1, w2 = load16(wf, wb), load16(wf, wb + c), load16(wf, wb + 2 * c)
            if ps == c:
                x0, x1, x2 = load16(xf, rb), load16(xf, rb + c), load16(xf, rb + 2 * c)
                x3, x4, x5 = load16(xf, rb + 3 * c), load16(xf, rb + 4 * c), load16(xf, rb + 5 * c)
                x6, x7, x8 = load16(xf, rb + 6 * c), load16(xf, rb + 7 * c), load16(xf, rb + 8 * c)
                x9 = load16(xf, rb + 9 * c)
                a0 = fma16(fma16(fma16(a0, x0, w0), x1, w1), x2, w2)
                a1 = fma16(fma16(fma16(a1, x1, w0), x2, w1), x3, w2)
                a2 = fma16(fma16(fma16(a2, x2, w0), x3, w1), x4, w2)
                a3 = fma16(fma16(fma16(a3, x3, w0), x4, w1), x5, w2)
                a4 = fma16(fma16(fma16(a4, x4, w0), x5, w1), x6, w2)
                a5 = fma16(fma16(fma16(a5, x5, w0), x6, w1), x7, w2)
                a6 = fma16(fma16(fma16(a6, x6, w0), x7, w1), x8, w2)
                a7 = fma16(fma16(fma16(a7, x7, w0), x8, w1), x9, w2)
            else:
                a0 = _row_of_three(a0, xf, rb, c, w0, w1, w2)
                a1 = _row_of_three(a1, xf, rb + ps, c, w0, w1, w2)
                a2 = _row_of_three(a2, xf, rb + 2 * ps, c, w0, w1, w2)
                a3 = _row_of_three(a3, xf, rb + 3 * ps, c, w0, w1, w2)
                a4 = _row_of_three(a4, xf, rb + 4 * ps, c, w0, w1, w2)
                a5 = _row_of_three(a5, xf, rb + 5 * ps, c, w0, w1, w2)
                a6 = _row_of_three(a6, xf, rb + 6 * ps, c, w0, w1, w2)
                a7 = _row_of_three(a7, xf, rb + 7 * ps, c, w0, w1, w2)
        store16(of, ob + k, a0)
        store16(of, ob + c + k, a1)
        store16(of, ob + 2 * c + k, a2)
        store16(of, ob + 3 * c + k, a3)
        store16(of, ob + 4 * c + k, a4)
        store16(of, ob + 5 * c + k, a5)
        store16(of, ob + 6 * c + k, a6)
        store16(of, ob + 7 * c + k, a7)
    if c16 < c:
        _four_pixels_3x3(xf, wf, of, xb, ob, rs, ps, c, c16)
        _four_pixels_3x3(xf, wf, of, xb + 4 * ps, ob + 4 * c, rs, ps, c, c16)


@_jit_inline
def _eight_pixels_5x5(xf, wf, of, xb, ob, rs, ps, c):  # type: ignore[no-untyped-def]
    """``_eight_pixels_3x3`` for a 5x5 kernel (each window's columns loaded for it)."""
    c16 = c - c % 16
    for k in range(0, c16, 16):
        a0 = zeros16()
        a1 = a0
        a2 = a0
        a3 = a0
        a4 = a0
        a5 = a0
        a6 = a0
        a7 = a0
        for i in range(5):
            rb = xb + i * rs + k
            wb = i * 5 * c + k
            w0, w1, w2 = load16(wf, wb), load16(wf, wb + c), load16(wf, wb + 2 * c)
            w3, w4 = load16(wf, wb + 3 * c), load16(wf, wb + 4 * c)
            a0 = _row_of_five(a0, xf, rb, c, w0, w1, w2, w3, w4)
            a1 = _row_of_five(a1, xf, rb + ps, c, w0, w1, w2, w3, w4)
            a2 = _row_of_five(a2, xf, rb + 2 * ps, c, w0, w1, w2, w3, w4)
            a3 = _row_of_five(a3, xf, rb + 3 * ps, c, w0, w1, w2, w3, w4)
            a4 = _row_of_five(a4, xf, rb + 4 * ps, c, w0, w1, w2, w3, w4)
            a5 = _row_of_five(a5, xf, rb + 5 * ps, c, w0, w1, w2, w3, w4)
            a6 = _row_of_five(a6, xf, rb + 6 * ps, c, w0, w1, w2, w3, w4)
            a7 = _row_of_five(a7, xf, rb + 7 * ps, c, w0, w1, w2, w3, w4)
        store16(of, ob + k, a0)
        store16(of, ob + c + k, a1)
        store16(of, ob + 2 * c + k, a2)
        store16(of, ob + 3 * c + k, a3)
        store16(of, ob + 4 * c + k, a4)
        store16(of, ob + 5 * c + k, a5)
        store16(of, ob + 6 * c + k, a6)
        store16(of, ob + 7 * c + k, a7)
    if c16 < c:
        _four_pixels_5x5(xf, wf, of, xb, ob, rs, ps, c, c16)
        _four_pixels_5x5(xf, wf, of, xb + 4 * ps, ob + 4 * c, rs, ps, c, c16)


@_jit
def depthwise_nhwc(x, w, sh, sw, dh, dw, pt, pl, codes, vectors, out):  # type: ignore[no-untyped-def]
    """out[n, oh, ow, c] = epilogue(sum over in-bounds taps (i, j) of x[n, ih, iw, c] * w[i, j, c]).

    ``x`` [N, H, W, C] (channels already repeated for a channel multiplier), ``w`` [kh, kw, C],
    ``out`` [N, Ho, Wo, C]; strides, dilations and the top / left padding as scalars; ``vectors`` the
    epilogue's operands repeated for the Wo pixels of a row, [S, Wo * C]. Every output sums its
    in-bounds taps in (i, j) order from zero, each tap a fused multiply-add, whichever path computes it:

    - 3x3 and 5x5 kernels (dilation 1, C a multiple of 8), eight (C >= 16) or four neighbouring pixels
      whose windows lie inside the input: ``_eight_pixels_*`` / ``_four_pixels_*`` (explicit 16- and
      8-lane vectors, ``jit_simd``: the sums in registers, each weight and shared input column loaded
      once);
    - every other pixel of a dilation-1 kernel: ``_pixel_in_vectors`` over its in-bounds taps;
    - dilated kernels: interior 3x3 and 5x5 pixels with the taps unrolled inside a channel loop
      (vectorized by LLVM), the rest through ``_taps_bounded``, which skips the padded taps.

    Then the epilogue, over each output row while it is in L1 (one long loop however few the channels)."""
    nb, h, wd, c = x.shape
    kh, kw = w.shape[0], w.shape[1]
    ho, wo = out.shape[1], out.shape[2]
    xf, wf, of = x.reshape(x.size), w.reshape(w.size), out.reshape(out.size)
    cu = _U(c)
    rs, cs = _U(dh * wd * c), _U(dw * c)
    oh_a, oh_b = _interior_jit(h, kh, sh, dh, pt, ho)
    ow_a, ow_b = _interior_jit(wd, kw, sw, dw, pl, wo)
    zero = np.float32(0)
    blocks = c % 8 == 0 and dh == 1 and dw == 1 and ((kh == 3 and kw == 3) or (kh == 5 and kw == 5))
    for n in range(nb):
        for oh in range(ho):
            inside = oh_a <= oh < oh_b
            ow = 0
            while ow < wo:
                ih0, iw0 = oh * sh - pt, ow * sw - pl
                if inside and blocks and ow_a <= ow and ow + 8 <= ow_b and c >= 16:
                    xb, ob = ((n * h + ih0) * wd + iw0) * c, ((n * ho + oh) * wo + ow) * c
                    if kh == 3:
                        _eight_pixels_3x3(xf, wf, of, xb, ob, wd * c, sw * c, c)
                    else:
                        _eight_pixels_5x5(xf, wf, of, xb, ob, wd * c, sw * c, c)
                    ow += 8
                    continue
                if inside and blocks and ow_a <= ow and ow + 4 <= ow_b:
                    xb, ob = ((n * h + ih0) * wd + iw0) * c, ((n * ho + oh) * wo + ow) * c
                    if kh == 3:
                        _four_pixels_3x3(xf, wf, of, xb, ob, wd * c, sw * c, c, 0)
                    else:
                        _four_pixels_5x5(xf, wf, of, xb, ob, wd * c, sw * c, c, 0)
                    ow += 4
                    continue
                ob = _U((n * ho + oh) * wo + ow) * cu
                if dh == 1 and dw == 1:
                    _pixel_in_vectors(xf, wf, of, ob, n, ih0, iw0, h, wd, kh, kw, c)
                    ow += 1
                    continue
                # dilated kernels from here on: interior 3x3 and 5x5 pixels with the taps unrolled inside
                # the channel loop (written out here: LLVM vectorizes it only when it is not behind a
                # call), so each sum stays in a register; the rest skip the padded taps
                xb = _U((n * h + ih0) * wd + iw0) * cu if inside and ow_a <= ow < ow_b else _U(0)
                if inside and ow_a <= ow < ow_b and kh == 3 and kw == 3:
                    for k in range(cu):
                        acc = zero
                        for i in range(3):
                            for j in range(3):
                                acc = fma32(xf[xb + _U(i) * rs + _U(j) * cs + k], wf[_U(i * 3 + j) * cu + k], acc)
                        of[ob + k] = acc
                elif inside and ow_a <= ow < ow_b and kh == 5 and kw == 5:
                    for k in range(cu):
                        acc = zero
                        for i in range(5):
                            for j in range(5):
                                acc = fma32(xf[xb + _U(i) * rs + _U(j) * cs + k], wf[_U(i * 5 + j) * cu + k], acc)
                        of[ob + k] = acc
                else:
                    _taps_bounded(xf, wf, of, ob, n, ih0, iw0, h, wd, kh, kw, dh, dw, cu)
                ow += 1
            _epilogue_at(of, _U((n * ho + oh) * wo) * cu, _U(wo) * cu, codes, vectors)


@_jit
def epilogue_rows(y, codes, vectors):  # type: ignore[no-untyped-def]
    """The epilogue in place on ``y`` [P, C] (channels innermost: channels-last activations, linear
    outputs); ``vectors`` [S, B * C] holds the operands repeated for B rows, which one loop covers."""
    c = y.shape[1]
    block = max(1, vectors.shape[1] // c)
    yf = y.reshape(y.size)
    for p0 in range(0, y.shape[0], block):
        rows = min(block, y.shape[0] - p0)
        _epilogue_at(yf, _U(p0 * c), _U(rows * c), codes, vectors)


@_jit
def epilogue_planes(y, codes, vectors):  # type: ignore[no-untyped-def]
    """The epilogue in place on ``y`` [N, C, P] (NCHW activations): one scalar operand per plane."""
    yf = y.reshape(y.size)
    c, plane = y.shape[1], _U(y.shape[2])
    for n in range(y.shape[0]):
        for ch in range(c):
            at = _U(n * c + ch) * plane
            for s in range(codes.shape[0]):
                code = codes[s]
                a = vectors[s, ch]
                if code == ADD:
                    for k in range(plane):
                        yf[at + k] = yf[at + k] + a
                elif code == MUL:
                    for k in range(plane):
                        yf[at + k] = yf[at + k] * a
                else:  # an activation: the same loop as channels-last data
                    _epilogue_at(yf, at, plane, codes[s: s + 1], vectors[s: s + 1])


@_jit
def im2col_nhwc(x, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, cols):  # type: ignore[no-untyped-def]
    """Patch matrix of an NHWC input: ``cols[(n * Ho + oh) * Wo + ow, (i * kw + j) * C + c]`` is
    ``x[n, oh * sh - pt + i * dh, ow * sw - pl + j * dw, c]``, or 0 where that falls into the padding.
    Every tap copies one contiguous run of C channels (a row of the GEMM [P, K] x [K, O])."""
    nb, h, wd, c = x.shape
    xf, cf = x.reshape(x.size), cols.reshape(cols.size)
    cu = _U(c)
    kk = _U(kh * kw * c)
    zero = np.float32(0)
    run = _U(kw * c)
    for n in range(nb):
        for oh in range(ho):
            for ow in range(wo):
                row = _U((n * ho + oh) * wo + ow) * kk
                iw0 = ow * sw - pl
                whole_row = dw == 1 and iw0 >= 0 and iw0 + kw <= wd  # the kw taps are one run of kw * C
                for i in range(kh):
                    ih = oh * sh - pt + i * dh
                    dst = row + _U(i * kw) * cu
                    if whole_row and 0 <= ih < h:
                        src = _U((n * h + ih) * wd + iw0) * cu
                        for k in range(run):
                            cf[dst + k] = xf[src + k]
                        continue
                    for j in range(kw):
                        iw = iw0 + j * dw
                        dst = row + _U(i * kw + j) * cu
                        if ih < 0 or ih >= h or iw < 0 or iw >= wd:
                            for k in range(cu):
                                cf[dst + k] = zero
                        else:
                            src = _U((n * h + ih) * wd + iw) * cu
                            for k in range(cu):
                                cf[dst + k] = xf[src + k]


@_jit
def im2col_nchw_t(x, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, cols_t):  # type: ignore[no-untyped-def]
    """Transposed patch matrix of an NCHW input (a network's input image, stored planar):
    ``cols_t[(i * kw + j) * C + c, (n * Ho + oh) * Wo + ow]`` is ``x[n, c, oh * sh - pt + i * dh,
    ow * sw - pl + j * dw]``, or 0 where that falls into the padding: the same values as
    ``im2col_nhwc`` of the channels-last copy, transposed, so ``cols_t.T`` is its patch matrix.
    Every row is filled along output columns (reads along an input row), which needs no
    channels-last copy of the input first."""
    nb, c, h, wd = x.shape
    xf, cf = x.reshape(x.size), cols_t.reshape(cols_t.size)
    zero = np.float32(0)
    npix = _U(nb * ho * wo)
    for i in range(kh):
        for j in range(kw):
            off = j * dw - pl
            lo = min(max(0, -(off // sw)), wo)  # first output column reading inside the row
            hi = min(max(lo, (wd - 1 - off) // sw + 1), wo)
            for k in range(c):
                dst0 = _U((i * kw + j) * c + k) * npix
                for n in range(nb):
                    for oh in range(ho):
                        ih = oh * sh - pt + i * dh
                        d = dst0 + _U((n * ho + oh) * wo)
                        if ih < 0 or ih >= h:
                            for ow in range(_U(wo)):
                                cf[d + ow] = zero
                            continue
                        src = _U(((n * c + k) * h + ih) * wd)
                        for ow in range(_U(lo)):
                            cf[d + ow] = zero
                        for ow in range(lo, hi):
                            cf[d + _U(ow)] = xf[src + _U(ow * sw + off)]
                        for ow in range(_U(hi), _U(wo)):
                            cf[d + ow] = zero


@_jit
def pool_nhwc(x, kh, kw, sh, sw, pt, pl, is_max, divisor, out):  # type: ignore[no-untyped-def]
    """Max or average pooling of an NHWC input into ``out`` [N, Ho, Wo, C]: window taps outside the
    input (padding, a ceil_mode overhang) are skipped, which is what a -inf (max) or zero (average)
    fill gives. Max propagates NaN as ``np.maximum`` does; an average sums its taps in (i, j) order,
    then divides by ``divisor[oh, ow]`` (float32)."""
    nb, h, wd, c = x.shape
    ho, wo = out.shape[1], out.shape[2]
    xf, of = x.reshape(x.size), out.reshape(out.size)
    cu = _U(c)
    fill = np.float32(-np.inf) if is_max else np.float32(0)
    for n in range(nb):
        for oh in range(ho):
            for ow in range(wo):
                ob = _U((n * ho + oh) * wo + ow) * cu
                for k in range(cu):
                    of[ob + k] = fill
                for i in range(kh):
                    ih = oh * sh - pt + i
                    if ih < 0 or ih >= h:
                        continue
                    for j in range(kw):
                        iw = ow * sw - pl + j
                        if iw < 0 or iw >= wd:
                            continue
                        src = _U((n * h + ih) * wd + iw) * cu
                        if is_max:
                            for k in range(cu):
                                v = xf[src + k]
                                m = of[ob + k]
                                of[ob + k] = m if (m >= v or m != m) else v
                        else:
                            for k in range(cu):
                                of[ob + k] = of[ob + k] + xf[src + k]
                if not is_max:
                    d = divisor[oh, ow]
                    for k in range(cu):
                        of[ob + k] = of[ob + k] / d


@_jit
def channel_means(x, out):  # type: ignore[no-untyped-def]
    """out[n, c] = mean over pixels of ``x`` [N, P, C] (channels-last), summed in float64 in pixel
    order (channels innermost: vectorized), then divided and rounded to float32 once."""
    nb, npix, c = x.shape
    acc = np.empty(c, np.float64)
    for n in range(nb):
        for k in range(c):
            acc[k] = 0.0
        for p in range(npix):
            row = x[n, p]
            for k in range(c):
                acc[k] += row[k]
        for k in range(c):
            out[n, k] = np.float32(acc[k] / npix)


def warm_up() -> None:
    """Call every loop once on tiny float32 arrays: compiles them (or loads them from numba's disk
    cache). For ``bench/bench_executor_vs_ort.py``, which times this one-off cost apart."""
    f32 = np.float32
    x = np.ones((1, 3, 3, 2), f32)
    codes, vectors = np.array([ADD, SILU], np.int64), np.zeros((2, 2), f32)
    depthwise_nhwc(x, np.ones((3, 3, 2), f32), 1, 1, 1, 1, 1, 1, codes, np.zeros((2, 6), f32),
                   np.empty((1, 3, 3, 2), f32))
    epilogue_rows(np.ones((4, 2), f32), codes, vectors)
    epilogue_planes(np.ones((1, 2, 4), f32), codes, vectors)
    im2col_nhwc(x, 3, 3, 1, 1, 1, 1, 1, 1, 3, 3, np.empty((9, 18), f32))
    im2col_nchw_t(np.ones((1, 2, 3, 3), f32), 3, 3, 1, 1, 1, 1, 1, 1, 3, 3, np.empty((18, 9), f32))
    pool_nhwc(x, 2, 2, 1, 1, 0, 0, True, np.ones((1, 1), f32), np.empty((1, 2, 2, 2), f32))
    channel_means(np.ones((1, 4, 2), f32), np.empty((1, 2), f32))
