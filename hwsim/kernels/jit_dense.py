"""Compiled (numba) loops of the dense fp32 executor: the depthwise conv and the in-place epilogue pass.

Imported lazily (by ``hwsim.kernels.conv`` and ``hwsim.kernels.epilogue`` on a kernel's first call, never
at ``import hwsim``): importing this module imports numba; the first call of each loop compiles it,
or loads it from numba's on-disk cache (``cache=True``).

Numerics: ``fastmath=False`` keeps IEEE semantics (no reassociation, no fused multiply-add
contraction), so each loop performs exactly the float32 operations of the NumPy expressions it
replaces, in the same order: a product rounded, then a sum rounded, taps summed in (i, j) order,
channels never mixed. Every array is float32 and C-contiguous (one compiled signature per loop).

An *epilogue* is a short program applied to each output value before it is stored: ``codes[s]`` is
the operation of stage ``s`` and ``vectors[s]`` its per-channel operand (unused rows for relu / relu6).
"""

from __future__ import annotations

import numpy as np
from numba import njit

ADD, MUL, RELU, RELU6 = 1, 2, 3, 4  # epilogue stage codes (hwsim.kernels.epilogue builds the programs)

_jit = njit(cache=True, fastmath=False, nogil=True)


@_jit
def _epilogue_row(acc, codes, vectors):  # type: ignore[no-untyped-def]
    """Apply the stages to one row of channels in place (channels innermost: vectorized)."""
    c = acc.shape[0]
    zero, six = np.float32(0), np.float32(6)
    for s in range(codes.shape[0]):
        code = codes[s]
        v = vectors[s]
        if code == ADD:
            for k in range(c):
                acc[k] = acc[k] + v[k]
        elif code == MUL:
            for k in range(c):
                acc[k] = acc[k] * v[k]
        elif code == RELU:  # np.maximum(x, 0): NaN and -0.0 pass through
            for k in range(c):
                if acc[k] < zero:
                    acc[k] = zero
        elif code == RELU6:  # np.clip(x, 0, 6)
            for k in range(c):
                if acc[k] < zero:
                    acc[k] = zero
                if acc[k] > six:
                    acc[k] = six


@_jit
def depthwise_nhwc(x, w, sh, sw, dh, dw, pt, pl, codes, vectors, out):  # type: ignore[no-untyped-def]
    """out[n, oh, ow, c] = epilogue(sum over in-bounds taps (i, j) of x[n, ih, iw, c] * w[i, j, c]).

    ``x`` [N, H, W, C] (channels already repeated for a channel multiplier), ``w`` [kh, kw, C],
    ``out`` [N, Ho, Wo, C]; strides, dilations and the top / left padding as scalars. Taps falling into the padding are skipped (they add a zero). Channels are
    the innermost loop: one output pixel's accumulators stay in L1 and the loop vectorizes."""
    nb, h, wd, c = x.shape
    kh, kw = w.shape[0], w.shape[1]
    ho, wo = out.shape[1], out.shape[2]
    acc = np.empty(c, np.float32)
    for n in range(nb):
        for oh in range(ho):
            for ow in range(wo):
                for k in range(c):
                    acc[k] = np.float32(0)
                for i in range(kh):
                    ih = oh * sh - pt + i * dh
                    if ih < 0 or ih >= h:
                        continue
                    for j in range(kw):
                        iw = ow * sw - pl + j * dw
                        if iw < 0 or iw >= wd:
                            continue
                        xr = x[n, ih, iw]
                        wr = w[i, j]
                        for k in range(c):
                            acc[k] = acc[k] + xr[k] * wr[k]
                _epilogue_row(acc, codes, vectors)
                o = out[n, oh, ow]
                for k in range(c):
                    o[k] = acc[k]


@_jit
def epilogue_rows(y, codes, vectors):  # type: ignore[no-untyped-def]
    """The epilogue in place on ``y`` [P, C] (channels innermost: channels-last activations, linear outputs)."""
    for p in range(y.shape[0]):
        _epilogue_row(y[p], codes, vectors)


@_jit
def epilogue_planes(y, codes, vectors):  # type: ignore[no-untyped-def]
    """The epilogue in place on ``y`` [N, C, P] (NCHW activations): one scalar operand per plane."""
    zero, six = np.float32(0), np.float32(6)
    for n in range(y.shape[0]):
        for ch in range(y.shape[1]):
            plane = y[n, ch]
            for s in range(codes.shape[0]):
                code = codes[s]
                a = vectors[s, ch]
                if code == ADD:
                    for k in range(plane.shape[0]):
                        plane[k] = plane[k] + a
                elif code == MUL:
                    for k in range(plane.shape[0]):
                        plane[k] = plane[k] * a
                elif code == RELU:
                    for k in range(plane.shape[0]):
                        if plane[k] < zero:
                            plane[k] = zero
                elif code == RELU6:
                    for k in range(plane.shape[0]):
                        if plane[k] < zero:
                            plane[k] = zero
                        if plane[k] > six:
                            plane[k] = six
