"""Unstructured and structured pruning, layer removal."""

from __future__ import annotations

import numpy as np
import pytest
from dc_graphs import mlp, resnet_block

from hwsim.compress import PASSES
from hwsim.errors import CompressionError
from hwsim.ir import count_graph
from hwsim.kernels import execute


def run(name, graph, **params):
    return PASSES.get(name).run(graph, params)


def test_magnitude_prune_exact_per_layer_sparsity_keeps_largest():
    g = mlp()
    r = run("prune", g, sparsity=0.9, overrides={"ip3": {"sparsity": 0.5}})
    for layer, s in (("ip1", 0.9), ("ip2", 0.9), ("ip3", 0.5)):
        w0 = g.dense_weight(f"{layer}.weight")
        w1 = r.graph.dense_weight(f"{layer}.weight")
        kept = w1 != 0
        assert kept.sum() == round(w0.size * (1 - s))
        assert np.abs(w0[kept]).min() >= np.abs(w0[~kept]).max()  # magnitude criterion
        assert np.array_equal(w1[kept], w0[kept])
        spec = r.graph.tensor(f"{layer}.weight")
        assert spec.density == pytest.approx(1 - s) and spec.encoding == "dense" and spec.stored_bits is None
    ch = {c.layer: c for c in r.changes}
    assert ch["ip1"].details["sparsity"] == pytest.approx(0.9) and ch["ip1"].action == "pruned"
    assert any("fine-tuning" in n for n in r.notes)


def test_global_threshold_one_cut_for_all_layers():
    g = mlp()
    r = run("prune", g, sparsity=0.8, scope="global")
    ws0 = [g.dense_weight(f"ip{i}.weight") for i in (1, 2, 3)]
    ws1 = [r.graph.dense_weight(f"ip{i}.weight") for i in (1, 2, 3)]
    total = sum(w.size for w in ws0)
    kept = sum(int(np.count_nonzero(w)) for w in ws1)
    assert kept == pytest.approx(total * 0.2, abs=2)
    lo_kept = min(np.abs(w0[w1 != 0]).min() for w0, w1 in zip(ws0, ws1))
    hi_dropped = max(np.abs(w0[w1 == 0]).max() for w0, w1 in zip(ws0, ws1))
    assert lo_kept >= hi_dropped
    densities = [np.count_nonzero(w) / w.size for w in ws1]
    assert max(densities) - min(densities) > 0.01  # layers differ (Kaiming scales differ with fan-in)


def test_conv_and_linear_specific_sparsity_and_unmaterialized_annotation():
    g = resnet_block(materialized=False)
    r = run("prune", g, conv_sparsity=0.6, linear_sparsity=0.9)
    assert r.graph.tensor("stem.weight").density == pytest.approx(0.4)
    assert r.graph.tensor("fc1.weight").density == pytest.approx(0.1)
    assert not r.graph.weights.provided("stem.weight")
    assert any("not materialized" in n for n in r.notes)


def test_random_pruning_is_seeded_and_differs_from_magnitude():
    g = mlp()
    a = run("prune_random", g, sparsity=0.7, seed=3).graph.dense_weight("ip1.weight")
    b = run("prune_random", g, sparsity=0.7, seed=3).graph.dense_weight("ip1.weight")
    c = run("prune_random", g, sparsity=0.7, seed=4).graph.dense_weight("ip1.weight")
    m = run("prune", g, sparsity=0.7).graph.dense_weight("ip1.weight")
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.count_nonzero(a) == round(a.size * 0.3)
    assert np.abs(a[a != 0]).mean() < np.abs(m[m != 0]).mean()


@pytest.mark.parametrize("params, match", [
    ({"sparsity": 1.0}, "sparsity"), ({"sparsity": -0.1}, "sparsity"), ({"sparsiti": 0.5}, "sparsiti"),
    ({"overrides": {"conv9": {"sparsity": 0.5}}}, "names no layer"),
    ({"overrides": {"ip1": {"sparsity": 1.5}}}, "sparsity"),
])
def test_bad_parameters_are_clear_errors(params, match):
    with pytest.raises(CompressionError, match=match):
        run("prune", mlp(), **params)


def test_prune_keeps_an_earlier_encoding():
    g = mlp()
    q = run("quantize", g, bits=8).graph
    r = run("prune", q, sparsity=0.5)
    p = r.graph.weight("ip1.weight")
    assert p.format == "quantized_int" and r.graph.tensor("ip1.weight").encoding == "quantized_int"
    before = q.dense_weight("ip1.weight")
    after = r.graph.dense_weight("ip1.weight")
    assert np.array_equal(after[after != 0], before[after != 0])  # kept values exactly as quantized


# --- structured ---------------------------------------------------------------------------------------

