"""Dense conv2d kernels: direct (one GEMM per kernel tap, no patch matrix), im2col + one GEMM, and the
depthwise case (a multiply-add per tap over whole feature maps). All handle groups, stride, dilation
and asymmetric padding; loops run over kernel taps only, never over pixels or channels."""

from __future__ import annotations

import numpy as np

from hwsim.kernels.conv_common import ConvGeometry, add_bias, im2col, pad_nchw, tap
from hwsim.kernels.registry import KernelCall, register_kernel

#: BLAS reassociates the channel sum; errors relative to the output's largest magnitude stay far below this.
GEMM_RTOL = 1e-4


def is_depthwise(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> bool:
    return g.groups == x.shape[1] and w.shape[1] == 1


def depthwise(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """out[n, c] = sum over taps of w[c, 0, i, j] * x[n, c/m, shifted] (channel multiplier m = O/C)."""
    xp = pad_nchw(x, g.pads)
    mult = w.shape[0] // x.shape[1]
    if mult > 1:
        xp = np.repeat(xp, mult, axis=1)
    out = np.zeros((x.shape[0], w.shape[0], g.ho, g.wo), np.result_type(x, w))
    for i in range(g.kh):
        for j in range(g.kw):
            out += tap(xp, g, i, j) * w[:, 0, i, j][None, :, None, None]
    return out


def conv_direct(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Sum over kernel taps of a 1x1 convolution of the shifted input (grouped GEMM per tap)."""
    if is_depthwise(x, w, g):
        return depthwise(x, w, g)
    n, c = x.shape[:2]
    o = w.shape[0]
    gr = g.groups
    cg, og = c // gr, o // gr
    wg = w.reshape(gr, og, cg, g.kh, g.kw)
    if g.pointwise:
        xs = x.reshape(n, gr, cg, g.ho * g.wo)
        return np.matmul(wg[None, :, :, :, 0, 0], xs).reshape(n, o, g.ho, g.wo)
    xp = pad_nchw(x, g.pads)
    out = np.zeros((n, gr, og, g.ho * g.wo), np.result_type(x, w))
    for i in range(g.kh):
        for j in range(g.kw):
            xs = np.ascontiguousarray(tap(xp, g, i, j)).reshape(n, gr, cg, g.ho * g.wo)
            out += np.matmul(wg[None, :, :, :, i, j], xs)
    return out.reshape(n, o, g.ho, g.wo)


def conv_im2col(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """One patch matrix [Cg*kh*kw, Ho*Wo] per image and group, one GEMM against the flattened weight."""
    if is_depthwise(x, w, g) and w.shape[0] == x.shape[1]:
        return depthwise(x, w, g)
    n = x.shape[0]
    o = w.shape[0]
    gr = g.groups
    if g.pointwise:
        cols = x.reshape(n, gr, x.shape[1] // gr, g.ho * g.wo)
    else:
        cols = im2col(x, g)
    wm = w.reshape(gr, o // gr, -1)
    return np.matmul(wm[None], cols).reshape(n, o, g.ho, g.wo)


def _bias(call: KernelCall) -> np.ndarray | None:
    b = call.weight("bias")
    return None if b is None else np.asarray(b)


@register_kernel("conv2d", "direct", "tolerance", rtol=GEMM_RTOL)
def k_conv_direct(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Dense conv2d, direct: a GEMM per kernel tap accumulated in place (no im2col buffer)."""
    x = call.inputs[0]
    w = np.asarray(call.weight("weight"), dtype=x.dtype)
    return (add_bias(conv_direct(x, w, ConvGeometry.of(call.attrs, x.shape)), _bias(call)),)


@register_kernel("conv2d", "im2col", "tolerance", rtol=GEMM_RTOL)
def k_conv_im2col(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Dense conv2d, im2col + GEMM: strided window view copied once into a patch matrix."""
    x = call.inputs[0]
    w = np.asarray(call.weight("weight"), dtype=x.dtype)
    return (add_bias(conv_im2col(x, w, ConvGeometry.of(call.attrs, x.shape)), _bias(call)),)
