"""Every registered compression pass (``PASSES``, all families) honours the pass contract:

* it leaves its input graph untouched (nodes, tensor annotations, weight values),
* it rejects an unknown parameter with a ``CompressionError`` naming the parameter,
* it records what it did: a changed graph comes with per-layer records naming layers of the input
  graph (the model's name for a whole-model rewrite), or notes saying why nothing changed, and byte
  counts that are non-negative integers,
* it works on materialized weights and on cost-only (unmaterialized) graphs alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwsim.compress import PASSES
from hwsim.compress.compact import set_model_loader
from hwsim.errors import CompressionError
from hwsim.frontends import load_model
from hwsim.ir import Node, OpGraph, TensorSpec, WeightStore

#: Passes whose parameters have no usable defaults get these (model-specific) ones.
REQUIRED = {
    "early_exit": {"exits": [{"after": "b1relu", "probability": 0.4}]},
}


def small_model(materialized: bool) -> OpGraph:
    nodes = [
        Node("stem", "conv2d", ("x",), ("s",), {"out_channels": 16, "kernel": 3, "padding": 1}),
        Node("stem_bn", "batchnorm", ("s",), ("sb",)),
        Node("stem_relu", "relu", ("sb",), ("a0",)),
        Node("b1c1", "conv2d", ("a0",), ("t1",), {"out_channels": 12, "kernel": 3, "padding": 1}),
        Node("b1r1", "relu", ("t1",), ("t1r",)),
        Node("b1c2", "conv2d", ("t1r",), ("t2",), {"out_channels": 16, "kernel": 3, "padding": 1}),
        Node("b1add", "add", ("t2", "a0"), ("r1",)),
        Node("b1relu", "relu", ("r1",), ("a1",)),
        Node("left", "conv2d", ("a1",), ("l",), {"out_channels": 8, "kernel": 1}),
        Node("right", "conv2d", ("a1",), ("r",), {"out_channels": 8, "kernel": 3, "padding": 1}),
        Node("cat", "concat", ("l", "r"), ("c",), {"axis": 1}),
        Node("drop", "dropout", ("c",), ("cd",)),
        Node("pool", "global_avgpool", ("cd",), ("gp",)),
        Node("flat", "flatten", ("gp",), ("f",)),
        Node("fc1", "linear", ("f",), ("h",), {"out_features": 32}),
        Node("fc_relu", "relu", ("h",), ("hr",)),
        Node("fc2", "linear", ("hr",), ("y",), {"out_features": 5}),
    ]
    g = OpGraph.build("contract", [TensorSpec("x", (1, 3, 12, 12), role="input")], nodes, ["y"],
                      weights=WeightStore(seed=0))
    return g.materialize() if materialized else g


@pytest.fixture(scope="module")
def student_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("student") / "student.json"
    path.write_text(json.dumps({
        "name": "student", "inputs": [{"name": "x", "shape": [1, 3, 12, 12]}],
        "nodes": [{"name": "c", "op": "conv2d", "attrs": {"out_channels": 4, "kernel": 3}},
                  {"name": "p", "op": "global_avgpool"}, {"name": "f", "op": "flatten"},
                  {"name": "fc", "op": "linear", "attrs": {"out_features": 5}}]}))
    return path


@pytest.fixture(autouse=True)
def loader():
    set_model_loader(load_model)
    yield
    set_model_loader(None)


def params_for(name: str, student: Path) -> dict:
    if name == "student":
        return {"model": str(student)}
    return dict(REQUIRED.get(name, {}))


def snapshot(g: OpGraph) -> tuple:
    weights = {t: np.ascontiguousarray(g.dense_weight(t)).tobytes() for t in g.weight_names()
               if g.weights.provided(t)}
    return (g.nodes, dict(g.tensors), weights, dict(g.meta), g.inputs, g.outputs)


def test_every_pass_family_is_registered():
    for name in ("prune", "prune_random", "prune_filters", "prune_channels", "remove_layers", "sparse_format",
                 "quantize", "mixed_precision", "share_kmeans", "share_hash", "huffman"):
        assert name in PASSES
    assert len(PASSES) >= 20


@pytest.mark.parametrize("name", sorted(PASSES.keys()))
@pytest.mark.parametrize("materialized", [True, False], ids=["weights", "cost-only"])
def test_pass_contract(name, materialized, student_file):
    g = small_model(materialized)
    before = snapshot(g)
    pdef = PASSES.get(name)
    result = pdef.run(g, params_for(name, student_file))
    assert snapshot(g) == before, f"{name} modified its input graph"
    assert result.pass_name == name
    assert isinstance(result.graph, OpGraph)
    layers = {n.name for n in g.nodes}
    for c in result.changes:
        # a layer of the input graph, or the model's name for a whole-model rewrite (student)
        assert c.layer in layers or c.layer == g.name, f"{name} recorded a change for unknown layer {c.layer!r}"
        assert isinstance(c.bytes_before, int) and isinstance(c.bytes_after, int)
        assert c.bytes_before >= 0 and c.bytes_after >= 0
        assert c.action
    if result.changed:
        assert result.changes or result.notes, f"{name} changed the graph without saying how"
    else:
        assert result.graph is g or snapshot(result.graph)[:2] == before[:2] or result.notes


@pytest.mark.parametrize("name", sorted(PASSES.keys()))
def test_pass_rejects_unknown_parameters(name, student_file):
    raw = {**params_for(name, student_file), "no_such_parameter": 1}
    with pytest.raises(CompressionError, match="no_such_parameter"):
        PASSES.get(name).run(small_model(False), raw)


@pytest.mark.parametrize("name", sorted(n for n, d in PASSES.items() if d.lossless))
def test_lossless_passes_keep_decoded_weights_bit_exact(name, student_file):
    g = PASSES.get("share_kmeans").run(PASSES.get("prune").run(small_model(True), {"sparsity": 0.8}).graph).graph
    out = PASSES.get(name).run(g, params_for(name, student_file)).graph
    for t in g.weight_names():
        a, b = g.dense_weight(t), out.dense_weight(t)
        assert np.array_equal(np.asarray(a, np.float32).view(np.uint32), np.asarray(b, np.float32).view(np.uint32))
