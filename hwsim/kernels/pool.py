"""Max, average and global-average pooling: one vectorized step per window tap over strided views
(never a Python loop over pixels or channels)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hwsim.kernels.reference import pool_geometry
from hwsim.kernels.registry import KernelCall, register_kernel


def _pool(call: KernelCall, kind: str) -> np.ndarray:
    x = call.inputs[0]
    a = call.attrs
    (kh, kw), (sh, sw), (t, l, b, r) = a["kernel"], a["stride"], a["padding"]
    h, w = x.shape[2], x.shape[3]
    ho, eh = pool_geometry(h, kh, sh, t, b, a["ceil_mode"])
    wo, ew = pool_geometry(w, kw, sw, l, r, a["ceil_mode"])
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
    if kind == "max":
        return out
    threshold = 1 if a["count_include_pad"] else 2
    # count of the window positions that hold input (or explicit padding when count_include_pad)
    rows_in = np.r_[np.ones(t), 2 * np.ones(h), np.ones(b), np.zeros(eh)] >= threshold
    cols_in = np.r_[np.ones(l), 2 * np.ones(w), np.ones(r), np.zeros(ew)] >= threshold
    rc = sliding_window_view(rows_in.astype(np.int64), kh)[::sh][:ho].sum(axis=1)
    cc = sliding_window_view(cols_in.astype(np.int64), kw)[::sw][:wo].sum(axis=1)
    out /= np.maximum(rc[:, None] * cc[None, :], 1).astype(x.dtype)
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
    """Mean over H x W -> N x C x 1 x 1."""
    return (call.inputs[0].mean(axis=(2, 3), keepdims=True),)
