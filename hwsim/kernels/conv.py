"""Dense conv2d kernels: direct (bounded workspace), im2col + one GEMM, and the
depthwise case (a multiply-add per tap over whole feature maps). All handle groups, stride, dilation
and asymmetric padding; loops run over kernel taps only, never over pixels or channels."""

from __future__ import annotations

import numpy as np

from hwsim.kernels.conv_common import ConvGeometry, add_bias, col2out, group_matmul, im2col, pad_nchw, tap
from hwsim.kernels.registry import KernelCall, register_kernel

#: BLAS reassociates the channel sum; errors relative to the output's largest magnitude stay far below this.
GEMM_RTOL = 1e-4


def is_depthwise(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> bool:
    return g.groups == x.shape[1] and w.shape[1] == 1


#: Bytes of input, output and scratch one channel block of a depthwise conv may touch (stays in L2).
DEPTHWISE_BLOCK_BYTES = 256 << 10


def depthwise(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """out[n, c] = sum over taps of w[c, 0, i, j] * x[n, c/m, shifted] (channel multiplier m = O/C).

    Channels go in blocks whose padded input, output and one scratch tile fit ``DEPTHWISE_BLOCK_BYTES``,
    so the kh*kw multiply-add passes over a block run in cache; each element still sums its taps in
    (i, j) order, as one pass over whole feature maps would."""
    xp = pad_nchw(x, g.pads)
    mult = w.shape[0] // x.shape[1]
    if mult > 1:
        xp = np.repeat(xp, mult, axis=1)
    n, o = x.shape[0], w.shape[0]
    dtype = np.result_type(x, w)
    out = np.empty((n, o, g.ho, g.wo), dtype)
    per_channel = n * (xp.shape[2] * xp.shape[3] + 2 * g.ho * g.wo) * dtype.itemsize
    block = max(1, min(o, DEPTHWISE_BLOCK_BYTES // max(per_channel, 1)))
    scratch = np.empty((n, block, g.ho, g.wo), dtype)
    wt = np.ascontiguousarray(w[:, 0].reshape(o, g.kh * g.kw).T, dtype=dtype)  # [taps, O]
    for c0 in range(0, o, block):
        c1 = min(c0 + block, o)
        xb, ob, tmp = xp[:, c0:c1], out[:, c0:c1], scratch[:, : c1 - c0]
        ob.fill(0)
        for i in range(g.kh):
            for j in range(g.kw):
                np.multiply(tap(xb, g, i, j), wt[i * g.kw + j, c0:c1, None, None], out=tmp)
                ob += tmp
    return out


#: Above this many patch-matrix bytes, direct convolution accumulates per tap instead of forming patches.
PATCH_BUDGET_BYTES = 64 << 20


def conv_direct(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Direct convolution (no transform of the arithmetic). Lowered to one GEMM over the patch matrix
    when that fits ``PATCH_BUDGET_BYTES`` (BLAS is fastest so), else to a GEMM per kernel tap
    accumulated in place, whose workspace is one shifted copy of the input."""
    if is_depthwise(x, w, g) and x.shape[1] > 1:  # one input channel (LeNet's conv1): one GEMM is 5x faster
        return depthwise(x, w, g)
    patch_bytes = x.shape[0] * x.shape[1] * g.kh * g.kw * g.ho * g.wo * x.itemsize
    if patch_bytes <= PATCH_BUDGET_BYTES:
        return conv_im2col(x, w, g)
    return conv_taps(x, w, g)


def conv_taps(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Sum over kernel taps of a 1x1 convolution of the shifted input (grouped GEMM per tap)."""
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
    """One patch matrix [Cg*kh*kw, N*Ho*Wo] per group, one GEMM against the flattened weight."""
    if is_depthwise(x, w, g) and w.shape[0] == x.shape[1]:
        return depthwise(x, w, g)
    wm = w.reshape(g.groups, w.shape[0] // g.groups, -1)
    return col2out(group_matmul(wm, im2col(x, g)), x.shape[0], g)


def _bias(call: KernelCall) -> np.ndarray | None:
    b = call.weight("bias")
    return None if b is None else np.asarray(b)


@register_kernel("conv2d", "direct", "tolerance", rtol=GEMM_RTOL)
def k_conv_direct(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Dense conv2d, direct: GEMM over a bounded patch matrix, or per-tap GEMMs for large inputs."""
    x = call.inputs[0]
    w = np.asarray(call.weight("weight"), dtype=x.dtype)
    return (add_bias(conv_direct(x, w, ConvGeometry.of(call.attrs, x.shape)), _bias(call)),)


@register_kernel("conv2d", "im2col", "tolerance", rtol=GEMM_RTOL)
def k_conv_im2col(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Dense conv2d, im2col + GEMM: strided window view copied once into a patch matrix."""
    x = call.inputs[0]
    w = np.asarray(call.weight("weight"), dtype=x.dtype)
    return (add_bias(conv_im2col(x, w, ConvGeometry.of(call.attrs, x.shape)), _bias(call)),)
