"""Structured-matrix FC layers: the circulant and fastfood op kinds (shapes, slots, exact counts, fast
transforms equal to their dense definitions) and the passes that introduce them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwsim.compress.base import PASSES
from hwsim.compress.structured import fit_circulant
from hwsim.errors import CompressionError, ShapeError
from hwsim.ir import Node, OpGraph, TensorSpec, count_graph
from hwsim.ir.ops import OpGroup, op_def
from hwsim.ir.opdefs.structured import (
    circulant_matrix, circulant_signs, fastfood_matrix, fastfood_permutations, rfft_flops, wht_adds,
)
from structural_ref import run

import hwsim.compress.structured  # noqa: F401  (registers the passes)


def _one(op: str, n: int, out: int, rows: int = 1, bias: bool = True) -> OpGraph:
    attrs = {"out_features": out, "bias": bias, **({"seed": 3} if op != "linear" else {})}
    return OpGraph.build("s", [TensorSpec("x", (rows, n), role="input")], [Node("l", op, ("x",), ("y",), attrs)],
                         ["y"])


def test_op_kinds_are_structured_with_linear_shapes():
    for op in ("circulant", "fastfood"):
        assert op_def(op).group == OpGroup.STRUCTURED
    g = OpGraph.build("s", [TensorSpec("x", (2, 7, 100), role="input")],
                      [Node("l", "circulant", ("x",), ("y",), {"out_features": 60})], ["y"])
    assert g.tensor("y").shape == (2, 7, 60) and g.node("l").attrs["size"] == 100
    assert g.tensor("l.weight").shape == (100,) and g.tensor("l.bias").shape == (60,)
    f = _one("fastfood", 100, 300)
    assert f.node("l").attrs["size"] == 128  # next power of two
    assert {s: f.tensor(t).shape for s, t in f.node("l").params.items()} == {
        "s": (3, 128), "g": (3, 128), "b": (3, 128), "bias": (300,)}


@pytest.mark.parametrize("n", [64, 256, 1024, 4096])
def test_parameters_are_linear_and_work_is_n_log_n(n):
    c = count_graph(_one("circulant", n, n, rows=4)).nodes[0]
    assert c.params == n + n
    assert c.arith["fft"] == 4 * 2 * math.ceil(2.5 * n * math.log2(n))
    assert c.macs == 4 * 4 * (n // 2 + 1) and c.arith["mul"] == 4 * n and c.arith["add"] == 4 * n
    f = count_graph(_one("fastfood", n, n, rows=4)).nodes[0]
    assert f.params == 3 * n + n
    assert f.arith["wht"] == 4 * 2 * n * int(math.log2(n)) and f.macs == 4 * 3 * n and f.arith["move"] == 4 * n
    dense = count_graph(_one("linear", n, n, rows=4)).nodes[0]
    assert dense.params == n * n + n and dense.macs == 4 * n * n


def test_fft_product_equals_the_circulant_definition():
    rng = np.random.default_rng(0)
    attrs = {"size": 48, "seed": 5, "out_features": 30}
    r, x = rng.standard_normal(48), rng.standard_normal(40)
    m = circulant_matrix(r, attrs, 40)
    xp = np.zeros(48)
    xp[:40] = x * circulant_signs(5, 48)[:40]
    y = np.fft.irfft(np.fft.rfft(r) * np.fft.rfft(xp), n=48)[:30]
    np.testing.assert_allclose(m @ x, y, atol=1e-10)
    assert rfft_flops(48) == math.ceil(2.5 * 48 * math.log2(48))


def _fwht(v: np.ndarray) -> np.ndarray:
    v = v.copy()
    h = 1
    while h < v.size:
        for i in range(0, v.size, 2 * h):
            a, b = v[i:i + h].copy(), v[i + h:i + 2 * h].copy()
            v[i:i + h], v[i + h:i + 2 * h] = a + b, a - b
        h *= 2
    return v


def test_fast_walsh_hadamard_path_equals_the_fastfood_definition():
    rng = np.random.default_rng(1)
    attrs = {"size": 16, "seed": 2, "out_features": 20}
    s, g, b = (rng.standard_normal((2, 16)) for _ in range(3))
    x = rng.standard_normal(12)
    perms = fastfood_permutations(2, 2, 16)
    out = []
    for k in range(2):
        v = np.zeros(16)
        v[:12] = x
        v = _fwht(b[k] * v)[perms[k]]
        out.append(s[k] * _fwht(g[k] * v))
    np.testing.assert_allclose(fastfood_matrix(s, g, b, attrs, 12) @ x, np.concatenate(out)[:20], atol=1e-10)
    assert wht_adds(16) == 16 * 4


def test_bad_attributes_are_shape_errors():
    with pytest.raises(ShapeError, match="seed"):
        OpGraph.build("s", [TensorSpec("x", (1, 8), role="input")],
                      [Node("l", "fastfood", ("x",), ("y",), {"out_features": 4, "seed": -1})], ["y"])
    with pytest.raises(ShapeError, match="out_features"):
        OpGraph.build("s", [TensorSpec("x", (1, 8), role="input")], [Node("l", "circulant", ("x",), ("y",))], ["y"])


def _mlp() -> OpGraph:
    return OpGraph.build("mlp", [TensorSpec("x", (3, 40), role="input")], [
        Node("fc1", "linear", ("x",), ("h",), {"out_features": 64}), Node("r", "relu", ("h",), ("hr",)),
        Node("fc2", "linear", ("hr",), ("y",), {"out_features": 10})], ["y"]).materialize()


def test_circulant_pass_projects_real_weights_and_keeps_bias():
    g = _mlp()
    r = PASSES.get("circulant").run(g, {"layers": ["fc1"], "seed": 7})
    node = r.graph.node("fc1")
    assert node.op == "circulant" and node.params["bias"] == "fc1.bias" and node.attrs["seed"] == 7
    (change,) = r.changes
    assert change.details["params_after"] == 64 + 64 and change.details["params_before"] == 64 * 40 + 64
    approx = circulant_matrix(r.graph.dense_weight(node.params["weight"]), dict(node.attrs), 40)
    w = g.dense_weight("fc1.weight")
    assert change.details["reconstruction_error"] == pytest.approx(
        np.linalg.norm(w - approx) / np.linalg.norm(w), rel=1e-5)
    x = np.random.default_rng(0).standard_normal((3, 40))
    want = x @ approx.T + g.dense_weight("fc1.bias")
    np.testing.assert_allclose(run(r.graph, x)["h"], want, rtol=1e-5, atol=1e-6)


def test_circulant_fit_recovers_a_circulant_weight_exactly():
    r = np.random.default_rng(2).standard_normal(64)
    w = circulant_matrix(r, {"size": 64, "seed": 0, "out_features": 64}, 40)
    np.testing.assert_allclose(fit_circulant(w, 64, 0), r, atol=1e-12)


def test_fastfood_pass_fits_s_and_reports_the_error():
    g = _mlp()
    r = PASSES.get("fastfood").run(g, {})
    assert {n.op for n in r.graph.nodes} == {"fastfood", "relu"}
    c = {x.layer: x for x in r.changes}
    assert c["fc1"].details["size"] == 64 and c["fc1"].details["blocks"] == 1
    assert 0 < c["fc1"].details["reconstruction_error"] <= 1.0  # least-squares S never does worse than 0
    assert r.graph.tensor("y").shape == (3, 10)
    assert any("unknown" in n for n in r.notes)


def test_unknown_layer_pattern_is_an_error():
    with pytest.raises(CompressionError, match="names no layer"):
        PASSES.get("circulant").run(_mlp(), {"layers": ["fc3"]})


def test_fwht_is_the_hadamard_product():
    from hwsim.ir.opdefs.structured import fwht, hadamard

    a = np.random.default_rng(4).standard_normal((32, 5))
    np.testing.assert_allclose(fwht(a), hadamard(32) @ a, atol=1e-12)
    np.testing.assert_allclose(fwht(a[:, 0]), hadamard(32) @ a[:, 0], atol=1e-12)
