"""Compiled (numba) bit kernels: the XNOR-popcount GEMM and the direct binary convolution.

NumPy needs three passes over memory per 64-bit word (XOR, ``bitwise_count``, accumulate); a compiled
loop keeps the XOR, the popcount and the sum in registers. The popcount is the usual bit trick on
uint64 (LLVM recognises it and emits ``popcnt`` / AVX-512 ``vpopcntq`` where the CPU has them).

Layouts (uint64 words, bit i of word j is element 64 j + i along the reduction axis; tail bits 0):

* GEMM: activations ``a [G, P, W]`` (a row per output position), weights ``w [G, O, W]`` (a row per
  output channel), optional validity ``mask [G, P, W]``; result: mismatch counts ``[G, O, P]`` int32.
* Conv: the input packed along channels per pixel, ``x [N, G, H, W, Cw]``, the weights per tap,
  ``w [G, kh, kw, Cw, Og]``. Taps that fall in the padding are skipped (they add nothing), so no mask
  is needed: dot = (valid taps x Cg) - 2 popcount(a XOR w) over the valid taps. Result ``[G, Og, N*Ho*Wo]``
  int32 dot products (exact integers).

numba is imported here only (lazily, by the callers that need a kernel): never at ``import hwsim``.
Every kernel is compiled with ``cache=True`` (the first call in a fresh environment compiles, ~1-2 s;
later processes load the cached machine code). Threads: the caller sets numba's pool
(``hwsim.kernels.threads.set_numba_threads``) from the process's BLAS/OpenMP limits before a call.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_S1, _S2, _S4, _S56 = np.uint64(1), np.uint64(2), np.uint64(4), np.uint64(56)

#: output positions x output channels per cache block of the GEMM (a 64 x 64 block of words rows)
BLOCK_P = 64
BLOCK_O = 64


@njit(inline="always", cache=True)
def popcount64(x: np.uint64) -> np.uint64:
    x = x - ((x >> _S1) & _M1)
    x = (x & _M2) + ((x >> _S2) & _M2)
    x = (x + (x >> _S4)) & _M4
    return (x * _H01) >> _S56


@njit(cache=True)
def _gemm_block(a, w, out, g, o0, o1, p0, p1):
    nw = a.shape[2]
    for o in range(o0, o1):
        for p in range(p0, p1):
            acc = np.uint64(0)
            for k in range(nw):
                acc += popcount64(a[g, p, k] ^ w[g, o, k])
            out[g, o, p] = np.int32(acc)


@njit(cache=True)
def _gemm_block_masked(a, w, m, out, g, o0, o1, p0, p1):
    nw = a.shape[2]
    for o in range(o0, o1):
        for p in range(p0, p1):
            acc = np.uint64(0)
            for k in range(nw):
                acc += popcount64((a[g, p, k] ^ w[g, o, k]) & m[g, p, k])
            out[g, o, p] = np.int32(acc)


@njit(cache=True)
def mismatch_serial(a, w, out):
    """out[g, o, p] = sum_k popcount(a[g, p, k] XOR w[g, o, k]), cache-blocked, one thread."""
    groups, p_n = a.shape[0], a.shape[1]
    o_n = w.shape[1]
    for g in range(groups):
        for p0 in range(0, p_n, BLOCK_P):
            for o0 in range(0, o_n, BLOCK_O):
                _gemm_block(a, w, out, g, o0, min(o0 + BLOCK_O, o_n), p0, min(p0 + BLOCK_P, p_n))


@njit(cache=True, inline="always")
def _block_of(t, nbp, nbo):
    """(group, first pixel, first output) of block ``t`` when the parallel kernels number the blocks
    group-major, then pixel blocks, then output blocks."""
    r = t % (nbp * nbo)
    return t // (nbp * nbo), (r // nbo) * BLOCK_P, (r % nbo) * BLOCK_O


@njit(cache=True, parallel=True)
def mismatch_parallel(a, w, out):
    """``mismatch_serial`` with the blocks spread over numba's thread pool."""
    groups, p_n = a.shape[0], a.shape[1]
    o_n = w.shape[1]
    nbp = (p_n + BLOCK_P - 1) // BLOCK_P
    nbo = (o_n + BLOCK_O - 1) // BLOCK_O
    for t in prange(groups * nbp * nbo):
        g, p0, o0 = _block_of(t, nbp, nbo)
        _gemm_block(a, w, out, g, o0, min(o0 + BLOCK_O, o_n), p0, min(p0 + BLOCK_P, p_n))


