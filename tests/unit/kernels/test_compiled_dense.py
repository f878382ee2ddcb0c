"""The compiled (numba) loops of the fp32 executor (hwsim/kernels/jit_dense.py) against the fp64
reference definitions, on the paths the small cases of test_dense_kernels do not reach: depthwise
interior pixels of 3x3 and 5x5 kernels (taps unrolled), channels-last inputs, the epilogue stages
applied to every layout, and sigmoid / SiLU's polynomial exp."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.kernels import KERNELS, execute
from hwsim.kernels.conv import depthwise
from hwsim.kernels.conv_common import ConvGeometry
from hwsim.kernels.epilogue import ADD, MUL, RELU, RELU6, SIGMOID, SILU, Epilogue, apply, build_epilogue
from kernel_helpers import one_node, random_inputs, reference_outputs, rel_err


@pytest.mark.parametrize("shape, attrs", [
    ((1, 16, 20, 20), dict(out_channels=16, kernel=3, padding=1, groups=16, bias=True)),
    ((1, 24, 17, 19), dict(out_channels=24, kernel=5, padding=2, stride=2, groups=24)),
    ((2, 40, 9, 9), dict(out_channels=40, kernel=5, padding=2, groups=40, bias=True)),
    ((1, 8, 12, 12), dict(out_channels=8, kernel=7, padding=3, groups=8)),  # neither 3x3 nor 5x5
], ids=["3x3", "5x5-stride2", "5x5-batch2", "7x7"])
def test_depthwise_interior_and_border_pixels_match_reference(shape, attrs):
    g = one_node("conv2d", [shape], attrs)
    x = random_inputs(g)
    ref = reference_outputs(g, x)[0]
    assert rel_err(execute(g, x).output, ref) <= 1e-6  # each output sums its own taps in order: no BLAS


def test_depthwise_reads_channels_last_without_changing_the_result():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 32, 14, 14)).astype(np.float32)
    w = rng.standard_normal((32, 1, 3, 3)).astype(np.float32)
    g = ConvGeometry.of({"kernel": [3, 3], "stride": [1, 1], "dilation": [1, 1], "padding": [1, 1, 1, 1],
                         "groups": 32}, x.shape)
    ep = build_epilogue(32)
    last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    a, b = depthwise(x, w, g, ep), depthwise(last, w, g, ep)
    np.testing.assert_array_equal(a, b)
    assert a.transpose(0, 2, 3, 1).flags.c_contiguous  # the result is channels-last too


def _numpy_stages(y: np.ndarray, ep: Epilogue) -> np.ndarray:
    """The float32 NumPy operations the stages stand for (the unfused kernels' own arithmetic)."""
    y = y.copy()
    shape = (1, -1) + (1,) * (y.ndim - 2)
    for code, v in zip(ep.codes, ep.vectors):
        if code == ADD:
            y += v.reshape(shape)
        elif code == MUL:
            y *= v.reshape(shape)
        elif code == RELU:
            y = np.maximum(y, np.float32(0))
        elif code == RELU6:
            y = np.clip(y, np.float32(0), np.float32(6))
    return y


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "features"])
def test_affine_and_clipping_stages_are_bit_identical_to_numpy_in_every_layout(layout):
    rng = np.random.default_rng(1)
    c = 5
    ep = Epilogue(np.array([ADD, MUL, ADD, RELU, RELU6], np.int64),
                  (rng.standard_normal((5, c)) * 4).astype(np.float32))
    shape = (3, c) if layout == "features" else (2, c, 7, 6)
    y = (rng.standard_normal(shape) * 5).astype(np.float32)
    y.flat[:4] = [np.nan, -0.0, 0.0, np.inf]
    if layout == "channels_last":
        y = np.ascontiguousarray(y.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    expected = _numpy_stages(y, ep)
    out = apply(y.copy() if layout != "channels_last" else y, ep)
    np.testing.assert_array_equal(out, expected)  # NaN in the same places, same bits elsewhere
    assert np.signbit(out).tolist() == np.signbit(expected).tolist()


@pytest.mark.parametrize("op, exact", [("sigmoid", lambda v: 1 / (1 + np.exp(-v))),
                                       ("silu", lambda v: v / (1 + np.exp(-v)))])
def test_sigmoid_and_silu_are_within_a_few_ulps_of_the_exact_values(op, exact):
    x = np.concatenate([np.linspace(-90, 90, 20001), [-1e30, -200, 200, 1e30]]).astype(np.float32)
    g = one_node(op, [(1, x.size)], {})
    out = execute(g, {"x0": x[None]}).output[0]
    with np.errstate(over="ignore"):
        ref = exact(x.astype(np.float64))
    tiny = np.abs(ref) < 1e-30
    err = np.abs(out - ref)
    assert np.all(err[tiny] <= 1e-30)
    assert np.max(err[~tiny] / np.spacing(np.abs(ref[~tiny]).astype(np.float32))) <= 4  # Cephes expf: 1 ulp
    assert rel_err(out, ref) <= KERNELS[(op, "dense")].rtol


def test_sigmoid_stage_propagates_nan():
    y = np.array([[np.nan, 0.0, 1.0]], np.float32)
    out = apply(y, Epilogue(np.array([SIGMOID, SILU], np.int64), np.zeros((2, 3), np.float32)))
    assert np.isnan(out[0, 0]) and np.isfinite(out[0, 1:]).all()


@pytest.mark.parametrize("shape, k, stride, dil, pads", [
    ((1, 3, 23, 19), 3, 2, 1, (1, 1, 1, 1)),
    ((2, 4, 11, 9), 3, 1, 2, (2, 0, 1, 3)),  # asymmetric padding, dilation, batch 2
    ((1, 3, 30, 30), 7, 2, 1, (3, 3, 3, 3)),
    ((1, 2, 5, 6), 2, 3, 1, (0, 0, 0, 0)),
], ids=["stem", "dilated-asym-batch2", "7x7", "stride3"])
def test_planar_patches_are_the_channels_last_patches_transposed(shape, k, stride, dil, pads):
    """``im2col_nchw_t`` (patches of a planar input, e.g. the network's input image) holds exactly the
    values ``im2col_nhwc`` copies from the channels-last input, padding zeros included."""
    from hwsim.kernels import jit_dense

    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    g = ConvGeometry.of({"kernel": [k, k], "stride": [stride] * 2, "dilation": [dil] * 2, "padding": list(pads),
                         "groups": 1}, x.shape)
    n, c = shape[:2]
    cols = np.full((n * g.ho * g.wo, k * k * c), np.nan, np.float32)
    jit_dense.im2col_nhwc(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), k, k, stride, stride, dil, dil,
                          pads[0], pads[1], g.ho, g.wo, cols)
    cols_t = np.full((k * k * c, n * g.ho * g.wo), np.nan, np.float32)
    jit_dense.im2col_nchw_t(x, k, k, stride, stride, dil, dil, pads[0], pads[1], g.ho, g.wo, cols_t)
    np.testing.assert_array_equal(cols_t.T, cols)


