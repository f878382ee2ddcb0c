"""Dense kernels against the plain reference definitions (fp64 reference, stated tolerances)."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.kernels import KERNELS, execute
from kernel_helpers import one_node, random_inputs, reference_outputs, rel_err

CONV_CASES = [
    ((2, 8, 11, 13), dict(out_channels=16, kernel=3, padding=1, bias=True)),
    ((1, 8, 10, 12), dict(out_channels=16, kernel=[3, 5], stride=[2, 1], padding=[1, 2, 0, 3], dilation=2,
                          groups=4, bias=True)),
    ((2, 6, 9, 9), dict(out_channels=6, kernel=3, padding=1, groups=6, bias=True)),  # depthwise
    ((2, 6, 9, 9), dict(out_channels=12, kernel=3, padding=1, groups=6, stride=2)),  # depthwise x2 multiplier
    ((1, 6, 11, 10), dict(out_channels=6, kernel=[3, 5], stride=[2, 1], padding=[1, 2, 0, 3], dilation=2,
                          groups=6)),  # depthwise, dilated, asymmetric padding
    ((1, 5, 7, 7), dict(out_channels=4, kernel=1)),  # pointwise
    ((1, 3, 15, 14), dict(out_channels=5, kernel=3, padding=[0, 1, 2, 1], bias=True)),
    ((1, 4, 6, 6), dict(out_channels=4, kernel=3, padding=1, groups=2)),
]
ALGORITHMS = ["direct", "im2col", "fft", "winograd_f2x2_3x3", "winograd_f4x4_3x3"]


def _winograd_ok(attrs):
    k = attrs["kernel"]
    return k in (3, [3, 3]) and attrs.get("stride", 1) == 1 and attrs.get("dilation", 1) == 1


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("shape, attrs", CONV_CASES, ids=range(len(CONV_CASES)))
def test_conv_algorithms_match_reference(shape, attrs, algorithm):
    if algorithm.startswith("winograd") and not _winograd_ok(attrs):
        pytest.skip("winograd needs a 3x3 stride-1 conv")
    g = one_node("conv2d", [shape], dict(attrs, algorithm=algorithm))
    x = random_inputs(g)
    ref = reference_outputs(g, x)[0]
    out = execute(g, x).output
    assert out.dtype == np.float32 and out.shape == ref.shape
    assert rel_err(out, ref) <= KERNELS[("conv2d", algorithm)].rtol


@pytest.mark.parametrize("op, shapes, attrs", [
    ("linear", [(3, 20)], {"out_features": 7}),
    ("linear", [(2, 5, 20)], {"out_features": 7, "bias": False}),
    ("matmul", [(2, 3, 4, 5), (2, 3, 5, 6)], {}),
    ("matmul", [(2, 1, 4, 5), (3, 5, 6)], {}),
])
def test_products_match_reference(op, shapes, attrs):
    g = one_node(op, shapes, attrs)
    x = random_inputs(g)
    assert rel_err(execute(g, x).output, reference_outputs(g, x)[0]) <= KERNELS[(op, "dense")].rtol


POOL_CASES = [
    ("maxpool", dict(kernel=3, stride=2, padding=1)),
    ("maxpool", dict(kernel=3, stride=2, ceil_mode=True)),
    ("maxpool", dict(kernel=2)),
    ("avgpool", dict(kernel=3, stride=2, padding=1)),
    ("avgpool", dict(kernel=3, stride=2, padding=1, count_include_pad=False)),
    ("avgpool", dict(kernel=3, stride=2, ceil_mode=True, padding=1)),
    ("global_avgpool", {}),
]


@pytest.mark.parametrize("op, attrs", POOL_CASES)
def test_pooling_matches_reference(op, attrs):
    g = one_node(op, [(2, 3, 10, 9)], attrs)
    x = random_inputs(g)
    out, ref = execute(g, x).output, reference_outputs(g, x)[0]
    assert out.shape == ref.shape == g.tensor("y0").shape
    assert rel_err(out, ref) <= 1e-6


def test_avgpool_divisor_excludes_padding_when_asked():
    g = one_node("avgpool", [(1, 1, 2, 2)], dict(kernel=2, stride=1, padding=1, count_include_pad=False))
    x = {"x0": np.ones((1, 1, 2, 2), np.float32)}
    np.testing.assert_array_equal(execute(g, x).output, np.ones((1, 1, 3, 3), np.float32))
    g = one_node("avgpool", [(1, 1, 2, 2)], dict(kernel=2, stride=1, padding=1))
    np.testing.assert_array_equal(execute(g, x).output[0, 0, 0], [0.25, 0.5, 0.25])


POINTWISE = ["relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "sign"]


@pytest.mark.parametrize("op", POINTWISE + ["softmax", "layernorm", "batchnorm"])
def test_pointwise_and_norms_match_reference(op):
    g = one_node(op, [(2, 4, 3, 5)], {})
    x = random_inputs(g)
    x["x0"] *= 4
    out, ref = execute(g, x).output, reference_outputs(g, x, np.float32)[0]
    kdef = KERNELS[(op, "dense")]
    if kdef.exactness == "exact":
        np.testing.assert_array_equal(out, ref)
    else:
        assert rel_err(out, ref) <= kdef.rtol


def test_sign_maps_zero_to_plus_one():
    g = one_node("sign", [(1, 3)], {})
    out = execute(g, {"x0": np.array([[-0.5, 0.0, 2.0]], np.float32)}).output
    np.testing.assert_array_equal(out, [[-1, 1, 1]])


def test_sigmoid_is_finite_for_large_inputs():
    g = one_node("sigmoid", [(1, 2)], {})
    out = execute(g, {"x0": np.array([[-200.0, 200.0]], np.float32)}).output
    np.testing.assert_array_equal(out, [[0.0, 1.0]])


@pytest.mark.parametrize("op, shapes, attrs, outputs", [
    ("add", [(2, 3, 4, 4), (1, 3, 1, 1)], {}, 1),
    ("add", [(2, 3), (2, 3), (2, 3)], {}, 1),
    ("mul", [(2, 3, 4, 4), (2, 3, 1, 1)], {}, 1),
    ("concat", [(2, 3, 4), (2, 5, 4)], {"axis": 1}, 1),
    ("split", [(2, 6, 4)], {"axis": 1, "sizes": [2, 4]}, 2),
    ("transpose", [(2, 3, 4)], {"perm": [2, 0, 1]}, 1),
    ("pad", [(1, 2, 3, 3)], {"pads": [0, 0, 1, 2, 0, 0, 2, 1], "value": 1.5}, 1),
    ("pad", [(1, 2, 4, 4)], {"pads": [0, 0, 1, 2, 0, 0, 2, 1], "mode": "reflect"}, 1),
    ("pad", [(1, 2, 3, 3)], {"pads": [0, 0, 1, 2, 0, 0, 2, 1], "mode": "edge"}, 1),
    ("resize", [(1, 2, 3, 5)], {"scales": [2, 2], "mode": "nearest"}, 1),
    ("resize", [(1, 2, 3, 5)], {"sizes": [7, 4], "mode": "linear"}, 1),
    ("channel_shuffle", [(2, 6, 2, 2)], {"groups": 3}, 1),
    ("flatten", [(2, 3, 4)], {"axis": 1}, 1),
    ("reshape", [(2, 12)], {"shape": [2, 3, -1]}, 1),
    ("identity", [(2, 3)], {}, 1),
    ("dropout", [(2, 3)], {"p": 0.3}, 1),
])
def test_data_ops_match_reference(op, shapes, attrs, outputs):
    g = one_node(op, shapes, attrs, outputs=outputs)
    x = random_inputs(g)
    res = execute(g, x)
    refs = reference_outputs(g, x, np.float32)
    for i, ref in enumerate(refs):
        out = res.outputs[f"y{i}"]
        assert out.shape == g.tensor(f"y{i}").shape
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_channel_shuffle_moves_channels():
    g = one_node("channel_shuffle", [(1, 6, 1, 1)], {"groups": 2})
    x = np.arange(6, dtype=np.float32).reshape(1, 6, 1, 1)
    np.testing.assert_array_equal(execute(g, {"x0": x}).output.ravel(), [0, 3, 1, 4, 2, 5])
