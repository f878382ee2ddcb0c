"""Activation densities measured by running the executor on the training split of a bundled data set."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.analysis.act_density import count_nonzeros, measure, with_measured_densities
from hwsim.analysis.data.traintest import load_digits_split
from hwsim.errors import UsageError
from hwsim.frontends import load_model
from hwsim.ir import OpGraph, TensorSpec
from hwsim.ir.graph import Node
from hwsim.ir.sparsity import effective_counts

from testutils import WORKLOADS


def test_nonzero_fraction_of_every_tensor_on_known_inputs():
    nodes = [Node("fc", "linear", ("x",), ("fc",), {"out_features": 2, "bias": False}),
             Node("r", "relu", ("fc",), ("r",))]
    g = OpGraph.build("t", [TensorSpec("x", (2, 2), role="input")], nodes, ["r"])
    g = g.with_weights({"fc.weight": np.array([[1.0, 0.0], [-1.0, 0.0]], np.float32)})
    x = np.array([[1.0, 5.0], [0.0, 0.0]], np.float32)  # fc: [[1, -1], [0, 0]]; relu: [[1, 0], [0, 0]]
    d = count_nonzeros(g, {"x": x})
    assert d == {"x": 0.5, "fc": 0.5, "r": 0.25}


def test_digits_mlp_input_density_is_the_fraction_of_nonzero_pixels():
    g = load_model(WORKLOADS / "digits" / "mlp.json")
    m = measure(g, "digits", images=64, seed=3)
    data = load_digits_split()
    pick = np.random.default_rng(3).permutation(len(data.y_train))[:64]
    assert m.images == 64 and m.densities["x"] == pytest.approx(np.count_nonzero(data.x_train[pick]) / (64 * 64))
    assert 0.0 < m.densities["relu1"] < 1.0  # ReLU zeros really measured


def test_measured_densities_feed_the_effective_count():
    g = with_measured_densities(load_model(WORKLOADS / "digits" / "mlp_dc.json"), "digits", images=32)
    fc1, fc2, _ = effective_counts(g)
    assert fc1.weight.source == "counted" and fc1.weight_density == pytest.approx(0.08, abs=0.005)
    assert fc2.activations[0].source == "measured" and "32 images" in fc2.activations[0].detail
    assert fc2.effective_macs == pytest.approx(fc2.dense_macs * fc2.weight_density * fc2.activations[0].density)


def test_seeded_random_weights_are_refused():
    with pytest.raises(UsageError, match="no shipped weights"):
        measure(load_model(WORKLOADS / "lenet5.json"), "digits")