@pytest.mark.parametrize("c, size, k, stride", [(16, 14, 3, 1), (24, 15, 3, 2), (8, 12, 5, 1), (40, 13, 5, 2),
                                                (12, 10, 3, 1), (24, 20, 3, 1), (40, 21, 5, 1), (48, 23, 3, 2),
                                                (56, 27, 5, 2), (17, 12, 7, 1), (33, 10, 3, 3)],
                         ids=["3x3", "3x3-stride2", "5x5", "5x5-stride2", "channels-not-multiple-of-8",
                              "8-pixel-3x3-remainder-8", "8-pixel-5x5-remainder-8", "8-pixel-3x3-stride2",
                              "8-pixel-5x5-stride2-remainder-8", "7x7-16-lanes-and-one", "3x3-stride3-16-16-1"])
def test_depthwise_sums_taps_in_order_on_every_path(c, size, k, stride):
    """Four-pixel vector blocks (16 and 8 lanes), single interior pixels and border pixels all give
    the float32 sum of the taps in (i, j) order from zero, each tap one fused multiply-add (one
    rounding): a NumPy tap loop on the zero-padded input (a padded tap adds an exact zero) that forms
    each step in float64 (the product of two float32 values is exact there) and rounds it to float32.
    That emulation rounds twice where the fused operation rounds once, which can differ by an ulp in
    about one step of 2^29; so within 1 ulp, and bit-identical on all but a handful of values."""
    from hwsim.kernels import jit_dense

    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, size, size + 2, c)).astype(np.float32)
    w = rng.standard_normal((k, k, c)).astype(np.float32)
    p = k // 2
    ho, wo = (size + 2 * p - k) // stride + 1, (size + 2 + 2 * p - k) // stride + 1
    out = np.empty((1, ho, wo, c), np.float32)
    jit_dense.depthwise_nhwc(x, w, stride, stride, 1, 1, p, p, np.zeros(0, np.int64), np.zeros((0, wo * c), np.float32),
                             out)
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0))).astype(np.float64)
    expected = np.zeros_like(out)
    unfused = np.zeros_like(out)
    for i in range(k):
        for j in range(k):
            tap = xp[:, i: i + stride * (ho - 1) + 1: stride, j: j + stride * (wo - 1) + 1: stride] * w[i, j]
            expected = (expected.astype(np.float64) + tap).astype(np.float32)
            unfused += tap.astype(np.float32)
    np.testing.assert_array_max_ulp(out, expected, maxulp=1)
    assert np.count_nonzero(out != expected) <= 2
    assert np.count_nonzero(out != unfused) > 0  # the fused sum is what is checked, not the unfused one
