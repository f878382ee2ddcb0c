"""A compiled (numba) GEMM against a weight packed once, with the epilogue applied to each block of
output rows while it is in L1: the 1x1 convs and patch-matrix GEMMs of the dense fp32 executor.

``c[p, o] = epilogue(sum over q of a[p, q] * b[q, o])``. The weight ``b`` [K, O] is packed once per
stored weight (``hwsim.kernels.packed_gemm``) into panels of 16 output channels, ``[ceil(O / 16), K, 16]``,
the last zero-padded. A tile of 8 rows x 32 outputs keeps its 16 sums in vector registers
(``jit_simd``'s 16-lane type: one AVX-512 register each) across the whole K loop, loading two weight
vectors and broadcasting 8 activations per step; the rows left over after the 8-row blocks and an
odd last panel run narrower tiles of the same arithmetic.

Numerics: every output sums its K products in order q = 0, 1, ..., K-1 from +0 with one rounding per
step (a fused multiply-add), whichever tile computes it: a row's result does not depend on the
other rows of the call (the batch size, the blocking) nor on the machine's load. It differs from
BLAS's reassociated sum by rounding only, within the conv kernels' ``GEMM_RTOL``. The epilogue stages
are ``jit_dense``'s (the same float32 operations as the unfused nodes), applied to the stored sums.

Imported lazily, on the first packed GEMM (it imports numba).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hwsim.kernels.jit_dense import ADD, MUL, RELU, _epilogue_at
from hwsim.kernels.jit_simd import (add16, fma16, load16, mul16, relu6_16, relu16, splat16, store16, store16_first,
                                   zeros16)

_jit = njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
#: the tiles: inlined into the GEMM loop by numba (a call per tile passes every array as a struct)
_tile = njit(cache=True, fastmath=False, nogil=True, error_model="numpy", inline="always")
_U = np.uint64  # unsigned offsets: no negative-index wraparound code in the loops

#: rows of a register tile
ROWS = 8
#: output channels of a packed panel (one 16-lane vector)
PANEL = 16


@_tile
def _put(cf, at, acc, width):  # type: ignore[no-untyped-def]
    """Store the first ``width`` lanes of ``acc`` at ``cf[at:]`` (all 16 in one store when width is 16)."""
    if width == PANEL:
        store16(cf, at, acc)
    else:
        store16_first(cf, at, acc, width)


@_tile
def _finish(acc, codes, ef, es, col):  # type: ignore[no-untyped-def]
    """The register epilogue of one 16-output vector at output column ``col``: each stage of ``codes``
    (ADD, MUL, RELU, RELU6 only) with its operand row ``ef[s * es + col:]``; the same float32
    operation per lane as the separate pass, so the same bits."""
    for s in range(codes.shape[0]):
        code = codes[s]
        if code == ADD:
            acc = add16(acc, load16(ef, _U(s) * es + col))
        elif code == MUL:
            acc = mul16(acc, load16(ef, _U(s) * es + col))
        elif code == RELU:
            acc = relu16(acc)
        else:
            acc = relu6_16(acc)
    return acc


@_tile
def _tile_8x32(af, a0, rs, cs, k, bf, b0, cf, c0, o, w1, rc, ef, es, col):  # type: ignore[no-untyped-def]
    """Rows a0 + r * rs (r < 8) times panels starting at ``b0`` and ``b0 + K * 16`` (the second
    ``w1`` wide) into c[c0 + r * o + ...]."""
    s00 = zeros16()
    s01 = s00
    s10 = s00
    s11 = s00
    s20 = s00
    s21 = s00
    s30 = s00
    s31 = s00
    s40 = s00
    s41 = s00
    s50 = s00
    s51 = s00
    s60 = s00
    s61 = s00
    s70 = s00
    s71 = s00
    b1 = b0 + k * _U(PANEL)
    rs2, o2 = rs + rs, o + o
    rs3, rs4, rs5, rs6, rs7 = rs2 + rs, rs2 + rs2, rs2 + rs2 + rs, rs2 + rs2 + rs2, rs2 + rs2 + rs2 + rs
    o3, o4, o5, o6, o7 = o2 + o, o2 + o2, o2 + o2 + o, o2 + o2 + o2, o2 + o2 + o2 + o
    for q in range(k):
        v0 = load16(bf, b0 + q * _U(PANEL))
        v1 = load16(bf, b1 + q * _U(PANEL))
        at = a0 + q * cs
        x = splat16(af[at])
        s00 = fma16(s00, x, v0)
        s01 = fma16(s01, x, v1)
        x = splat16(af[at + rs])
        s10 = fma16(s10, x, v0)
        s11 = fma16(s11, x, v1)
        x = splat16(af[at + rs2])
        s20 = fma16(s20, x, v0)
        s21 = fma16(s21, x, v1)
        x = splat16(af[at + rs3])
        s30 = fma16(s30, x, v0)
        s31 = fma16(s31, x, v1)
        x = splat16(af[at + rs4])
        s40 = fma16(s40, x, v0)
        s41 = fma16(s41, x, v1)
        x = splat16(af[at + rs5])
        s50 = fma16(s50, x, v0)
        s51 = fma16(s51, x, v1)
        x = splat16(af[at + rs6])
        s60 = fma16(s60, x, v0)
        s61 = fma16(s61, x, v1)
        x = splat16(af[at + rs7])
        s70 = fma16(s70, x, v0)
        s71 = fma16(s71, x, v1)
    store16(cf, c0, _finish(s00, rc, ef, es, col))
    _put(cf, c0 + _U(PANEL), _finish(s01, rc, ef, es, col + _U(PANEL)), w1)
    store16(cf, c0 + o, _finish(s10, rc, ef, es, col))
    _put(cf, c0 + o + _U(PANEL), _finish(s11, rc, ef, es, col + _U(PANEL)), w1)
    store16(cf, c0 + o2, _finish(s20, rc, ef, es, col))
    _put(cf, c0 + o2 + _U(PANEL), _finish(s21, rc, ef, es, col + _U(PANEL)), w1)
    store16(cf, c0 + o3, _finish(s30, rc, ef, es, col))
    _put(cf, c0 + o3 + _U(PANEL), _finish(s31, rc, ef, es, col + _U(PANEL)), w1)
    store16(cf, c0 + o4, _finish(s40, rc, ef, es, col))
    _put(cf, c0 + o4 + _U(PANEL), _finish(s41, rc, ef, es, col + _U(PANEL)), w1)
    store16(cf, c0 + o5, _finish(s50, rc, ef, es, col))
    _put(cf, c0 + o5 + _U(PANEL), _finish(s51, rc, ef, es, col + _U(PANEL)), w1)
    store16(cf, c0 + o6, _finish(s60, rc, ef, es, col))
    _put(cf, c0 + o6 + _U(PANEL), _finish(s61, rc, ef, es, col + _U(PANEL)), w1)
    store16(cf, c0 + o7, _finish(s70, rc, ef, es, col))
    _put(cf, c0 + o7 + _U(PANEL), _finish(s71, rc, ef, es, col + _U(PANEL)), w1)


@_tile
def _tile_8x16(af, a0, rs, cs, k, bf, b0, cf, c0, o, w0, rc, ef, es, col):  # type: ignore[no-untyped-def]
    """``_tile_8x32`` for one panel (``w0`` wide)."""
    s0 = zeros16()
    s1 = s0
    s2 = s0
    s3 = s0
    s4 = s0
    s5 = s0
    s6 = s0
    s7 = s0
    rs2, o2 = rs + rs, o + o
    rs3, rs4, rs5, rs6, rs7 = rs2 + rs, rs2 + rs2, rs2 + rs2 + rs, rs2 + rs2 + rs2, rs2 + rs2 + rs2 + rs
    o3, o4, o5, o6, o7 = o2 + o, o2 + o2, o2 + o2 + o, o2 + o2 + o2, o2 + o2 + o2 + o
    for q in range(k):
        v = load16(bf, b0 + q * _U(PANEL))
        at = a0 + q * cs
        s0 = fma16(s0, splat16(af[at]), v)
        s1 = fma16(s1, splat16(af[at + rs]), v)
        s2 = fma16(s2, splat16(af[at + rs2]), v)
        s3 = fma16(s3, splat16(af[at + rs3]), v)
        s4 = fma16(s4, splat16(af[at + rs4]), v)
        s5 = fma16(s5, splat16(af[at + rs5]), v)
        s6 = fma16(s6, splat16(af[at + rs6]), v)
        s7 = fma16(s7, splat16(af[at + rs7]), v)
    _put(cf, c0, _finish(s0, rc, ef, es, col), w0)
    _put(cf, c0 + o, _finish(s1, rc, ef, es, col), w0)
    _put(cf, c0 + o2, _finish(s2, rc, ef, es, col), w0)
    _put(cf, c0 + o3, _finish(s3, rc, ef, es, col), w0)
    _put(cf, c0 + o4, _finish(s4, rc, ef, es, col), w0)
    _put(cf, c0 + o5, _finish(s5, rc, ef, es, col), w0)
    _put(cf, c0 + o6, _finish(s6, rc, ef, es, col), w0)
    _put(cf, c0 + o7, _finish(s7, rc, ef, es, col), w0)


@_tile
def _tile_1x16(af, a0, cs, k, bf, b0, cf, c0, w0, rc, ef, es, col):  # type: ignore[no-untyped-def]
    """One row times one panel, four partial chains would change the order: one chain, in order."""
    s = zeros16()
    for q in range(k):
        s = fma16(s, splat16(af[a0 + q * cs]), load16(bf, b0 + q * _U(PANEL)))
    _put(cf, c0, _finish(s, rc, ef, es, col), w0)


@_jit
def gemm_packed(a, rs, cs, p, bp, o, codes, vectors, rcodes, ef, c):  # type: ignore[no-untyped-def]
    """``c`` [P, O] = epilogue(a @ b): ``a`` any float32 array holding the [P, K] operand at flat offset
    ``r * rs + q * cs`` (rows of a channels-last activation: rs = K, cs = 1; a transposed patch
    matrix: rs = 1, cs = P); ``bp`` the packed weight [ceil(O / 16), K, 16]. The epilogue either in
    registers before each store (``rcodes``, operands ``ef`` [S, ceil(O / 16) * 16] zero-padded), or,
    for stages the registers do not run (sigmoid, SiLU), as a pass over each block of stored rows
    (``codes``, ``vectors`` the operands repeated for 8 rows, [S, 8 * O]); at most one of the two."""
    af, bf, cf = a.reshape(a.size), bp.reshape(bp.size), c.reshape(c.size)
    eff = ef.reshape(ef.size)
    es = _U(ef.shape[1])
    panels, k = bp.shape[0], _U(bp.shape[1])
    ou = _U(o)
    rsu, csu = _U(rs), _U(cs)
    last_w = o - (panels - 1) * PANEL
    panel_size = k * _U(PANEL)
    r = 0
    while r + ROWS <= p:
        a0 = _U(r) * rsu
        c0 = _U(r) * ou
        j = 0
        while j + 2 <= panels:
            w1 = last_w if j + 2 == panels else PANEL
            col = _U(j * PANEL)
            _tile_8x32(af, a0, rsu, csu, k, bf, _U(j) * panel_size, cf, c0 + col, ou, w1, rcodes, eff, es, col)
            j += 2
        if j < panels:
            col = _U(j * PANEL)
            _tile_8x16(af, a0, rsu, csu, k, bf, _U(j) * panel_size, cf, c0 + col, ou, last_w, rcodes, eff, es,
                       col)
        if codes.shape[0]:
            _epilogue_at(cf, c0, _U(ROWS) * ou, codes, vectors)
        r += ROWS
    while r < p:
        a0 = _U(r) * rsu
        c0 = _U(r) * ou
        for j in range(panels):
            w0 = last_w if j + 1 == panels else PANEL
            col = _U(j * PANEL)
            _tile_1x16(af, a0, csu, k, bf, _U(j) * panel_size, cf, c0 + col, w0, rcodes, eff, es, col)
        if codes.shape[0]:
            _epilogue_at(cf, c0, ou, codes, vectors)
        r += 1


def warm_up() -> None:
    """Compile (or load from the disk cache) the GEMM for its one signature."""
    f32 = np.float32
    gemm_packed(np.ones(12, f32), 3, 1, 4, np.ones((2, 3, PANEL), f32), 20, np.zeros(1, np.int64),
                np.zeros((1, 8 * 20), f32), np.zeros(1, np.int64), np.zeros((1, 2 * PANEL), f32), np.empty((4, 20), f32))