def test_filter_pruning_removes_smallest_l1_filters_and_consumer_inputs():
    g = resnet_block()
    r = run("prune_filters", g, ratio=0.5)
    out = r.graph
    # b1c1 is not tied to a residual: 12 -> 6 filters, the ones of largest L1 norm survive
    w0 = g.dense_weight("b1c1.weight")
    norms = np.abs(w0).reshape(12, -1).sum(1)
    keep = np.sort(np.argsort(norms)[6:])
    c1 = out.node("b1c1")
    assert c1.attrs["out_channels"] == 6
    assert np.array_equal(out.dense_weight(c1.params["weight"]), w0[keep])
    assert np.array_equal(out.dense_weight(out.node("b1bn1").params["gamma"]), g.dense_weight("b1bn1.gamma")[keep])
    c2 = out.node("b1c2")
    assert np.array_equal(out.dense_weight(c2.params["weight"]), g.dense_weight("b1c2.weight")[:, keep])
    # residual-tied channels (stem, b1c2) stay: Li et al. leave them alone by default
    assert out.node("stem").attrs["out_channels"] == 16 and c2.attrs["out_channels"] == 16
    # the graph output layer is frozen
    assert out.node("fc2").attrs["out_features"] == 5
    assert count_graph(out).params < count_graph(g).params
    rows = {c.layer: c for c in r.changes}
    assert rows["b1c1"].details["channels_removed"] == 6 and rows["b1c1"].bytes_after < rows["b1c1"].bytes_before


def test_channel_pruning_honours_residual_concat_depthwise_and_flatten():
    g = resnet_block()
    r = run("prune_channels", g, ratio=0.25)
    out = r.graph

    def w(graph, node):
        return graph.dense_weight(graph.node(node).params["weight"])

    # the residual group (stem, b1c2) loses the same channels on both sides: 16 -> 12
    assert out.node("stem").attrs["out_channels"] == 12 and out.node("b1c2").attrs["out_channels"] == 12
    keep_res = _kept_rows(w(g, "stem"), w(out, "stem"))
    keep_c1 = _kept_rows(w(g, "b1c1")[:, keep_res], w(out, "b1c1"))
    assert keep_c1.size == 9
    assert np.array_equal(w(out, "b1c2"), w(g, "b1c2")[keep_res][:, keep_c1])
    # concat: left 8 -> 6, right 10 -> 8 (each its own group); depthwise follows the concat: 18 -> 14
    keep_l = _kept_rows(w(g, "left")[:, keep_res], w(out, "left"))
    keep_r = _kept_rows(w(g, "right")[:, keep_res], w(out, "right"))
    assert keep_l.size == 6 and keep_r.size == 8
    cat_keep = np.concatenate([keep_l, 8 + keep_r])
    assert out.node("dw").attrs["out_channels"] == 14 and out.node("dw").attrs["groups"] == 14
    assert np.array_equal(w(out, "dw"), w(g, "dw")[cat_keep])
    assert np.array_equal(out.dense_weight(out.node("dw").params["bias"]), g.dense_weight("dw.bias")[cat_keep])
    # pw 20 -> 15 reaches fc1 through global pool + flatten: fc1 loses exactly those input columns
    keep_pw = _kept_rows(w(g, "pw")[:, cat_keep], w(out, "pw"))
    keep_fc1 = _kept_rows(w(g, "fc1")[:, keep_pw], w(out, "fc1"))
    assert keep_pw.size == 15 and keep_fc1.size == 18
    assert np.array_equal(w(out, "fc2"), w(g, "fc2")[:, keep_fc1])
    assert out.tensor("y").shape == (1, 5)


