"""Dense conv2d kernels: direct (bounded workspace), im2col + one GEMM, and the
depthwise case (a multiply-add per tap over channels-last views). All handle groups, stride, dilation
and asymmetric padding; loops run over kernel taps only, never over pixels or channels."""

from __future__ import annotations

import numpy as np

from hwsim.kernels.conv_common import ConvGeometry, add_bias, col2out, group_matmul, im2col, pad_nchw, tap
from hwsim.kernels.registry import KernelCall, register_kernel

#: BLAS reassociates the channel sum; errors relative to the output's largest magnitude stay far below this.
GEMM_RTOL = 1e-4


def is_depthwise(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> bool:
    return g.groups == x.shape[1] and w.shape[1] == 1


#: Bytes of output and scratch rows one row block of a depthwise conv touches (stays in L2).
DEPTHWISE_BLOCK_BYTES = 512 << 10


def is_channels_last(x: np.ndarray) -> bool:
    """An NCHW-shaped array whose channels are adjacent in memory (NHWC storage seen through a
    transposed view), as the depthwise and pointwise kernels produce."""
    return x.ndim == 4 and x.shape[1] > 1 and x.strides[1] == x.itemsize


def depthwise(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """out[n, o] = sum over taps of w[o, 0, i, j] * x[n, o // m, shifted] (channel multiplier m = O/C).

    Computed channels-last: the input is copied once into a zero-padded NHWC buffer (channel-multiplied),
    then every tap is one multiply-add over a strided view whose inner axis is the channels (long
    contiguous runs, whatever the feature-map width), one block of output rows at a time so that the
    block and its scratch stay in L2 (``DEPTHWISE_BLOCK_BYTES``). Each output sums its taps in (i, j)
    order, in the operands' dtype. The result is an NCHW-shaped view of NHWC memory; the pointwise
    kernel and NumPy's elementwise ops read it without a copy."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    mult = o // c
    t, l, b, r = g.pads
    dtype = np.result_type(x, w)
    padded = np.zeros((n, h + t + b, wd + l + r, c, mult), dtype)
    padded[:, t:t + h, l:l + wd] = x.transpose(0, 2, 3, 1)[..., None]
    xp = padded.reshape(n, h + t + b, wd + l + r, o)
    wt = np.ascontiguousarray(w[:, 0].reshape(o, g.kh * g.kw).T, dtype=dtype)  # [taps, O]
    out = np.empty((n, g.ho, g.wo, o), dtype)
    row_bytes = n * g.wo * o * dtype.itemsize
    rows = max(1, min(g.ho, DEPTHWISE_BLOCK_BYTES // max(row_bytes * (2 + g.sh), 1)))
    scratch = np.empty((n, rows, g.wo, o), dtype)
    col_span = g.sw * (g.wo - 1) + 1
    for r0 in range(0, g.ho, rows):
        r1 = min(r0 + rows, g.ho)
        ob, tmp = out[:, r0:r1], scratch[:, : r1 - r0]
        for i in range(g.kh):
            top = i * g.dh + g.sh * r0
            for j in range(g.kw):
                left = j * g.dw
                tap_view = xp[:, top: top + g.sh * (r1 - r0 - 1) + 1: g.sh, left: left + col_span: g.sw]
                if i == 0 and j == 0:
                    np.multiply(tap_view, wt[0], out=ob)
                else:
                    np.multiply(tap_view, wt[i * g.kw + j], out=tmp)
                    ob += tmp
    return out.transpose(0, 3, 1, 2)


def pointwise_channels_last(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A 1x1 stride-1 unpadded ungrouped conv of a channels-last input: one GEMM [N*H*W, C] x [C, O],
    whose result is channels-last again (no copy on either side)."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    y = x.transpose(0, 2, 3, 1).reshape(n * h * wd, c) @ w.reshape(o, c).T
    return y.reshape(n, h, wd, o).transpose(0, 3, 1, 2)


#: Above this many patch-matrix bytes, direct convolution accumulates per tap instead of forming patches.
PATCH_BUDGET_BYTES = 64 << 20


def conv_direct(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Direct convolution (no transform of the arithmetic). Lowered to one GEMM over the patch matrix
    when that fits ``PATCH_BUDGET_BYTES`` (BLAS is fastest so), else to a GEMM per kernel tap
    accumulated in place, whose workspace is one shifted copy of the input."""
    if is_depthwise(x, w, g) and x.shape[1] > 1:  # one input channel (LeNet's conv1): one GEMM is 5x faster
        return depthwise(x, w, g)
    if g.pointwise and g.groups == 1 and is_channels_last(x):
        return pointwise_channels_last(x, w)
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
    if g.pointwise and g.groups == 1 and is_channels_last(x):
        return pointwise_channels_last(x, w)
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
