"""Dense conv2d kernels: direct (bounded workspace), im2col + one GEMM, and the depthwise case (a
compiled loop, channels-last). All handle groups, stride, dilation and asymmetric padding; NumPy code
loops over kernel taps only, never over pixels or channels. Each takes an epilogue (the bias, and the
batchnorm / relu / relu6 nodes the executor folds into the conv: ``hwsim.kernels.epilogue``), applied
inside the depthwise loop or in one compiled pass over a GEMM's output."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from hwsim.kernels.conv_common import ConvGeometry, col2out, group_matmul, im2col, pad_nchw, tap, weight_layout
from hwsim.kernels.epilogue import FOLDING_KERNELS, Epilogue, apply, build_epilogue, row_operands
from hwsim.kernels.packed_gemm import FusedEpilogue, PackedWeight, gemm, packed_layout, takes_packed
from hwsim.kernels.program import STEP_BINDERS, StepFn
from hwsim.kernels.registry import KernelCall, register_kernel

#: BLAS reassociates the channel sum; errors relative to the output's largest magnitude stay far below this.
GEMM_RTOL = 1e-4


def is_depthwise(x: np.ndarray, w: np.ndarray, g: ConvGeometry) -> bool:
    return g.groups == x.shape[1] and w.shape[1] == 1


def is_channels_last(x: np.ndarray) -> bool:
    """An NCHW-shaped array whose channels are adjacent in memory (NHWC storage seen through a
    transposed view), as the depthwise and pointwise kernels produce."""
    return x.ndim == 4 and x.shape[1] > 1 and x.strides[1] == x.itemsize


@dataclass(frozen=True)
class DepthwiseCall:
    """A depthwise conv ready to run on float32 inputs of one geometry: the weight laid out [kh, kw, O]
    and the epilogue's operands repeated for an output row, both made once (``depthwise``)."""

    wt: np.ndarray  # [kh, kw, O]
    g: ConvGeometry
    codes: np.ndarray
    vectors: np.ndarray  # [S, Wo * O]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        from hwsim.kernels import jit_dense  # numba, on the first depthwise conv only

        n, c = x.shape[:2]
        o, g = self.wt.shape[2], self.g
        xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1), np.float32)  # no copy for a channels-last view
        if o != c:
            xl = np.repeat(xl, o // c, axis=3)
        out = np.empty((n, g.ho, g.wo, o), np.float32)
        jit_dense.depthwise_nhwc(xl, self.wt, g.sh, g.sw, g.dh, g.dw, g.pads[0], g.pads[1], self.codes,
                                 self.vectors, out)
        return out.transpose(0, 3, 1, 2)


def depthwise_call(w: np.ndarray, g: ConvGeometry, ep: Epilogue) -> DepthwiseCall:
    wt = weight_layout(w, "hw_o", lambda: np.ascontiguousarray(w[:, 0].transpose(1, 2, 0), np.float32))  # kh, kw, O
    return DepthwiseCall(wt, g, ep.codes, ep.repeated(g.wo))


def depthwise(x: np.ndarray, w: np.ndarray, g: ConvGeometry, ep: Epilogue) -> np.ndarray:
    """out[n, o] = epilogue(sum over taps of w[o, 0, i, j] * x[n, o // m, shifted]) (channel multiplier
    m = O/C), by the compiled loop ``hwsim.kernels.jit_dense.depthwise_nhwc``.

    Computed channels-last in float32: the input is read as NHWC (free when it is a channels-last view,
    as the depthwise and pointwise kernels produce; one copy otherwise; channels repeated for a
    multiplier); each output sums its in-bounds taps in (i, j) order, then the epilogue (bias, folded
    batchnorm / activations) is applied to each output row before it leaves L1. The result is an NCHW-shaped view
    of NHWC memory; the pointwise kernel and NumPy's elementwise ops read it without a copy."""
    return depthwise_call(w, g, ep)(x)


def pointwise_channels_last(x: np.ndarray, w: np.ndarray, ep: Epilogue) -> np.ndarray:
    """A 1x1 stride-1 unpadded ungrouped conv of a channels-last input, then ``ep``: one GEMM
    [N*H*W, C] x [C, O] whose result is channels-last again (no copy on either side). float32 runs
    ``PointwiseCall`` (the packed GEMM, epilogue fused); other dtypes BLAS, then ``apply``."""
    if x.dtype == np.float32 and w.dtype == np.float32:
        return pointwise_call(w, ep)(x)
    n, c, h, wd = x.shape
    y = x.transpose(0, 2, 3, 1).reshape(n * h * wd, c) @ _c_o(w)
    return apply(y.reshape(n, h, wd, w.shape[0]).transpose(0, 3, 1, 2), ep)


def _c_o(w: np.ndarray) -> np.ndarray:
    o, c = w.shape[:2]
    return weight_layout(w, "c_o", lambda: np.ascontiguousarray(w.reshape(o, c).T))


@dataclass(frozen=True)
class PointwiseCall:
    """``pointwise_channels_last(x, w, ep)`` for float32 channels-last inputs, its weight
    layouts and the epilogue's operands made once: at least ``packed_gemm.ROWS`` pixels take the packed
    GEMM with the epilogue fused (``hwsim.kernels.packed_gemm``), fewer take BLAS then one compiled
    pass over the [N*H*W, O] result (``epilogue.apply`` on channels-last data)."""

    wm: np.ndarray  # [C, O]
    packed: PackedWeight
    fused: FusedEpilogue
    codes: np.ndarray | None  # None: no epilogue
    vectors: np.ndarray | None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, c, h, wd = x.shape
        rows = n * h * wd
        xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # no copy for a channels-last view
        if takes_packed(rows, xl.dtype):
            y = gemm(xl.reshape(-1), c, 1, rows, self.packed, self.fused)
        else:
            y = xl.reshape(rows, c) @ self.wm
            if self.codes is not None:
                from hwsim.kernels import jit_dense  # numba, on the first folded run only

                jit_dense.epilogue_rows(y, self.codes, self.vectors)
        return y.reshape(n, h, wd, self.wm.shape[1]).transpose(0, 3, 1, 2)


def pointwise_call(w: np.ndarray, ep: Epilogue) -> PointwiseCall:
    wm = _c_o(w)
    packed = packed_layout(w, "c_o", wm)
    if ep.empty:
        return PointwiseCall(wm, packed, FusedEpilogue.of(None, wm.shape[1]), None, None)
    return PointwiseCall(wm, packed, FusedEpilogue.of(ep, wm.shape[1]), ep.codes, row_operands(ep, w.shape[0]))


#: Above this many patch-matrix bytes, direct convolution accumulates per tap instead of forming patches.
PATCH_BUDGET_BYTES = 64 << 20


def conv_direct(x: np.ndarray, w: np.ndarray, g: ConvGeometry, ep: Epilogue | None = None) -> np.ndarray:
    """Direct convolution (no transform of the arithmetic), then ``ep``. Depthwise convs run the
    compiled loop; others are lowered to one GEMM over the patch matrix when that fits
    ``PATCH_BUDGET_BYTES`` (BLAS is fastest so), else to a GEMM per kernel tap accumulated in place,
    whose workspace is one shifted copy of the input."""
    ep = ep if ep is not None else build_epilogue(w.shape[0], dtype=x.dtype)
    compiled = x.dtype == np.float32 and w.dtype == np.float32
    # one input channel (LeNet's conv1): one GEMM is 5x faster than the depthwise loop
    if compiled and is_depthwise(x, w, g) and x.shape[1] > 1:
        return depthwise(x, w, g, ep)
    if g.pointwise and g.groups == 1 and is_channels_last(x):
        return pointwise_channels_last(x, w, ep)
    patch_bytes = x.shape[0] * x.shape[1] * g.kh * g.kw * g.ho * g.wo * x.itemsize
    if patch_bytes <= PATCH_BUDGET_BYTES:
        return conv_im2col(x, w, g, ep)
    return apply(conv_taps(x, w, g), ep)


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


def conv_im2col(x: np.ndarray, w: np.ndarray, g: ConvGeometry, ep: Epilogue | None = None) -> np.ndarray:
    """One patch matrix, one GEMM against the flattened weight, then ``ep``. Ungrouped float32 convs
    run channels-last (``conv_nhwc``); grouped ones, and other dtypes (a float64 oracle run: the
    compiled loops are float32 only), take NumPy patches [Cg*kh*kw, N*Ho*Wo] per group."""
    ep = ep if ep is not None else build_epilogue(w.shape[0], dtype=x.dtype)
    compiled = x.dtype == np.float32 and w.dtype == np.float32
    if compiled and is_depthwise(x, w, g) and w.shape[0] == x.shape[1]:
        return depthwise(x, w, g, ep)
    if g.pointwise and g.groups == 1 and is_channels_last(x):
        return pointwise_channels_last(x, w, ep)
    if compiled and g.groups == 1 and not (g.pointwise and x.flags.c_contiguous):
        return conv_nhwc(x, w, g, ep)
    wm = w.reshape(g.groups, w.shape[0] // g.groups, -1)
    return apply(col2out(group_matmul(wm, im2col(x, g)), x.shape[0], g), ep)


def conv_nhwc(x: np.ndarray, w: np.ndarray, g: ConvGeometry, ep: Epilogue) -> np.ndarray:
    """An ungrouped float32 conv channels-last, then ``ep``: the compiled patch copy
    (``jit_dense.im2col_nhwc``: each tap a contiguous run of channels; from a planar NCHW input, such
    as the network's input image, ``im2col_nchw_t`` fills the transposed patch matrix along input rows
    instead of first copying the input to channels-last, 2x faster for a 3-channel stem) then one
    GEMM [N*Ho*Wo, kh*kw*C] x [kh*kw*C, O] whose result is channels-last (an NCHW-shaped view of NHWC
    memory, as the depthwise and pointwise kernels give): the packed GEMM with ``ep`` fused when
    ``packed_gemm.takes_packed``, else BLAS then ``apply``. The weight's [kh*kw*C, O] layout (and its
    packing) is made once per stored weight."""
    from hwsim.kernels import jit_dense  # numba, on the first such conv only

    n, c = x.shape[:2]
    o = w.shape[0]
    t, l = g.pads[:2]
    rows, depth = n * g.ho * g.wo, g.kh * g.kw * c
    wk = weight_layout(w, "hwc_o", lambda: np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(-1, o), np.float32))
    if x.flags.c_contiguous and not is_channels_last(x):  # planar (a network's input): patches from it
        cols_t = np.empty((depth, rows), np.float32)
        jit_dense.im2col_nchw_t(x, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, t, l, g.ho, g.wo, cols_t)
        cols, steps = cols_t.T, (1, rows)
    else:
        xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1), np.float32)  # no copy for a channels-last view
        cols = np.empty((rows, depth), np.float32)
        jit_dense.im2col_nhwc(xl, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, t, l, g.ho, g.wo, cols)
        steps = (depth, 1)
    if takes_packed(rows, cols.dtype):
        base = cols_t if steps[0] == 1 else cols
        y = gemm(base.reshape(-1), steps[0], steps[1], rows, packed_layout(w, "hwc_o", wk), FusedEpilogue.of(ep, o))
        return y.reshape(n, g.ho, g.wo, o).transpose(0, 3, 1, 2)
    return apply((cols @ wk).reshape(n, g.ho, g.wo, o).transpose(0, 3, 1, 2), ep)


