"""BRAM per method on an FPGA overlay: it follows the stored weights and activations, and where the
buffers are capped at the budget the design says so and by how much (issue 12: 238/280 for every method)."""

from __future__ import annotations

import pytest

from hwsim.compress import apply_method
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.sim import simulate
from testutils import ROOT


def _run(model: str, method: str):
    graph = apply_method(load_model(ROOT / "workloads" / model), method).graph
    return simulate(graph, load_device("fpga-small"))


@pytest.fixture(scope="module")
def resnet18():
    return {m: _run("resnet18.json", m) for m in ("baseline", "int8", "binary-xnor", "prune-90")}


def test_resnet18_bram_is_capped_and_says_so(resnet18):
    for method, run in resnet18.items():
        used, wanted = run.resources["bram18"], run.resources["bram18_wanted"]
        assert used <= 0.85 * 280, method
        assert wanted > used, method  # every method's largest layer is larger than the on-chip budget
        assert any(n.startswith("BRAM capped at the budget") and f"{wanted:,}" in n for n in run.notes), method


def test_resnet18_wanted_bram_follows_what_each_method_stores(resnet18):
    wanted = {m: r.resources["bram18_wanted"] for m, r in resnet18.items()}
    # fp32 layer4 weights (9.4 MB) need ~4x the blocks of int8 ones; binary / pruned weights shrink so far
    # that the first conv's fp32 activations become the largest working set
    assert wanted["int8"] < wanted["baseline"] / 3
    assert wanted["binary-xnor"] < wanted["baseline"] / 2
    assert wanted["prune-90"] < wanted["baseline"] / 2


def test_small_model_bram_differs_by_method():
    """LeNet-5 fits on chip once compressed: int8, binary and pruned weights use fewer blocks, uncapped."""
    used = {}
    for m in ("baseline", "int8", "binary-xnor", "prune-90"):
        run = _run("lenet5.json", m)
        used[m] = run.resources["bram18"]
        if m != "baseline":
            assert run.resources["bram18_wanted"] == used[m], m  # not capped: what it wants is what it uses
            assert not any(n.startswith("BRAM capped") for n in run.notes), m
    assert used["int8"] < used["baseline"]
    assert used["binary-xnor"] < used["int8"]
    assert used["prune-90"] < used["baseline"]
