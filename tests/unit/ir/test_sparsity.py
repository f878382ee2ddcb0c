"""Effective MACs: dense x weight density x activation density, with the source of every density."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.ir import OpGraph, TensorSpec
from hwsim.ir.graph import Node
from hwsim.ir.sparsity import (
    RULE_PRODUCT, activation_density, assume_activation_density, effective_counts, effective_macs,
    effective_totals, with_activation_densities,
)


def _mlp(**attrs) -> OpGraph:
    nodes = [Node("fc1", "linear", ("x",), ("fc1",), {"out_features": 20}),
             Node("relu1", "relu", ("fc1",), ("relu1",)),
             Node("drop", "dropout", ("relu1",), ("drop",), {"p": 0.5}),
             Node("fc2", "linear", ("drop",), ("fc2",), {"out_features": 5})]
    return OpGraph.build("mlp", [TensorSpec("x", (2, 10), role="input")], nodes, ["fc2"], **attrs)


def test_nothing_known_is_dense_and_says_assumed():
    g = _mlp()
    rows = effective_counts(g)
    assert [r.node for r in rows] == ["fc1", "fc2"]
    assert all(r.effective_macs == r.dense_macs for r in rows)
    assert rows[0].dense_macs == 2 * 10 * 20
    assert [a.source for r in rows for a in r.activations] == ["assumed", "assumed"]
    assert all(r.weight.source == "dense" and r.weight_density == 1.0 for r in rows)


def test_product_of_weight_and_activation_density_and_views_pass_density_through():
    g = _mlp()
    g = g.with_specs({"fc2.weight": g.tensor("fc2.weight").with_(density=0.25)})
    g = with_activation_densities(g, {"relu1": 0.4}, "measured", "test data, 3 images")
    fc2 = effective_macs(g, g.node("fc2"))
    assert fc2.activations[0].tensor == "drop"  # a dropout view shows relu1's values
    assert (fc2.activations[0].density, fc2.activations[0].source) == (0.4, "measured")
    assert fc2.effective_macs == pytest.approx(2 * 20 * 5 * 0.25 * 0.4)
    assert fc2.weight.source == "annotated" and fc2.rule == RULE_PRODUCT
    totals = effective_totals(effective_counts(g))
    assert totals.dense_macs == 400 + 200
    assert totals.effective_macs == pytest.approx(400 + 20)
    assert "measured (test data, 3 images)" in totals.sources and "assumed (dense, nothing measured or stated)" in totals.sources


def test_assumed_value_skips_graph_inputs_and_known_densities():
    g = with_activation_densities(_mlp(), {"relu1": 0.3}, "measured", "m")
    g = assume_activation_density(g, 0.5)
    fc1, fc2 = effective_counts(g)
    assert fc1.activations[0].source == "assumed" and fc1.activations[0].density == 1.0  # the graph input
    assert fc2.activations[0].density == 0.3  # measured wins over the assumption
    g2 = assume_activation_density(_mlp(), 0.5)
    assert effective_counts(g2)[1].activations[0].label == "assumed 0.5 (user value)"


def test_counted_zeros_of_shipped_weights():
    g = _mlp()
    w = np.ones((20, 10), np.float32)
    w[:, :7] = 0.0
    g = g.with_weights({"fc1.weight": w})
    fc1 = effective_macs(g, g.node("fc1"))
    assert fc1.weight.source == "counted" and fc1.weight_density == pytest.approx(0.3)


def test_transformed_domain_products_are_not_reduced():
    nodes = [Node("c", "conv2d", ("x",), ("c",), {"out_channels": 4, "kernel": 3, "padding": 1,
                                                   "algorithm": "winograd_f2x2_3x3"})]
    g = OpGraph.build("w", [TensorSpec("x", (1, 4, 8, 8), role="input")], nodes, ["c"])
    g = g.with_specs({"c.weight": g.tensor("c.weight").with_(density=0.5)})
    e = effective_macs(g, g.node("c"))
    assert e.effective_macs == e.dense_macs and "Winograd" in e.rule


def test_matmul_reads_both_operand_densities():
    nodes = [Node("mm", "matmul", ("a", "b"), ("mm",))]
    g = OpGraph.build("mm", [TensorSpec("a", (1, 4, 8), role="input"), TensorSpec("b", (1, 8, 3), role="input")],
                      nodes, ["mm"])
    g = with_activation_densities(g, {"a": 0.5, "b": 0.2}, "measured", "m")
    e = effective_macs(g, g.node("mm"))
    assert e.weight is None and e.effective_macs == pytest.approx(4 * 8 * 3 * 0.1)


def test_bad_density_values_are_refused():
    g = _mlp()
    with pytest.raises(ValueError):
        with_activation_densities(g, {"relu1": 1.5}, "assumed", "x")
    with pytest.raises(ValueError):
        with_activation_densities(g, {"fc1.weight": 0.5}, "assumed", "x")


def test_model_file_annotation_is_read_as_annotated(tmp_path):
    import json

    from hwsim.frontends import load_model

    doc = {"format": "hwsim-model", "version": 1, "name": "m", "inputs": [{"name": "x", "shape": [1, 10]}],
           "nodes": [{"name": "fc1", "op": "linear", "attrs": {"out_features": 4}},
                     {"name": "r", "op": "relu"},
                     {"name": "fc2", "op": "linear", "attrs": {"out_features": 2}}],
           "tensors": {"r": {"density": 0.5}}}
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc))
    g = load_model(p)
    assert activation_density(g, "r").source == "annotated"
    assert effective_counts(g)[1].effective_macs == pytest.approx(4)
