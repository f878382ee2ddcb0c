"""Retraining on a reduced model in seconds: the NumPy layers against hwsim's kernels, each projection
against the compressed graph its pass builds, and retraining that really recovers accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.analysis.accuracy import evaluate, measure_method
from hwsim.analysis.data import load_for_model
from hwsim.analysis.retrain.methods import RetrainOptions, _projections, retrain_method, scaled_sparsity
from hwsim.analysis.retrain.net import NotRetrainable, TrainableNet
from hwsim.analysis.retrain.trainer import TrainConfig, fit, loss_and_grad
from hwsim.compress.catalogue import get_method
from hwsim.compress.method import apply_method
from hwsim.frontends import load_model
from hwsim.kernels import execute

from testutils import WORKLOADS


@pytest.fixture(scope="module")
def cnn():
    return load_model(WORKLOADS / "digits" / "cnn.json").materialize()


@pytest.fixture(scope="module")
def digits(cnn):
    return load_for_model("digits", cnn)


def _net_from(graph):
    return TrainableNet(graph, {t: graph.dense_weight(t) for t in graph.weight_names()}, {})


@pytest.mark.parametrize("method", ["baseline", "prune-90", "weight-sharing", "binary-xnor", "binaryconnect",
                                    "ternary-twn", "int4-weights", "svd-lowrank", "depthwise-student"])
def test_trainer_forward_is_the_compressed_graph(cnn, digits, method):
    """The trainer's forward through each projection computes what the method's compressed graph computes."""
    x = digits.x("test")[:32]
    cg = apply_method(cnn, get_method(method)).graph
    weights = {t: cnn.dense_weight(t) for t in cnn.weight_names()}
    if set(cg.weight_names()) == set(weights):
        projs, init = _projections(cg, weights)
    else:
        projs, init = {}, {t: cg.dense_weight(t) for t in cg.weight_names()}
    net = TrainableNet(cg, init, projs)
    ours = net.predict(x)
    ref = execute(cg, {cg.inputs[0]: x}, require_provided=False).output
    assert np.allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max()), np.abs(ours - ref).max()


def test_backward_matches_finite_differences(cnn, digits):
    small = load_model(WORKLOADS / "digits" / "cnn.json").materialize()
    net = _net_from(small)
    x, y = digits.x("train")[:4].astype(np.float64), digits.y("train")[:4]
    net.params = {k: v.astype(np.float64) for k, v in net.params.items()}
    cfg = TrainConfig()
    eff = net.effective()
    z, caches = net.forward(x, eff)
    _, dz = loss_and_grad(z, y, None, cfg)
    grads = net.backward(dz, caches, eff)
    rng = np.random.default_rng(0)
    for t in ("conv1.weight", "conv2.weight", "fc1.weight", "conv2.bias"):
        idx = tuple(rng.integers(0, s) for s in net.params[t].shape)
        old = net.params[t][idx]
        losses = []
        for h in (1e-5, -1e-5):
            net.params[t][idx] = old + h
            losses.append(loss_and_grad(net.forward(x)[0], y, None, cfg)[0])
        net.params[t][idx] = old
        numeric = (losses[0] - losses[1]) / 2e-5
        assert abs(numeric - grads[t][idx]) <= 1e-4 + 1e-3 * abs(numeric), (t, numeric, grads[t][idx])


def test_masked_retraining_recovers_accuracy_and_keeps_the_mask(cnn, digits):
    method = get_method("prune-90")
    before = evaluate(apply_method(cnn, method).graph, digits)
    r = retrain_method(cnn, method, digits, RetrainOptions(epochs_scale=0.25))
    after = evaluate(r.compressed.graph, digits)
    assert after.top1 > before.top1 + 0.05, (before, after)
    for t in ("conv2.weight", "fc1.weight"):
        assert abs(np.mean(r.compressed.graph.dense_weight(t) != 0) - 0.1) < 0.01
    assert "masked" in r.what and r.epochs >= 5


def test_shared_retraining_keeps_the_codebook_size(cnn, digits):
    r = retrain_method(cnn, get_method("weight-sharing"), digits, RetrainOptions(epochs_scale=0.2))
    w = r.compressed.graph.dense_weight("fc1.weight")
    assert np.unique(w).size <= 32 and "shared" in r.what


def test_distillation_into_a_student_and_unsupported_graphs(cnn, digits):
    r = retrain_method(cnn, get_method("depthwise-student"), digits, RetrainOptions(epochs_scale=0.2))
    assert "distillation" in r.what and evaluate(r.compressed.graph, digits).top1 > 0.5
    with pytest.raises(NotRetrainable, match="no NumPy backward"):
        TrainableNet(load_model(WORKLOADS / "resnet18.json"), {}, {})


def test_budget_stops_training(cnn, digits):
    net = _net_from(cnn)
    log = fit(net, digits.x("train"), digits.y("train"), TrainConfig(epochs=50, budget_s=0.0))
    assert log.epochs_run == 1 and log.stopped_by_budget


def test_sparsity_scaling_reaches_overrides():
    p = {"sparsity": 0.9, "overrides": {"fc1": {"sparsity": 0.5}}, "scope": "layer"}
    assert scaled_sparsity(p, 0.5) == {"sparsity": 0.45, "overrides": {"fc1": {"sparsity": 0.25}}, "scope": "layer"}


def test_measure_method_ptq_chooses_on_validation(cnn, digits):
    r = measure_method(cnn, get_method("int8"), digits)
    assert r.post_training is not None and r.post_training.n == 540 and r.retrained is None
    assert "validation" in r.post_training_how and abs(r.drop_points) < 2.0


def test_a_method_that_changes_nothing_is_not_retrained(digits):
    """Retraining a model the method left alone would credit the method with more fp32 training."""
    mlp = load_model(WORKLOADS / "digits" / "mlp.json").materialize()  # no conv: tucker2 has nothing to do
    data = load_for_model("digits", mlp)
    acc = measure_method(mlp, get_method("tucker-lowrank"), data, RetrainOptions(epochs_scale=0.1))
    assert acc.retrained is None and acc.status == "measured"
    assert acc.notes == ("not retrained: the method changes nothing in this model",)
    assert acc.post_training.top1 == acc.baseline.top1
