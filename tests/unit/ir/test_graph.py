"""OpGraph construction: inference, validation errors, immutability of derivations."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.errors import ModelFormatError, ShapeError, UnknownNameError
from hwsim.ir import FP32, INT8, Node, OpGraph, TensorSpec, count_graph


def _x(shape=(1, 3, 8, 8)) -> list[TensorSpec]:
    return [TensorSpec("x", shape, role="input")]


def test_conv_shapes_and_macs_with_groups_dilation_padding():
    g = OpGraph.build("t", _x((1, 8, 10, 12)), [
        Node("c", "conv2d", ("x",), ("y",), {"out_channels": 16, "kernel": [3, 5], "stride": [2, 1],
                                              "padding": [1, 2, 0, 3], "dilation": 2, "groups": 4}),
    ], ["y"])
    # H: (10 + 1 + 0 - (2*2+1)) // 2 + 1 = 4 ; W: (12 + 2 + 3 - (4*2+1)) // 1 + 1 = 9
    assert g.tensor("y").shape == (1, 16, 4, 9)
    assert g.tensor("c.weight").shape == (16, 2, 3, 5)
    assert count_graph(g).macs == 16 * 4 * 9 * 2 * 3 * 5


def test_same_padding_keeps_size():
    g = OpGraph.build("t", _x((1, 3, 7, 7)), [
        Node("c", "conv2d", ("x",), ("y",), {"out_channels": 4, "kernel": 3, "padding": "same"})], ["y"])
    assert g.tensor("y").shape == (1, 4, 7, 7)
    assert g.node("c").attrs["padding"] == [1, 1, 1, 1]


def test_depthwise_macs():
    g = OpGraph.build("t", _x((1, 32, 14, 14)), [
        Node("dw", "conv2d", ("x",), ("y",), {"out_channels": 32, "kernel": 3, "padding": 1, "groups": 32})], ["y"])
    assert count_graph(g).macs == 32 * 14 * 14 * 9


def test_conv_channel_mismatch_is_a_shape_error_naming_the_node():
    with pytest.raises(ShapeError, match="conv2"):
        OpGraph.build("t", _x(), [
            Node("conv1", "conv2d", ("x",), ("a",), {"out_channels": 4, "kernel": 1}),
            Node("conv2", "conv2d", ("a",), ("b",), {"out_channels": 4, "kernel": 1, "in_channels": 5}),
        ], ["b"])


@pytest.mark.parametrize("nodes, message", [
    ([], "no nodes"),
    ([Node("a", "relu", ("x",), ("y",)), Node("a", "relu", ("y",), ("z",))], "duplicate node"),
    ([Node("a", "relu", ("nope",), ("y",))], "produced by no node"),
    ([Node("a", "relu", ("x",), ("y",)), Node("b", "relu", ("x",), ("y",))], "produced twice"),
    ([Node("a", "add", ("x", "z"), ("y",)), Node("b", "relu", ("y",), ("z",))], "cycle"),
])
def test_structural_errors(nodes, message):
    with pytest.raises(ModelFormatError, match=message):
        OpGraph.build("t", _x(), nodes, ["y"])


def test_unknown_op_lists_known_ones():
    with pytest.raises(UnknownNameError, match="known: .*conv2d"):
        OpGraph.build("t", _x(), [Node("a", "frobnicate", ("x",), ("y",))], ["y"])


def test_absurd_size_is_rejected():
    with pytest.raises(ShapeError, match="absurdly large"):
        OpGraph.build("t", [TensorSpec("x", (1 << 20, 1 << 20, 1 << 10), role="input")],
                      [Node("a", "relu", ("x",), ("y",))], ["y"])


def test_weights_are_lazy_seeded_and_order_independent():
    nodes = [Node("c", "conv2d", ("x",), ("y",), {"out_channels": 4, "kernel": 3}),
             Node("l", "flatten", ("y",), ("f",)), Node("fc", "linear", ("f",), ("z",), {"out_features": 5})]
    g1 = OpGraph.build("t", _x(), nodes, ["z"])
    g2 = OpGraph.build("t", _x(), nodes, ["z"])
    a = g1.dense_weight("fc.weight")
    _ = g2.dense_weight("c.weight")
    np.testing.assert_array_equal(a, g2.dense_weight("fc.weight"))
    assert g1.dense_weight("fc.bias").sum() == 0
    # Kaiming normal: std ~ sqrt(2 / fan_in)
    w = g1.dense_weight("c.weight")
    assert abs(w.std() - np.sqrt(2 / 27)) < 0.05


def test_with_specs_does_not_touch_the_original():
    g = OpGraph.build("t", _x(), [Node("c", "conv2d", ("x",), ("y",), {"out_channels": 4, "kernel": 3})], ["y"])
    w = g.tensor("c.weight")
    g2 = g.with_specs({"c.weight": w.with_(dtype=INT8)})
    assert g.tensor("c.weight").dtype == FP32
    assert g2.tensor("c.weight").dtype == INT8
    assert count_graph(g2).weight_bytes * 4 == count_graph(g).weight_bytes
    with pytest.raises(ValueError):
        g.with_specs({"c.weight": w.with_(shape=(1, 2, 3, 4))})


def test_rebuild_reinfers_shapes():
    g = OpGraph.build("t", _x(), [Node("c", "conv2d", ("x",), ("y",), {"out_channels": 4, "kernel": 3})], ["y"])
    n = g.node("c")
    g2 = g.rebuild([Node("c", "conv2d", n.inputs, n.outputs, {**n.attrs, "out_channels": 2})])
    assert g2.tensor("y").shape == (1, 2, 6, 6)
    assert g.tensor("y").shape == (1, 4, 6, 6)


def test_split_concat_matmul_softmax_shapes():
    g = OpGraph.build("t", [TensorSpec("x", (2, 16, 8), role="input")], [
        Node("s", "split", ("x",), ("a", "b"), {"axis": 2, "sizes": [3, 5]}),
        Node("t", "transpose", ("a",), ("at",), {"perm": [0, 2, 1]}),
        Node("m", "matmul", ("a", "at"), ("mm",)),
        Node("sm", "softmax", ("mm",), ("p",)),
        Node("c", "concat", ("b", "a"), ("cat",), {"axis": -1}),
    ], ["p", "cat"])
    assert g.tensor("mm").shape == (2, 16, 16)
    assert g.tensor("cat").shape == (2, 16, 8)
    assert count_graph(g).macs == 2 * 16 * 16 * 3