@njit(cache=True)
def mismatch_masked_serial(a, w, m, out):
    groups, p_n = a.shape[0], a.shape[1]
    o_n = w.shape[1]
    for g in range(groups):
        for p0 in range(0, p_n, BLOCK_P):
            for o0 in range(0, o_n, BLOCK_O):
                _gemm_block_masked(a, w, m, out, g, o0, min(o0 + BLOCK_O, o_n), p0, min(p0 + BLOCK_P, p_n))


@njit(cache=True, parallel=True)
def mismatch_masked_parallel(a, w, m, out):
    groups, p_n = a.shape[0], a.shape[1]
    o_n = w.shape[1]
    nbp = (p_n + BLOCK_P - 1) // BLOCK_P
    nbo = (o_n + BLOCK_O - 1) // BLOCK_O
    for t in prange(groups * nbp * nbo):
        g, p0, o0 = _block_of(t, nbp, nbo)
        _gemm_block_masked(a, w, m, out, g, o0, min(o0 + BLOCK_O, o_n), p0, min(p0 + BLOCK_P, p_n))


@njit(cache=True)
def pack_signs_rows(x, out):
    """x [R, K] float -> out [R, ceil(K/64)] uint64: bit set where x > 0 (zero tail bits)."""
    r_n, k_n = x.shape
    for r in range(r_n):
        for j in range(out.shape[1]):
            word = np.uint64(0)
            for i in range(min(64, k_n - 64 * j)):
                if x[r, 64 * j + i] > 0:
                    word |= np.uint64(1) << np.uint64(i)
            out[r, j] = word


@njit(cache=True)
def pack_signs_channels(x, groups, out):
    """x [N, C, H, W] float -> out [N, G, H, W, ceil(C/G/64)] uint64: per pixel, the channels of each
    group as bits (x > 0), channel c of a group at bit c % 64 of word c // 64."""
    n_n, c_n, h_n, w_n = x.shape
    cg = c_n // groups
    for n in range(n_n):
        for g in range(groups):
            for c in range(cg):
                bit = np.uint64(1) << np.uint64(c % 64)
                j = c // 64
                for h in range(h_n):
                    for w in range(w_n):
                        if x[n, g * cg + c, h, w] > 0:
                            out[n, g, h, w, j] |= bit


@njit(cache=True)
def _conv_rows(x, w, out, cg, n, g, oy, geo):
    kh_n, kw_n, sh, sw, dh, dw, pt, pl, ho, wo = geo
    h_n, w_n, nw = x.shape[2], x.shape[3], x.shape[4]
    og_n = w.shape[4]
    acc = np.zeros(og_n, np.int64)
    for ox in range(wo):
        col = (n * ho + oy) * wo + ox
        valid = 0
        acc[:] = 0
        for i in range(kh_n):
            iy = oy * sh - pt + i * dh
            if iy < 0 or iy >= h_n:
                continue
            for j in range(kw_n):
                ix = ox * sw - pl + j * dw
                if ix < 0 or ix >= w_n:
                    continue
                valid += 1
                for k in range(nw):
                    a = x[n, g, iy, ix, k]
                    for o in range(og_n):
                        acc[o] += popcount64(a ^ w[g, i, j, k, o])
        for o in range(og_n):
            out[g, o, col] = np.int32(valid * cg - 2 * acc[o])


@njit(cache=True)
def binary_conv_serial(x, w, out, cg, geo):
    """Direct XNOR-popcount conv: out[g, o, (n, oy, ox)] = sum of the +/-1 products over valid taps."""
    ho = geo[8]
    for n in range(x.shape[0]):
        for g in range(x.shape[1]):
            for oy in range(ho):
                _conv_rows(x, w, out, cg, n, g, oy, geo)


@njit(cache=True, parallel=True)
def binary_conv_parallel(x, w, out, cg, geo):
    ho = geo[8]
    n_n, g_n = x.shape[0], x.shape[1]
    for t in prange(n_n * g_n * ho):
        n = t // (g_n * ho)
        g = (t // ho) % g_n
        _conv_rows(x, w, out, cg, n, g, t % ho, geo)
