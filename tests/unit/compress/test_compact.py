"""Compact passes: depthwise-separable rewrite (exact MAC ratio), width and depth multipliers,
student models, transferred (negated) filters."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from hwsim.compress.base import PASSES
from hwsim.compress.compact import identity_blocks, rank1_depthwise, residual_runs, set_model_loader
from hwsim.errors import CompressionError
from hwsim.frontends import load_model
from hwsim.ir import Node, OpGraph, TensorSpec, count_graph
from structural_ref import run

import hwsim.compress.compact  # noqa: F401  (registers the passes)


def _conv_graph(c_in: int, c_out: int, k: int, hw: int, stride: int = 1, padding: int | str = 0) -> OpGraph:
    return OpGraph.build("one", [TensorSpec("x", (1, c_in, hw, hw), role="input")], [
        Node("conv", "conv2d", ("x",), ("y",), {"out_channels": c_out, "kernel": k, "stride": stride,
                                                "padding": padding, "bias": True})], ["y"])


@pytest.mark.parametrize("c_in, c_out, k, hw, stride, padding", [
    (32, 64, 3, 14, 1, 1), (16, 24, 5, 11, 2, 2), (8, 8, 3, 9, 1, 0), (3, 40, 7, 17, 2, 3),
])
def test_depthwise_separable_macs_are_exactly_one_over_n_plus_one_over_dk2(c_in, c_out, k, hw, stride, padding):
    g = _conv_graph(c_in, c_out, k, hw, stride, padding)
    r = PASSES.get("depthwise_separable").run(g, {})
    before, after = count_graph(g), count_graph(r.graph)
    assert Fraction(after.macs, before.macs) == Fraction(1, c_out) + Fraction(1, k * k)
    assert r.graph.tensor("y").shape == g.tensor("y").shape
    dw = r.graph.node("conv.dw")
    assert dw.attrs["groups"] == c_in and dw.attrs["stride"] == [stride, stride]
    assert r.graph.node("conv").params["bias"] == "conv.bias"
    assert r.changes[0].details["mac_ratio"] == pytest.approx(1 / c_out + 1 / k**2)


def test_depthwise_separable_fit_is_exact_for_a_separable_kernel():
    rng = np.random.default_rng(0)
    d, p = rng.standard_normal((6, 3, 3)), rng.standard_normal((10, 6))
    w = p[:, :, None, None] * d[None]
    _, _, approx = rank1_depthwise(w)
    np.testing.assert_allclose(approx, w, atol=1e-10)
    g = _conv_graph(6, 10, 3, 8, padding=1).with_weights({"conv.weight": w.astype(np.float32),
                                                          "conv.bias": rng.standard_normal(10).astype(np.float32)})
    r = PASSES.get("depthwise_separable").run(g, {})
    assert r.changes[0].details["reconstruction_error"] < 1e-6
    x = rng.standard_normal((1, 6, 8, 8))
    np.testing.assert_allclose(run(r.graph, x)["y"], run(g, x)["y"], rtol=1e-4, atol=1e-5)


def test_depthwise_separable_skips_pointwise_and_depthwise_convs():
    g = OpGraph.build("m", [TensorSpec("x", (1, 8, 6, 6), role="input")], [
        Node("pw", "conv2d", ("x",), ("a",), {"out_channels": 8, "kernel": 1}),
        Node("dw", "conv2d", ("a",), ("b",), {"out_channels": 8, "kernel": 3, "groups": 8})], ["b"])
    r = PASSES.get("depthwise_separable").run(g, {})
    assert not r.changed and {c.details["reason"] for c in r.changes} == {"1x1 kernel", "grouped/depthwise convolution"}


def _residual_net(blocks: int = 4) -> OpGraph:
    """stem -> `blocks` identity residual blocks -> a concat with a depthwise branch -> head."""
    nodes = [Node("stem", "conv2d", ("x",), ("s",), {"out_channels": 16, "kernel": 3, "padding": 1}),
             Node("stem_relu", "relu", ("s",), ("t0",))]
    for i in range(blocks):
        x = f"t{i}"
        nodes += [Node(f"b{i}.c1", "conv2d", (x,), (f"b{i}.a",), {"out_channels": 8, "kernel": 1}),
                  Node(f"b{i}.r", "relu", (f"b{i}.a",), (f"b{i}.ar",)),
                  Node(f"b{i}.c2", "conv2d", (f"b{i}.ar",), (f"b{i}.b",), {"out_channels": 16, "kernel": 3,
                                                                             "padding": 1}),
                  Node(f"b{i}.bn", "batchnorm", (f"b{i}.b",), (f"b{i}.bb",)),
                  Node(f"b{i}.add", "add", (x, f"b{i}.bb"), (f"b{i}.sum",)),
                  Node(f"b{i}.relu", "relu", (f"b{i}.sum",), (f"t{i + 1}",))]
    last = f"t{blocks}"
    nodes += [Node("dw", "conv2d", (last,), ("dwo",), {"out_channels": 16, "kernel": 3, "padding": 1, "groups": 16}),
              Node("cat", "concat", (last, "dwo"), ("cat",), {"axis": 1}),
              Node("gconv", "conv2d", ("cat",), ("g",), {"out_channels": 32, "kernel": 1, "groups": 4}),
              Node("gap", "global_avgpool", ("g",), ("p",)), Node("fl", "flatten", ("p",), ("f",)),
              Node("fc", "linear", ("f",), ("y",), {"out_features": 10})]
    return OpGraph.build("res", [TensorSpec("x", (1, 3, 8, 8), role="input")], nodes, ["y"])


def test_width_multiplier_keeps_residuals_concats_and_io_consistent():
    g = _residual_net().materialize()
    r = PASSES.get("width_multiplier").run(g, {"alpha": 0.5})
    new = r.graph
    assert new.tensor("y").shape == (1, 10) and new.tensor("x").shape == (1, 3, 8, 8)
    assert new.tensor("s").shape[1] == 8  # stem 16 -> 8, and every residual operand with it
    for i in range(4):
        assert new.tensor(f"b{i}.a").shape[1] == 4 and new.tensor(f"b{i}.bb").shape[1] == 8
    assert new.node("dw").attrs["groups"] == 8 and new.tensor("cat").shape[1] == 16
    assert new.tensor("g").shape[1] == 16 and new.node("gconv").attrs["groups"] == 4
    assert new.tensor(new.node("b0.bn").params["gamma"]).shape == (8,)
    # materialized weights are the leading slices, under new names
    w_new = new.dense_weight(new.node("b1.c2").params["weight"])
    np.testing.assert_array_equal(w_new, g.dense_weight("b1.c2.weight")[:8, :4])
    assert count_graph(new).params < count_graph(g).params / 3
    assert any("training" in n for n in r.notes)


def test_width_multiplier_rounds_to_group_multiples():
    r = PASSES.get("width_multiplier").run(_residual_net(), {"alpha": 0.3})
    new = r.graph
    assert new.tensor("cat").shape[1] % 4 == 0 and new.tensor("g").shape[1] % 4 == 0
    run(new.materialize(), np.zeros((1, 3, 8, 8)))  # every shape fits


def test_width_multiplier_rejects_alpha_outside_unit_interval():
    for alpha in (0.0, 1.5):
        with pytest.raises(CompressionError, match="alpha"):
            PASSES.get("width_multiplier").run(_residual_net(), {"alpha": alpha})


def test_depth_multiplier_drops_trailing_identity_blocks():
    g = _residual_net(4)
    assert [len(run_) for run_ in residual_runs(g)] == [4]
    assert identity_blocks(g)[0].body == ("b0.c1", "b0.r", "b0.c2", "b0.bn")
    r = PASSES.get("depth_multiplier").run(g, {"depth": 0.5})
    names = {n.name for n in r.graph.nodes}
    assert {"b0.add", "b1.add"} <= names and not names & {"b2.add", "b2.c1", "b3.add", "b3.c2"}
    block_macs = sum(n.macs for n in count_graph(g).nodes if n.name.startswith("b3."))
    assert count_graph(g).macs - count_graph(r.graph).macs == 2 * block_macs
    assert r.graph.tensor("y").shape == (1, 10)
    run(r.graph.materialize(), np.zeros((1, 3, 8, 8)))
    assert PASSES.get("depth_multiplier").run(g, {"depth": 0.75}).changes[-1].details["kept_in_run"] == 3


def test_depth_multiplier_leaves_plain_nets_alone():
    g = _conv_graph(3, 8, 3, 8)
    r = PASSES.get("depth_multiplier").run(g, {"depth": 0.5})
    assert not r.changed and "no identity-residual block" in r.notes[0]


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return str(path)


def test_student_replaces_the_model_and_says_accuracy_is_unknown(tmp_path, lenet5_doc):
    teacher = load_model(_write(tmp_path / "teacher.json", lenet5_doc))
    student_doc = {"name": "tiny", "inputs": [{"name": "img", "shape": [1, 1, 28, 28]}], "nodes": [
        {"name": "conv", "op": "conv2d", "attrs": {"out_channels": 4, "kernel": 5, "stride": 2}},
        {"name": "flat", "op": "flatten"}, {"name": "fc", "op": "linear", "attrs": {"out_features": 10}}]}
    path = _write(tmp_path / "student.json", student_doc)
    set_model_loader(load_model)
    try:
        r = PASSES.get("student").run(teacher, {"model": path})
        assert r.graph.name == "tiny" and r.graph.meta["student_of"] == "lenet5"
        assert r.changes[0].bytes_after < r.changes[0].bytes_before
        assert r.changes[0].details["task_accuracy"] is None and "unknown" in r.notes[0]
        student_doc["inputs"][0]["shape"] = [1, 1, 32, 32]
        bad = _write(tmp_path / "bad.json", student_doc)
        with pytest.raises(CompressionError, match=r"input shape.*\[1, 1, 32, 32\].*\[1, 1, 28, 28\]") as e:
            PASSES.get("student").run(teacher, {"model": bad})
        assert "bad.json" in str(e.value)
    finally:
        set_model_loader(None)
    with pytest.raises(CompressionError, match="no model loader"):
        PASSES.get("student").run(teacher, {"model": path})


def test_transferred_filters_halve_storage_not_compute():
    g = _conv_graph(4, 6, 3, 8).materialize()
    r = PASSES.get("transferred_filters").run(g, {})
    spec = r.graph.tensor("conv.weight")
    assert spec.encoding == "negated_half" and spec.stored_bits == 6 * 4 * 9 * 32 // 2
    before, after = count_graph(g).nodes[0], count_graph(r.graph).nodes[0]
    assert after.macs == before.macs and after.weight_bits == before.weight_bits - 3 * 4 * 9 * 32
    w = r.graph.dense_weight("conv.weight")
    np.testing.assert_array_equal(w[3:], -w[:3])
    orig = g.dense_weight("conv.weight")
    np.testing.assert_allclose(w[:3], (orig[:3] - orig[3:]) / 2, rtol=1e-6)
    assert r.graph.weight("conv.weight").stored_bits == spec.stored_bits
    odd = PASSES.get("transferred_filters").run(_conv_graph(4, 5, 3, 8), {})
    assert not odd.changed and "odd" in odd.changes[0].details["reason"]
