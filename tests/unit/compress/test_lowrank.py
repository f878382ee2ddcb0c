"""Low-rank passes: real decompositions of real weights, the rewritten chains compute what the
factors say, Kim's parameter count, rank rules and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.compress.base import PASSES
from hwsim.compress.lowrank import energy_rank, kim_params
from hwsim.errors import CompressionError
from hwsim.ir import Node, OpGraph, TensorSpec, count_graph
from structural_ref import conv2d, run

import hwsim.compress.lowrank  # noqa: F401  (registers the passes)


def _cnn(materialize: bool = True) -> OpGraph:
    g = OpGraph.build("cnn", [TensorSpec("x", (2, 6, 9, 9), role="input")], [
        Node("c1", "conv2d", ("x",), ("a",), {"out_channels": 10, "kernel": 3, "padding": 1, "bias": True}),
        Node("r1", "relu", ("a",), ("b",)),
        Node("c2", "conv2d", ("b",), ("c",), {"out_channels": 12, "kernel": [3, 5], "stride": 2,
                                              "padding": [1, 2, 0, 1], "dilation": [1, 2]}),
        Node("gap", "global_avgpool", ("c",), ("p",)),
        Node("fl", "flatten", ("p",), ("f",)),
        Node("fc1", "linear", ("f",), ("h",), {"out_features": 16}),
        Node("fc2", "linear", ("h",), ("y",), {"out_features": 5}),
    ], ["y"])
    return g.materialize() if materialize else g


def _x(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((2, 6, 9, 9))


def _frozen(g: OpGraph) -> tuple:
    return (tuple(g.nodes), tuple(sorted(g.tensors.items())), tuple(g.outputs))


def test_svd_full_rank_is_exact_and_keeps_name_output_and_bias():
    g = _cnn()
    before = _frozen(g)
    r = PASSES.get("svd").run(g, {"rank": 5, "layers": ["fc2"], "only_if_smaller": False})
    assert _frozen(g) == before  # input untouched
    new = r.graph
    assert [n.name for n in new.nodes][-2:] == ["fc2.svd_v", "fc2"]
    assert new.node("fc2").params["bias"] == "fc2.bias" and new.node("fc2").outputs == ("y",)
    (change,) = r.changes
    assert change.details["rank"] == 5 and change.details["reconstruction_error"] < 1e-6
    np.testing.assert_allclose(run(new, _x())["y"], run(g, _x())["y"], rtol=1e-5, atol=1e-5)


def test_svd_truncation_error_is_the_tail_energy():
    g = _cnn()
    w = g.dense_weight("fc1.weight").astype(np.float64)
    s = np.linalg.svd(w, compute_uv=False)
    r = PASSES.get("svd").run(g, {"rank": 3, "layers": ["fc1"]})
    (change,) = r.changes
    expected = np.sqrt((s[3:] ** 2).sum() / (s**2).sum())  # Eckart-Young
    assert change.details["reconstruction_error"] == pytest.approx(expected, rel=1e-4)
    assert r.graph.tensor("fc1.svd_v.weight").shape == (3, 12)
    assert r.graph.tensor("fc1.svd_u.weight").shape == (16, 3)
    assert change.bytes_after == 4 * (3 * 12 + 16 * 3 + 16)


def test_energy_rule_keeps_the_asked_energy():
    s = np.array([4.0, 2.0, 1.0, 1.0])
    assert energy_rank(s, 0.5) == 1  # 16/22
    assert energy_rank(s, 0.9) == 2  # 20/22 = 0.909
    assert energy_rank(s, 0.95) == 3
    r = PASSES.get("svd").run(_cnn(), {"energy": 0.8, "layers": ["fc1"], "only_if_smaller": False})
    assert r.changes[0].details["energy_kept"] >= 0.8


def test_ratio_rule_and_skip_when_not_smaller():
    r = PASSES.get("svd").run(_cnn(), {"ratio": 0.5})
    by = {c.layer: c for c in r.changes}
    assert by["fc1"].details["rank"] == 6  # ceil(0.5 * min(16, 12))
    assert by["fc2"].details["rank"] == 3 and by["fc2"].action == "factorized"  # 3 * (5 + 16) < 5 * 16
    skip = PASSES.get("svd").run(_cnn(), {"ratio": 0.9})  # ranks 11 and 5 store more than W
    assert not skip.changed and {c.action for c in skip.changes} == {"skipped"}
    assert "would not store fewer" in skip.changes[0].details["reason"]


@pytest.mark.parametrize("params, message", [
    ({"rank": 13, "layers": ["fc1"]}, "rank 13 is larger than the weight matrix 16x12"),
    ({"ratio": 0.0}, "ratio"),
    ({"ratio": 1.5}, "ratio"),
    ({"layers": ["fc9*"]}, "names no layer"),
    ({"rnak": 3}, "rnak"),
])
def test_svd_bad_input_is_a_clear_compression_error(params, message):
    with pytest.raises(CompressionError, match=message) as e:
        PASSES.get("svd").run(_cnn(), params)
    if "rank" in params:
        assert "fc1" in str(e.value)


def test_tucker2_matches_kims_parameter_count_and_computes_its_factors():
    g = _cnn()
    r = PASSES.get("tucker2").run(g, {"ranks": [3, 4], "layers": ["c1"]})
    new = r.graph
    names = [n.name for n in new.nodes][:3]
    assert names == ["c1.tucker_in", "c1.tucker_core", "c1"]
    assert new.tensor("c1.tucker_in.weight").shape == (3, 6, 1, 1)
    assert new.tensor("c1.tucker_core.weight").shape == (4, 3, 3, 3)
    assert new.tensor("c1.tucker_out.weight").shape == (10, 4, 1, 1)
    per = {n.name: n.params for n in count_graph(new).nodes}
    factor_params = per["c1.tucker_in"] + per["c1.tucker_core"] + per["c1"] - 10  # minus the bias
    assert factor_params == kim_params(6, 10, 9, 3, 4) == 6 * 3 + 9 * 3 * 4 + 10 * 4
    # the chain equals one conv with the reconstructed kernel (and the original bias)
    u_in = new.dense_weight("c1.tucker_in.weight")[:, :, 0, 0]
    core = new.dense_weight("c1.tucker_core.weight")
    u_out = new.dense_weight("c1.tucker_out.weight")[:, :, 0, 0]
    k = np.einsum("abyx,ta,bs->tsyx", core, u_out, u_in)
    want = conv2d(_x(), k, g.dense_weight("c1.bias"), dict(g.node("c1").attrs))
    np.testing.assert_allclose(run(new, _x())["a"], want, rtol=1e-4, atol=1e-5)
    err = np.linalg.norm(g.dense_weight("c1.weight") - k) / np.linalg.norm(g.dense_weight("c1.weight"))
    assert r.changes[0].details["reconstruction_error"] == pytest.approx(err, rel=1e-4)


def test_tucker2_full_ranks_reconstruct_exactly_and_errors_name_the_mode():
    g = _cnn()
    r = PASSES.get("tucker2").run(g, {"ranks": [6, 10], "layers": ["c1"], "only_if_smaller": False})
    assert r.changes[0].details["reconstruction_error"] < 1e-5
    with pytest.raises(CompressionError, match=r"rank 7 is larger than the input mode.*\(R3\)"):
        PASSES.get("tucker2").run(g, {"ranks": [7, 4], "layers": ["c1"]})
    with pytest.raises(CompressionError, match=r"\(R4\)"):
        PASSES.get("tucker2").run(g, {"ranks": [3, 11], "layers": ["c1"]})


def test_tucker2_keeps_stride_padding_dilation_on_the_core():
    g = _cnn()
    r = PASSES.get("tucker2").run(g, {"ratio": 0.5, "layers": ["c2"]})
    core = r.graph.node("c2.tucker_core")
    assert core.attrs["stride"] == [2, 2] and core.attrs["padding"] == [1, 2, 0, 1] and core.attrs["dilation"] == [1, 2]
    assert r.graph.tensor("c").shape == g.tensor("c").shape
    assert r.changes[0].details["ranks"] == [5, 6]


def test_cp_four_convs_compute_the_cp_kernel():
    g = _cnn()
    r = PASSES.get("cp").run(g, {"rank": 6, "layers": ["c2"]})
    new = r.graph
    assert [n.name for n in new.nodes if n.name.startswith("c2")] == ["c2.cp_in", "c2.cp_v", "c2.cp_h", "c2"]
    assert new.node("c2.cp_v").attrs["groups"] == 6 and new.node("c2.cp_v").attrs["kernel"] == [3, 1]
    assert new.node("c2.cp_h").attrs["kernel"] == [1, 5] and new.node("c2.cp_h").attrs["stride"] == [1, 2]
    a_s = new.dense_weight("c2.cp_in.weight")[:, :, 0, 0]  # [R, S]
    a_y = new.dense_weight("c2.cp_v.weight")[:, 0, :, 0]  # [R, kh]
    a_x = new.dense_weight("c2.cp_h.weight")[:, 0, 0, :]  # [R, kw]
    a_t = new.dense_weight("c2.cp_out.weight")[:, :, 0, 0]  # [T, R]
    k = np.einsum("tr,rs,ry,rx->tsyx", a_t, a_s, a_y, a_x)
    x = run(g, _x())["b"]
    want = conv2d(x, k, None, dict(g.node("c2").attrs))
    got = run(new, _x())["c"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert r.changes[0].bytes_after == 4 * 6 * (10 + 3 + 5 + 12)


def test_separable_full_rank_is_exact_and_truncated_rank_counts():
    g = _cnn()
    full = PASSES.get("separable").run(g, {"rank": 18, "layers": ["c1"], "only_if_smaller": False})
    assert full.changes[0].details["reconstruction_error"] < 1e-5
    np.testing.assert_allclose(run(full.graph, _x())["a"], run(g, _x())["a"], rtol=1e-4, atol=1e-5)
    r = PASSES.get("separable").run(g, {"rank": 4, "layers": ["c2"]})
    new = r.graph
    assert new.node("c2.sep_v").attrs["kernel"] == [3, 1] and new.node("c2").attrs["kernel"] == [1, 5]
    assert new.tensor("c").shape == g.tensor("c").shape
    assert r.changes[0].details["params_factorized"] == 4 * (10 * 3 + 12 * 5)
    with pytest.raises(CompressionError, match="max rank 18"):
        PASSES.get("separable").run(g, {"rank": 19, "layers": ["c1"]})


def test_unmaterialized_graph_gets_structure_only():
    g = _cnn(materialize=False)
    r = PASSES.get("tucker2").run(g, {"ratio": 0.5})
    assert all(c.details["reconstruction_error"] is None for c in r.changes if c.action == "factorized")
    assert not r.graph.weights.provided("c1.tucker_core.weight")
    assert r.graph.tensor("c1.tucker_core.weight").shape == (5, 3, 3, 3)


def test_factorizing_twice_uses_fresh_tensor_names():
    g = _cnn()
    once = PASSES.get("svd").run(g, {"rank": 4, "layers": ["fc1"]}).graph
    twice = PASSES.get("svd").run(once, {"rank": 2, "layers": ["fc1"]}).graph
    assert twice.tensor(twice.node("fc1").params["weight"]).shape == (16, 2)
    assert twice.dense_weight(twice.node("fc1").params["weight"]).shape == (16, 2)


def test_cp_als_matches_tensorly_parafac_and_recovers_an_exact_cp_kernel():
    import warnings

    from tensorly.cp_tensor import cp_to_tensor
    from tensorly.decomposition import parafac

    from hwsim.compress.lowrank import cp_als, cp_full

    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 12, 3, 3))
    for rank in (4, 16):
        ours = np.linalg.norm(w - cp_full(*cp_als(w, rank, 25))) / np.linalg.norm(w)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = parafac(w, rank=rank, init="svd", n_iter_max=25, random_state=0)
        theirs = np.linalg.norm(w - cp_to_tensor(ref)) / np.linalg.norm(w)
        assert ours <= 1.05 * theirs
    exact = cp_full(*(rng.standard_normal((d, 5)) for d in (16, 12, 3, 3)))
    assert np.linalg.norm(exact - cp_full(*cp_als(exact, 5, 200))) < 1e-6 * np.linalg.norm(exact)


def test_thin_svd_equals_lapack():
    from hwsim.compress.lowrank import thin_svd

    m = np.random.default_rng(3).standard_normal((30, 50))
    for a in (m, m.T):
        u, s, vt = thin_svd(a)
        np.testing.assert_allclose((u * s) @ vt, a, atol=1e-10)
        np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), atol=1e-10)
