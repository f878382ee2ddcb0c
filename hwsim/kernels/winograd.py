"""Winograd minimal-filtering convolution F(m x m, 3 x 3) (Lavin & Gray, CVPR 2016).

Y = A^T [ (G g G^T) . (B^T d B) ] A per (m + 2) x (m + 2) input tile d overlapping by 2; the elementwise
product becomes (m + 2)^2 independent GEMMs over channels, one per tile position. Errors grow with m:
Lavin & Gray's Table 4 reports max element errors of 1.53e-5 for F(2x2,3x3) and 2.84e-4 for
F(4x4,3x3) in fp32 (direct: 4.01e-5) on VGG layer 1.2, which the stated tolerances follow.
"""

from __future__ import annotations

import math

import numpy as np

from numpy.lib.stride_tricks import sliding_window_view

from hwsim.kernels.conv_common import ConvGeometry, add_bias, pad_nchw
from hwsim.kernels.registry import KernelCall, register_kernel

# Transform matrices (Lavin & Gray Sections 4.1 and 4.3; F(4x4,3x3) uses points 0, +-1, +-2, inf).
F2 = {
    "BT": np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64),
    "G": np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64),
    "AT": np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64),
}
F4 = {
    "BT": np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                    [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64),
    "G": np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                   [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64),
    "AT": np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                   np.float64),
}
VARIANTS = {"winograd_f2x2_3x3": (2, F2), "winograd_f4x4_3x3": (4, F4)}


def filter_transform(w: np.ndarray, mats: dict[str, np.ndarray], dt: np.dtype) -> np.ndarray:
    """U = G g G^T for every (out, in) filter pair: [a, a, O, Cg]."""
    g = mats["G"].astype(dt)
    return np.einsum("ai,ocij,bj->aboc", g, w.astype(dt), g, optimize=True)


def winograd_conv(x: np.ndarray, w: np.ndarray, geo: ConvGeometry, m: int, mats: dict[str, np.ndarray]) -> np.ndarray:
    """Winograd F(m x m, 3 x 3), stride 1, any groups; output tiles cover Ho x Wo (edge tiles cropped)."""
    dt = np.result_type(x, w)
    a = m + 2
    n, c = x.shape[:2]
    o = w.shape[0]
    gr = geo.groups
    cg, og = c // gr, o // gr
    th, tw = math.ceil(geo.ho / m), math.ceil(geo.wo / m)
    xp = pad_nchw(x, geo.pads)
    need_h, need_w = th * m + 2, tw * m + 2
    xp = np.pad(xp, ((0, 0), (0, 0), (0, max(0, need_h - xp.shape[2])), (0, max(0, need_w - xp.shape[3]))))
    tiles = sliding_window_view(xp[:, :, :need_h, :need_w], (a, a), axis=(2, 3))[:, :, ::m, ::m]  # N,C,th,tw,a,a
    bt = mats["BT"].astype(dt)
    # data transform V = B^T d B, arranged [a, a, G, Cg, N*th*tw] for the per-position GEMMs
    d = tiles.reshape(n, gr, cg, th, tw, a, a)
    v = np.einsum("ai,ngctsij,bj->abgcnts", bt, d, bt, optimize=True).reshape(a, a, gr, cg, n * th * tw)
    u = filter_transform(w, mats, dt).reshape(a, a, gr, og, cg)
    mprod = np.matmul(u, v)  # a, a, G, Og, P
    at = mats["AT"].astype(dt)
    y = np.einsum("ia,abgop,jb->gopij", at, mprod, at, optimize=True)  # G, Og, P, m, m
    y = y.reshape(gr * og, n, th, tw, m, m).transpose(1, 0, 2, 4, 3, 5).reshape(n, o, th * m, tw * m)
    return np.ascontiguousarray(y[:, :, :geo.ho, :geo.wo])


def _make(name: str, rtol: float) -> None:
    m, mats = VARIANTS[name]

    def kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
        x = call.inputs[0]
        w = np.asarray(call.weight("weight"), dtype=x.dtype)
        geo = ConvGeometry.of(call.attrs, x.shape)
        b = call.weight("bias")
        return (add_bias(winograd_conv(x, w, geo, m, mats), None if b is None else np.asarray(b)),)

    kernel.__doc__ = (f"Dense conv2d by Winograd F({m}x{m},3x3): {(m + 2) ** 2} multiplies per {m}x{m} output "
                      f"tile per channel pair instead of {9 * m * m}; transforms in fp32.")
    register_kernel("conv2d", name, "tolerance", rtol=rtol)(kernel)


# Relative to the output's largest magnitude; Lavin & Gray's F(4x4) error is ~20x F(2x2)'s.
_make("winograd_f2x2_3x3", 1e-4)
_make("winograd_f4x4_3x3", 1e-3)
