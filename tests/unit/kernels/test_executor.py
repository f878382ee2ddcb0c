"""The executor: order, freeing, measured peak, batches, and every bad-input path (VerificationError)."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.errors import VerificationError
from hwsim.frontends import load_model, save_model_json
from hwsim.ir import Node, OpGraph, TensorSpec
from hwsim.kernels import execute

X = (1, 4, 8, 8)
NB = 4 * 4 * 8 * 8  # bytes of one fp32 activation of shape X


def _graph(nodes, outputs, shape=X):
    return OpGraph.build("t", [TensorSpec("x", shape, role="input")], nodes, outputs)


def _x(shape=X, seed=0):
    return {"x": np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}


def test_chain_frees_activations_after_their_last_consumer():
    g = _graph([Node("a", "relu", ("x",), ("a",)), Node("b", "relu", ("a",), ("b",)),
                Node("c", "relu", ("b",), ("c",))], ["c"])
    r = execute(g, _x())
    assert r.peak_activation_bytes == 2 * NB  # producer and consumer alive together, never three
    assert r.peak_tensor_bytes == 2 * NB
    assert set(r.per_node_seconds) == {"a", "b", "c"}


def test_residual_keeps_the_skip_tensor_alive():
    g = _graph([Node("a", "relu", ("x",), ("a",)), Node("b", "relu", ("a",), ("b",)),
                Node("s", "add", ("a", "b"), ("s",))], ["s"])
    r = execute(g, _x())
    assert r.peak_activation_bytes == 3 * NB  # a, b and the sum
    np.testing.assert_array_equal(r.output, 2 * np.maximum(_x()["x"], 0))


def test_views_share_their_parents_buffer():
    g = _graph([Node("r", "reshape", ("x",), ("r",), {"shape": [1, 256]}), Node("a", "relu", ("r",), ("a",))],
               ["a"])
    r = execute(g, _x())
    assert r.peak_tensor_bytes == 2 * NB  # x and r as tensors
    assert r.peak_activation_bytes == 2 * NB  # at relu: x's buffer (viewed by r) and a's
    g2 = _graph([Node("r", "reshape", ("x",), ("r",), {"shape": [1, 256]})], ["r"])
    assert execute(g2, _x()).peak_activation_bytes == NB  # the view costs no new buffer


def test_keep_returns_intermediates_and_outputs_are_kept():
    g = _graph([Node("a", "relu", ("x",), ("a",)), Node("b", "sigmoid", ("a",), ("b",))], ["b"])
    r = execute(g, _x(), keep=("a",))
    np.testing.assert_array_equal(r.kept["a"], np.maximum(_x()["x"], 0))


def test_batch_may_differ_from_the_declared_one():
    nodes = [Node("c", "conv2d", ("x",), ("c",), {"out_channels": 3, "kernel": 3, "padding": 1}),
             Node("f", "reshape", ("c",), ("f",), {"shape": [1, 3 * 64]}),
             Node("l", "linear", ("f",), ("l",), {"out_features": 5})]
    g = _graph(nodes, ["l"]).materialize()
    xb = _x((3, 4, 8, 8))["x"]
    batched = execute(g, {"x": xb}).output
    assert batched.shape == (3, 5)
    for i in range(3):
        np.testing.assert_allclose(execute(g, {"x": xb[i:i + 1]}).output[0], batched[i], rtol=1e-5, atol=1e-6)


def test_reshape_that_cannot_follow_the_batch_is_refused():
    g = _graph([Node("r", "reshape", ("x",), ("r",), {"shape": [16, 16]})], ["r"])
    with pytest.raises(VerificationError, match="batch"):
        execute(g, _x((2, 4, 8, 8)))


@pytest.mark.parametrize("inputs, message", [
    ({"x": np.zeros((1, 4, 8, 7), np.float32)}, "shape"),
    ({"x": np.zeros((1, 4, 8), np.float32)}, "shape"),
    ({"x": np.zeros(X, np.int32)}, "dtype"),
    ({"x": np.full(X, np.nan, np.float32)}, "non-finite"),
    ({}, "missing"),
    ({"x": np.zeros(X, np.float32), "y": np.zeros(X, np.float32)}, "unknown input"),
])
def test_bad_inputs_are_verification_errors(inputs, message):
    g = _graph([Node("a", "relu", ("x",), ("a",))], ["a"])
    with pytest.raises(VerificationError, match=message):
        execute(g, inputs)


def test_non_finite_weight_names_the_tensor():
    g = _graph([Node("fc", "linear", ("x",), ("y",), {"out_features": 3})], ["y"], shape=(1, 4))
    w = np.ones((3, 4), np.float32)
    w[1, 2] = np.inf
    with pytest.raises(VerificationError, match="fc.weight"):
        execute(g.with_weights({"fc.weight": w}), {"x": np.ones((1, 4), np.float32)})


def test_model_with_weights_file_missing_an_array_is_an_error(tmp_path):
    g = _graph([Node("fc", "linear", ("x",), ("y",), {"out_features": 3})], ["y"], shape=(1, 4))
    np.savez(tmp_path / "w.npz", **{"fc.weight": np.ones((3, 4), np.float32)})  # no fc.bias
    save_model_json(g, tmp_path / "m.json", weights_file="w.npz")
    loaded = load_model(tmp_path / "m.json")
    with pytest.raises(VerificationError, match="fc.bias"):
        execute(loaded, {"x": np.ones((1, 4), np.float32)})
    np.savez(tmp_path / "w.npz", **{"fc.weight": np.ones((3, 4), np.float32), "fc.bias": np.zeros(3, np.float32)})
    out = execute(load_model(tmp_path / "m.json"), {"x": np.ones((1, 4), np.float32)}).output
    np.testing.assert_array_equal(out, [[4, 4, 4]])


def test_seeded_model_runs_and_is_reproducible():
    g = _graph([Node("fc", "linear", ("x",), ("y",), {"out_features": 3})], ["y"], shape=(1, 4))
    a = execute(g, {"x": np.ones((1, 4), np.float32)}).output
    b = execute(g, {"x": np.ones((1, 4), np.float32)}).output
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, hw", [("lenet5", None), ("resnet18", 64), ("mobilenet_v2", 64),
                                      ("squeezenet1_1", 64), ("shufflenet_v2", 64), ("transformer_tiny", None)])
def test_measured_peak_equals_the_simulators_liveness(name, hw):
    """The simulator's peak activation memory (liveness over the topological schedule, views counted as
    tensors) is what this executor really holds, tensor by tensor."""
    from hwsim.cost.work import prepare
    from testutils import WORKLOADS

    g = load_model(WORKLOADS / f"{name}.json")
    if hw:
        s = g.tensor(g.inputs[0])
        g = g.rebuild(inputs=[s.with_(shape=(1, s.shape[1], hw, hw))])
    x = {g.inputs[0]: np.zeros(g.tensor(g.inputs[0]).shape, np.float32)}
    r = execute(g, x)
    assert r.peak_tensor_bytes == prepare(g).peak_activation_bytes
    assert r.peak_activation_bytes <= r.peak_tensor_bytes


def test_fused_epilogues_give_the_same_bits_as_running_node_by_node():
    """conv -> batchnorm -> relu, depthwise (multiplier 2, stride 2) -> batchnorm -> relu6, pointwise
    -> silu, add -> relu, linear -> sigmoid: fused in place or not, the same output bits."""
    from hwsim.kernels.executor import kernel_for
    from hwsim.kernels.plan import plan_for

    nodes = [Node("c", "conv2d", ("x",), ("c",), {"out_channels": 8, "kernel": 3, "padding": 1}),
             Node("cb", "batchnorm", ("c",), ("cb",)), Node("cr", "relu", ("cb",), ("cr",)),
             Node("d", "conv2d", ("cr",), ("d",), {"out_channels": 16, "kernel": 3, "padding": 1, "stride": 2,
                                                  "groups": 8}),
             Node("db", "batchnorm", ("d",), ("db",)), Node("dr", "relu6", ("db",), ("dr",)),
             Node("p", "conv2d", ("dr",), ("p",), {"out_channels": 16, "kernel": 1}),
             Node("ps", "silu", ("p",), ("ps",)),
             Node("s", "add", ("ps", "dr"), ("s",)), Node("sr", "relu", ("s",), ("sr",)),
             Node("f", "flatten", ("sr",), ("f",), {"axis": 1}),
             Node("l", "linear", ("f",), ("l",), {"out_features": 10}), Node("ls", "sigmoid", ("l",), ("ls",))]
    g = _graph(nodes, ["ls"])
    fused = [n.name for step in plan_for(g, True, kernel_for).steps for n in step.folded]
    assert fused == ["cb", "cr", "db", "dr", "ps", "sr", "ls"]
    assert not any(step.folded for step in plan_for(g, False, kernel_for).steps)
    a, b = execute(g, _x(), fuse=True), execute(g, _x(), fuse=False)
    np.testing.assert_array_equal(a.output, b.output)
    assert a.peak_tensor_bytes == b.peak_tensor_bytes
    assert a.peak_activation_bytes <= b.peak_activation_bytes
    # a kept intermediate is never overwritten: keep turns fusion off
    k = execute(g, _x(), keep=("c",))
    np.testing.assert_array_equal(k.output, a.output)
    assert k.kept["c"].min() < 0  # the conv output before its relu, not overwritten in place