def _kept_rows(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``before`` that ``after`` holds, in order (rows are distinct random vectors)."""
    fb = before.reshape(before.shape[0], -1)
    fa = after.reshape(after.shape[0], -1)
    idx = [int(np.flatnonzero((fb == row).all(axis=1))[0]) for row in fa]
    assert idx == sorted(idx)
    return np.asarray(idx)


def test_zero_filters_are_pruned_without_changing_the_function():
    """Filters that are exactly zero (and feed a ReLU then a conv) are the smallest-L1 ones: removing them and
    their consumer columns leaves the network's output unchanged (checked with the kernels)."""
    g = resnet_block()
    w = g.dense_weight("b1c1.weight").copy()
    w[[1, 4, 7]] = 0
    gamma = g.dense_weight("b1bn1.gamma")
    beta = g.dense_weight("b1bn1.beta").copy()
    mean = g.dense_weight("b1bn1.mean")
    var = g.dense_weight("b1bn1.var")
    beta[[1, 4, 7]] = (mean * gamma / np.sqrt(var + 1e-5))[[1, 4, 7]]  # bn maps 0 -> 0 on those channels
    g = g.with_weights({"b1c1.weight": w, "b1bn1.beta": beta})
    r = run("prune_filters", g, ratio=0.25, layers=["b1c1"])
    assert r.graph.node("b1c1").attrs["out_channels"] == 9
    x = np.random.default_rng(0).standard_normal((1, 3, 12, 12)).astype(np.float32)
    y0 = execute(g, {"x": x}).output
    y1 = execute(r.graph, {"x": x}).output
    np.testing.assert_allclose(y1, y0, rtol=1e-4, atol=1e-5)


def test_channel_pruning_without_residual_leaves_tied_groups():
    r = run("prune_channels", resnet_block(), ratio=0.25, residual=False)
    assert r.graph.node("stem").attrs["out_channels"] == 16


def test_structured_pruning_cost_only_and_encoded_weights():
    g = resnet_block(materialized=False)
    r = run("prune_channels", g, ratio=0.5, criterion="random")
    assert r.graph.node("b1c1").attrs["out_channels"] == 6
    assert any("last ones" in n for n in r.notes)
    q = run("quantize", resnet_block(), bits=8).graph
    with pytest.raises(CompressionError, match="before quantize"):
        run("prune_channels", q, ratio=0.3)


@pytest.mark.parametrize("criterion", ["l1", "l2", "consumer_l1", "random"])
def test_channel_criteria_on_a_real_workload(criterion, root):
    from hwsim.frontends import load_model

    g = load_model(root / "workloads" / "mobilenet_v2.json").materialize()
    r = run("prune_channels", g, ratio=0.3, criterion=criterion)
    assert count_graph(r.graph).params < 0.85 * count_graph(g).params
    assert r.graph.tensor(r.graph.outputs[0]).shape == g.tensor(g.outputs[0]).shape


def test_remove_layers_drops_noops_and_folds_batchnorm_exactly():
    from hwsim.ir import Node, OpGraph, TensorSpec, WeightStore

    g = OpGraph.build("t", [TensorSpec("x", (2, 6), role="input")], [
        Node("fc", "linear", ("x",), ("h",), {"out_features": 4}),
        Node("bn", "batchnorm", ("h",), ("hb",)),
        Node("drop", "dropout", ("hb",), ("hd",)),
        Node("id", "identity", ("hd",), ("y",)),
        Node("out", "relu", ("y",), ("z",)),
    ], ["z"], weights=WeightStore(seed=1)).materialize()
    rng = np.random.default_rng(2)
    g = g.with_weights({"bn.gamma": rng.uniform(0.5, 2, 4).astype(np.float32),
                        "bn.mean": rng.normal(0, 1, 4).astype(np.float32),
                        "bn.var": rng.uniform(0.5, 2, 4).astype(np.float32),
                        "bn.beta": rng.normal(0, 1, 4).astype(np.float32)})
    r = run("remove_layers", g)
    assert [n.op for n in r.graph.nodes] == ["linear", "relu"]
    x = rng.standard_normal((2, 6)).astype(np.float32)
    np.testing.assert_allclose(execute(r.graph, {"x": x}).output, execute(g, {"x": x}).output, rtol=1e-5, atol=1e-6)
    actions = {c.layer: c.action for c in r.changes}
    assert actions == {"bn": "folded", "drop": "removed", "id": "removed"}
    with pytest.raises(CompressionError, match="cannot be removed"):
        run("remove_layers", mlp(), layers=["ip1"])


def test_fold_batchnorm_when_a_folded_bn_feeds_the_next_conv_directly():
    """Regression (MobileNetV2's linear bottleneck, `fold-bn` raised 'features.1.conv.2 is produced by no
    node'): conv1 -> bn1 -> conv2 -> bn2, so conv2's input is rewired by bn1's fold before bn2 folds into
    conv2; the folded conv2 must keep the rewired input."""
    from hwsim.ir import Node, OpGraph, TensorSpec, WeightStore

    g = OpGraph.build("t", [TensorSpec("x", (1, 3, 6, 6), role="input")], [
        Node("c1", "conv2d", ("x",), ("h1",), {"out_channels": 4, "kernel": 3, "padding": 1, "bias": False}),
        Node("bn1", "batchnorm", ("h1",), ("b1",)),
        Node("c2", "conv2d", ("b1",), ("h2",), {"out_channels": 5, "kernel": 1, "bias": False}),
        Node("bn2", "batchnorm", ("h2",), ("b2",)),
        Node("act", "relu", ("b2",), ("y",)),
    ], ["y"], weights=WeightStore(seed=3)).materialize()
    rng = np.random.default_rng(4)
    stats = {}
    for bn, c in (("bn1", 4), ("bn2", 5)):
        stats |= {f"{bn}.gamma": rng.uniform(0.5, 2, c), f"{bn}.beta": rng.normal(0, 1, c),
                  f"{bn}.mean": rng.normal(0, 1, c), f"{bn}.var": rng.uniform(0.5, 2, c)}
    g = g.with_weights({k: v.astype(np.float32) for k, v in stats.items()})
    r = run("remove_layers", g)
    assert [(n.name, n.inputs) for n in r.graph.nodes] == [("c1", ("x",)), ("c2", ("h1",)), ("act", ("h2",))]
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(execute(r.graph, {"x": x}).output, execute(g, {"x": x}).output, rtol=1e-4, atol=1e-5)
    unmat = run("remove_layers", OpGraph.build("t", [TensorSpec("x", (1, 3, 6, 6), role="input")], list(g.nodes),
                                               ["y"]))
    assert [n.inputs for n in unmat.graph.nodes] == [("x",), ("h1",), ("h2",)]
