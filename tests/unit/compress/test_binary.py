"""Binary and ternary passes: bit-packed payloads, XNOR-Net / BNN / BinaryConnect graph rewrites, TWN."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.compress.base import PASSES
from hwsim.compress.binary import ternarize_array
from hwsim.compress.lowbit_payloads import BinaryPayload, TernaryPayload, formula_bits
from hwsim.errors import CompressionError
from hwsim.ir import BINARY, FP32, TERNARY, Node, OpGraph, TensorSpec, count_graph
from hwsim.kernels import execute

import hwsim.compress.binary  # noqa: F401  (registers the passes)


def _net(materialize: bool = True) -> OpGraph:
    g = OpGraph.build("net", [TensorSpec("x", (1, 3, 8, 8), role="input")], [
        Node("c1", "conv2d", ("x",), ("a",), {"out_channels": 8, "kernel": 3, "padding": 1}),
        Node("r1", "relu", ("a",), ("b",)),
        Node("c2", "conv2d", ("b",), ("c",), {"out_channels": 16, "kernel": 3, "padding": 1, "bias": True}),
        Node("c3", "conv2d", ("b",), ("d",), {"out_channels": 16, "kernel": 1}),  # shares c2's input
        Node("s", "add", ("c", "d"), ("e",)),
        Node("gap", "global_avgpool", ("e",), ("p",)),
        Node("fl", "flatten", ("p",), ("f",)),
        Node("fc1", "linear", ("f",), ("h",), {"out_features": 32}),
        Node("fc2", "linear", ("h",), ("y",), {"out_features": 10}),
    ], ["y"])
    return g.materialize() if materialize else g


def test_binary_payload_round_trip_and_exact_size():
    w = np.random.default_rng(0).standard_normal((5, 3, 3, 3)).astype(np.float32)
    w[0, 0, 0, 0] = 0.0  # sign(0) = +1
    scales = np.abs(w).reshape(5, -1).mean(axis=1)
    p = BinaryPayload.encode(w, scales)
    assert p.stored_bits == w.size + 32 * 5 == formula_bits(w.size, 1, 5)
    assert len(p.codes.to_bytes()) == (w.size + 7) // 8
    np.testing.assert_array_equal(p.signs(), np.where(w >= 0, 1, -1))
    np.testing.assert_allclose(p.decode(), np.where(w >= 0, 1, -1) * scales[:, None, None, None], rtol=1e-6)
    assert p.meta()["value_bits"] == 1 and p.meta()["scale_granularity"] == "channel"
    plain = BinaryPayload.encode(w)
    assert plain.stored_bits == w.size and set(np.unique(plain.decode())) == {-1.0, 1.0}


def test_ternary_payload_round_trip_and_exact_size():
    t = np.random.default_rng(1).integers(-1, 2, size=(4, 7))
    p = TernaryPayload.encode(t, np.array([0.5], np.float32))
    np.testing.assert_array_equal(p.values(), t)
    np.testing.assert_allclose(p.decode(), 0.5 * t)
    assert p.stored_bits == 2 * t.size + 32 and p.nnz == np.count_nonzero(t)
    assert len(p.codes.to_bytes()) == (2 * t.size + 7) // 8
    with pytest.raises(ValueError):
        TernaryPayload.encode(np.array([2, 0]))


def test_xnor_binarizes_inner_layers_with_channel_scales_and_sign_activations():
    g = _net()
    before = (tuple(g.nodes), tuple(sorted(g.tensors.items())))
    r = PASSES.get("binarize").run(g, {"mode": "xnor"})
    assert (tuple(g.nodes), tuple(sorted(g.tensors.items()))) == before  # input untouched
    new = r.graph
    assert {c.layer for c in r.changes} == {"c2", "c3", "fc1"}  # first (c1) and last (fc2) kept
    # one sign op for the tensor c2 and c3 share (of r1's pre-activation "a": r1 dropped), one for fc1's input
    signs = [n for n in new.nodes if n.op == "sign"]
    assert len(signs) == 2 and {s.inputs[0] for s in signs} == {"a", "f"}
    assert not new.has_node("r1") and any("r1" in note for note in r.notes)
    assert new.node("c2").inputs == new.node("c3").inputs == (signs[0].outputs[0],)
    for layer in ("c2", "c3", "fc1"):
        node = new.node(layer)
        assert new.tensor(node.params["weight"]).dtype == BINARY
        assert new.tensor(node.inputs[0]).dtype == BINARY
        out = new.tensor(node.outputs[0])
        assert out.dtype == FP32 and out.meta_dict()["accumulation"] == "xnor_popcount"
        w = g.dense_weight(node.params["weight"])
        alpha = np.abs(w).reshape(w.shape[0], -1).mean(axis=1)
        np.testing.assert_allclose(new.tensor(node.params["weight"]).meta_dict()["scales"], alpha, rtol=1e-6)
        np.testing.assert_allclose(new.dense_weight(node.params["weight"]),
                                   np.where(w >= 0, 1, -1) * alpha.reshape((-1,) + (1,) * (w.ndim - 1)), rtol=1e-6)
    c = {n.name: n for n in count_graph(new).nodes}
    assert c["c2"].weight_dtype == "binary" and c["c2"].act_dtype == "binary"
    assert c["c2"].weight_bits == 16 * 8 * 9 + 32 * 16 + 32 * 16  # codes + scales + fp32 bias
    assert c["c2"].macs == count_graph(g).nodes[2].macs  # same MACs, now XNOR-popcount
    assert c["c1"].weight_dtype == "fp32"


def test_binarized_activation_is_the_sign_of_the_pre_activation_not_of_a_relu():
    """Issue 9: sign(ReLU(x)) is +1 everywhere, so XNOR-Net / BNN sat at chance on LeNet-300-100."""
    g = OpGraph.build("mlp", [TensorSpec("x", (2, 16), role="input")], [
        Node("fc1", "linear", ("x",), ("a",), {"out_features": 32}),
        Node("r1", "relu", ("a",), ("b",)),
        Node("fc2", "linear", ("b",), ("c",), {"out_features": 32}),
        Node("r2", "relu", ("c",), ("d",)),
        Node("fc3", "linear", ("d",), ("e",), {"out_features": 8}),
        Node("s", "add", ("e", "e"), ("y",)),
    ], ["y"]).materialize()
    for mode in ("xnor", "bnn"):
        new = PASSES.get("binarize").run(g, {"mode": mode}).graph
        assert [n.op for n in new.nodes] == ["linear", "sign", "linear", "relu", "linear", "add"]
        assert new.node("fc2.binact").inputs == ("a",)
        x = np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)
        sname = new.node("fc2.binact").outputs[0]
        signs = execute(new, {"x": x}, keep=(sname,)).kept[sname]
        assert set(np.unique(signs)) == {-1.0, 1.0}  # both signs reach the binary layer
    # a ReLU something else also reads stays; the sign still reads its input
    g2 = OpGraph.build("two", [TensorSpec("x", (2, 16), role="input")], [
        Node("fc1", "linear", ("x",), ("a",), {"out_features": 32}),
        Node("r1", "relu", ("a",), ("b",)),
        Node("fc2", "linear", ("b",), ("c",), {"out_features": 32}),
        Node("s", "add", ("b", "c"), ("d",)),
        Node("fc3", "linear", ("d",), ("y",), {"out_features": 8}),
    ], ["y"]).materialize()
    new2 = PASSES.get("binarize").run(g2, {"mode": "xnor"}).graph
    assert new2.has_node("r1") and new2.node("fc2.binact").inputs == ("a",)
    assert new2.node("s").inputs == ("b", "c")


def test_annotations_survive_a_later_rebuild():
    new = PASSES.get("binarize").run(_net(), {}).graph
    again = new.rebuild()
    assert again.tensor("c").dtype == FP32 and again.tensor(again.node("c2").inputs[0]).dtype == BINARY
    assert again.tensor("c2.weight").dtype == BINARY


def test_binaryconnect_keeps_real_activations_and_bnn_drops_scales():
    bc = PASSES.get("binarize").run(_net(), {"mode": "binaryconnect"}).graph
    assert not any(n.op == "sign" for n in bc.nodes)
    assert bc.tensor("c2.weight").meta_dict()["scales"] is None
    assert set(np.unique(bc.dense_weight("c2.weight"))) == {-1.0, 1.0}
    assert bc.tensor("c").meta_dict()["accumulation"] == "binary_accumulate"
    layer = PASSES.get("binarize").run(_net(), {"mode": "binaryconnect", "scale": "layer"}).graph
    assert len(layer.tensor("c2.weight").meta_dict()["scales"]) == 1
    bnn = PASSES.get("binarize").run(_net(), {"mode": "bnn"})
    assert any(n.op == "sign" for n in bnn.graph.nodes)
    assert bnn.graph.tensor("c2.weight").stored_bits == 16 * 8 * 9


def test_first_and_last_layers_can_be_binarized_too():
    r = PASSES.get("binarize").run(_net(), {"keep_first_last": False})
    assert {c.layer for c in r.changes} == {"c1", "c2", "c3", "fc1", "fc2"}
    assert r.graph.node("c1").inputs != ("x",) and r.graph.tensor(r.graph.node("c1").inputs[0]).dtype == BINARY


def test_cost_only_sizes_equal_the_real_encoding():
    real = PASSES.get("binarize").run(_net(True), {}).graph
    formula = PASSES.get("binarize").run(_net(False), {}).graph
    for t in ("c2.weight", "c3.weight", "fc1.weight"):
        assert real.tensor(t).stored_bits == formula.tensor(t).stored_bits
    assert formula.tensor("c2.weight").meta_dict()["scales"] is None
    real_t = PASSES.get("ternarize").run(_net(True), {"scale": "channel"}).graph
    formula_t = PASSES.get("ternarize").run(_net(False), {"scale": "channel"}).graph
    assert real_t.tensor("c2.weight").stored_bits == formula_t.tensor("c2.weight").stored_bits == 2 * 1152 + 32 * 16


def test_twn_threshold_scale_and_sparsity():
    g = _net()
    r = PASSES.get("ternarize").run(g, {})
    w = g.dense_weight("c2.weight").astype(np.float64)
    delta = 0.7 * np.abs(w).mean()
    t = np.where(w > delta, 1, np.where(w < -delta, -1, 0))
    alpha = np.abs(w)[t != 0].mean()
    spec = r.graph.tensor("c2.weight")
    assert spec.dtype == TERNARY and spec.meta_dict()["delta"] == pytest.approx(delta)
    np.testing.assert_allclose(r.graph.dense_weight("c2.weight"), alpha * t, rtol=1e-6)
    assert spec.density == pytest.approx(np.count_nonzero(t) / t.size)
    assert r.graph.tensor("c").meta_dict()["accumulation"] == "ternary_accumulate"
    change = next(c for c in r.changes if c.layer == "c2")
    assert change.details["sparsity"] == pytest.approx(1 - np.count_nonzero(t) / t.size)
    tt, scales, d = ternarize_array(w, 0.5, "layer")
    assert d == pytest.approx(0.5 * np.abs(w).mean()) and scales.shape == (1,)


@pytest.mark.parametrize("pass_name, params, message", [
    ("binarize", {"mode": "xnorr"}, "mode"),
    ("binarize", {"layers": ["conv9"]}, "names no layer"),
    ("ternarize", {"threshold_factor": 0.0}, "threshold_factor"),
])
def test_bad_parameters(pass_name, params, message):
    with pytest.raises(CompressionError, match=message):
        PASSES.get(pass_name).run(_net(), params)
