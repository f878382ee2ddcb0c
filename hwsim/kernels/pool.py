"""Max, average and global-average pooling. float32 max / average pooling runs the compiled
channels-last loop (``hwsim.kernels.jit_dense.pool_nhwc``: each window's in-bounds taps, channels
innermost); other dtypes (a float64 oracle run) take one vectorized NumPy step per window tap over
strided views. Neither loops over pixels or channels in Python."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hwsim.kernels.reference import pool_geometry
from hwsim.kernels.registry import KernelCall, register_kernel


def _divisor(h: int, w: int, ho: int, wo: int, eh: int, ew: int, attrs) -> np.ndarray:  # type: ignore[no-untyped-def]
    """[Ho, Wo] window sizes of an average pool: the positions that hold input (or explicit padding
    when count_include_pad), never a ceil_mode overhang; at least 1."""
    (kh, kw), (sh, sw), (t, l, b, r) = attrs["kernel"], attrs["stride"], attrs["padding"]
    threshold = 1 if attrs["count_include_pad"] else 2
    rows_in = np.r_[np.ones(t), 2 * np.ones(h), np.ones(b), np.zeros(eh)] >= threshold
    cols_in = np.r_[np.ones(l), 2 * np.ones(w), np.ones(r), np.zeros(ew)] >= threshold
    rc = sliding_window_view(rows_in.astype(np.int64), kh)[::sh][:ho].sum(axis=1)
    cc = sliding_window_view(cols_in.astype(np.int64), kw)[::sw][:wo].sum(axis=1)
    return np.maximum(rc[:, None] * cc[None, :], 1)


def _pool(call: KernelCall, kind: str) -> np.ndarray:
    x = call.inputs[0]
    a = call.attrs
    (kh, kw), (sh, sw), (t, l, b, r) = a["kernel"], a["stride"], a["padding"]
    n, c, h, w = x.shape
    ho, eh = pool_geometry(h, kh, sh, t, b, a["ceil_mode"])
    wo, ew = pool_geometry(w, kw, sw, l, r, a["ceil_mode"])
    divisor = None if kind == "max" else _divisor(h, w, ho, wo, eh, ew, a).astype(x.dtype)
    if x.dtype == np.float32:
        from hwsim.kernels import jit_dense  # numba, on the first pooling only

        out = np.empty((n, ho, wo, c), np.float32)
        xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # no copy for a channels-last view
        jit_dense.pool_nhwc(xl, kh, kw, sh, sw, t, l, kind == "max",
                            divisor if divisor is not None else np.ones((1, 1), np.float32), out)
        return out.transpose(0, 3, 1, 2)
    fill = -np.inf if kind == "max" else 0.0
    xp = x
    if t or l or b + eh or r + ew:
        xp = np.pad(x, ((0, 0), (0, 0), (t, b + eh), (l, r + ew)), constant_values=fill)
    out = None
    for i in range(kh):  # loop over window taps only: each step is one strided view of the whole map
        for j in range(kw):
            win = xp[:, :, i: i + sh * (ho - 1) + 1: sh, j: j + sw * (wo - 1) + 1: sw]
            if out is None:
                out = win.copy()
            elif kind == "max":
                np.maximum(out, win, out=out)
            else:
                out += win
    assert out is not None
    if divisor is not None:
        out /= divisor
    return out


@register_kernel("maxpool", "dense", "exact")
def k_maxpool(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Max over kh x kw windows (padding is -inf; ceil_mode windows may overhang)."""
    return (_pool(call, "max"),)


@register_kernel("avgpool", "dense", "tolerance", rtol=1e-5)
def k_avgpool(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Mean over kh x kw windows; the divisor counts padding only if count_include_pad."""
    return (_pool(call, "avg"),)


@register_kernel("global_avgpool", "dense", "tolerance", rtol=1e-5)
def k_global_avgpool(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Mean over H x W -> N x C x 1 x 1; float32 by the compiled channels-last loop (float64 sums)."""
    x = call.inputs[0]
    if x.dtype != np.float32:
        return (x.mean(axis=(2, 3), keepdims=True),)
    from hwsim.kernels import jit_dense  # numba, on the first such pooling only

    n, c = x.shape[:2]
    last = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # no copy for a channels-last view
    out = np.empty((n, c), np.float32)
    jit_dense.channel_means(last.reshape(n, -1, c), out)
    return (out.reshape(n, c, 1, 1),)