def _prepared(call: KernelCall, x: np.ndarray, folded: Sequence[KernelCall]) -> tuple[np.ndarray, Epilogue]:
    """The weight in ``x``'s dtype and the epilogue of the node's bias, then the folded batchnorm /
    relu / relu6 nodes (the program made once per stored weight and operands, as the reordered
    weights are)."""
    w = np.asarray(call.weight("weight"), dtype=x.dtype)
    b = call.weight("bias")
    operands = (b, *(v for fc in folded for v in fc.weights.values()))
    key = ("epilogue", x.dtype.str, tuple(id(v) for v in operands),
           tuple((fc.node.op, fc.attrs.get("eps")) for fc in folded))
    ep = weight_layout(w, key, lambda: (operands, build_epilogue(w.shape[0], None if b is None else np.asarray(b),
                                                                 folded, x.dtype)))[1]
    return w, ep


def _run(call: KernelCall, conv: Callable[..., np.ndarray], folded: Sequence[KernelCall]) -> tuple[np.ndarray, ...]:
    """Run ``conv`` with the node's epilogue (``_prepared``)."""
    x = call.inputs[0]
    w, ep = _prepared(call, x, folded)
    return (conv(x, w, ConvGeometry.of(call.attrs, x.shape), ep),)


def _specialized(x: np.ndarray, w: np.ndarray, g: ConvGeometry, ep: Epilogue,
                 conv: Callable[..., np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """What ``conv`` (``conv_direct`` or ``conv_im2col``) does for inputs of ``x``'s dtype, shape and
    strides, decided once: the depthwise loop or the channels-last pointwise GEMM with their
    layouts made (the same calls, so the same bits), else ``conv`` itself."""
    compiled = x.dtype == np.float32 and w.dtype == np.float32
    takes_depthwise = x.shape[1] > 1 if conv is conv_direct else w.shape[0] == x.shape[1]
    if compiled and is_depthwise(x, w, g) and takes_depthwise:
        return depthwise_call(w, g, ep)
    if compiled and g.pointwise and g.groups == 1 and is_channels_last(x):
        return pointwise_call(w, ep)
    return partial(conv, w=w, g=g, ep=ep)


def _binder(conv: Callable[..., np.ndarray]) -> Callable[[KernelCall, Sequence[KernelCall]], StepFn]:
    """A bound step computing what ``_run`` computes with ``conv``: weight, epilogue, geometry and the
    path ``conv`` takes (``_specialized``) decided once per input dtype, shape and strides."""
    def bind(call: KernelCall, folded: Sequence[KernelCall]) -> StepFn:
        made: dict[tuple[str, tuple[int, ...], tuple[int, ...]], Callable[[np.ndarray], np.ndarray]] = {}

        def run(ins: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
            x = ins[0]
            key = (x.dtype.str, x.shape, x.strides)
            fn = made.get(key)
            if fn is None:
                w, ep = _prepared(call, x, folded)
                fn = made[key] = _specialized(x, w, ConvGeometry.of(call.attrs, x.shape), ep, conv)
            return (fn(x),)

        return run

    return bind


@register_kernel("conv2d", "direct", "tolerance", rtol=GEMM_RTOL)
def k_conv_direct(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Dense conv2d, direct: compiled depthwise loop; GEMM over a bounded patch matrix, or per-tap
    GEMMs for large inputs."""
    return _run(call, conv_direct, ())


@register_kernel("conv2d", "im2col", "tolerance", rtol=GEMM_RTOL)
def k_conv_im2col(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Dense conv2d, im2col + GEMM: strided window view copied once into a patch matrix."""
    return _run(call, conv_im2col, ())


FOLDING_KERNELS.register(("conv2d", "direct"), lambda call, folded: _run(call, conv_direct, folded))
FOLDING_KERNELS.register(("conv2d", "im2col"), lambda call, folded: _run(call, conv_im2col, folded))
STEP_BINDERS.register(("conv2d", "direct"), _binder(conv_direct))
STEP_BINDERS.register(("conv2d", "im2col"), _binder(conv_im2col))
