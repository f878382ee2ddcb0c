"""Every catalogue method on every shipped workload: a pass may rewrite a model, leave it unchanged with a
note saying why, or refuse it with a located ``HwsimError``; it may never crash with an internal exception
(KeyError, IndexError, networkx ...), hand back a graph the counting rules reject, store more weight
bytes than the baseline when the method exists to shrink the model, or produce a graph the analytic cost
model of a cheap device cannot cost.

Cost-only (unmaterialized weights: the passes annotate sizes by formula) for all twelve workloads, and
with seeded materialized weights for the small ones (real k-means, SVD, Tucker, CP on real arrays). Also
every method after four common first methods (composition). The whole file takes about 30 s on the
2-core machine; the materialized and composition sweeps are marked ``slow``.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import pytest

from hwsim.compress.catalogue import METHODS
from hwsim.compress.method import CompressedModel, apply_method
from hwsim.errors import HwsimError
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.ir import OpGraph, count_graph
from hwsim.sim.engines import simulate

WORKLOADS_DIR = Path(__file__).resolve().parents[2] / "workloads"
WORKLOADS = sorted(p.stem for p in WORKLOADS_DIR.glob("*.json"))
#: small enough (< 4M parameters) that materializing and compressing real arrays stays cheap
MATERIALIZED = ("lenet300_100", "lenet5", "transformer_tiny", "squeezenet1_1", "shufflenet_v2", "mobilenet_v2")
#: families whose methods do not exist to shrink the stored weights (the rest must never grow them)
NOT_SIZE_REDUCING = {"baseline", "conv_algorithm"}
METHOD_NAMES = list(METHODS.keys())


@cache
def _graph(workload: str, materialized: bool) -> OpGraph:
    g = load_model(WORKLOADS_DIR / f"{workload}.json")
    return g.materialize() if materialized else g


@cache
def _device():
    return load_device("cpu-a53")


@cache
def _compressed(workload: str, first: str, materialized: bool) -> OpGraph:
    return apply_method(_graph(workload, materialized), first).graph


def _check(workload: str, method: str, materialized: bool, after: str | None = None) -> None:
    g = _graph(workload, materialized) if after is None else _compressed(workload, after, materialized)
    m = METHODS.get(method)
    try:
        cm = apply_method(g, method)
    except HwsimError as e:  # a refusal must be located: the method and its step
        assert e.where and f"method {method!r}" in e.where, f"{method} on {workload}: unlocated refusal: {e}"
        assert e.message.strip(), f"{method} on {workload}: empty message"
        return
    _check_result(workload, m.family, g, cm, size_check=after is None)


def _check_result(workload: str, family: str, g: OpGraph, cm: CompressedModel, size_check: bool) -> None:
    method = cm.method.name
    base = count_graph(g)
    counts = count_graph(cm.graph)
    assert counts.macs > 0 and counts.weight_bytes > 0, f"{method} on {workload}: empty counts"
    out0, out1 = g.tensor(g.outputs[0]), cm.graph.tensor(cm.graph.outputs[0])
    assert out1.shape == out0.shape, f"{method} on {workload}: output shape {out1.shape} != {out0.shape}"
    if size_check and family not in NOT_SIZE_REDUCING:
        assert counts.weight_bytes <= base.weight_bytes, \
            f"{method} on {workload}: {counts.weight_bytes} weight bytes > baseline {base.weight_bytes}"
    if method != "baseline" and not any(r.changed for r in cm.results):
        pass_notes = [n for r in cm.results for n in r.notes]
        assert pass_notes, f"{method} on {workload}: nothing changed and no pass says why"
    res = simulate(cm.graph, _device(), engine="analytic", method=method)
    assert res.total_cycles > 0 and math.isfinite(res.seconds), f"{method} on {workload}: latency {res.seconds}"
    assert math.isfinite(res.energy_total_pj) and res.energy_total_pj > 0, \
        f"{method} on {workload}: energy {res.energy_total_pj}"
    assert len(res.ops) >= 1 and res.method == method


@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_method_on_workload_cost_only(workload: str, method: str) -> None:
    _check(workload, method, materialized=False)


@pytest.mark.slow
@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("workload", MATERIALIZED)
def test_method_on_workload_materialized(workload: str, method: str) -> None:
    _check(workload, method, materialized=True)


#: methods a deployment chains others after (folding first, quantizing, Deep Compression, binarizing)
FIRSTS = ("fold-bn", "int8-weights", "deep-compression", "binary-xnor")


@pytest.mark.slow
@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("first", FIRSTS)
@pytest.mark.parametrize(("workload", "materialized"), [("lenet5", True), ("mobilenet_v2", False),
                                                          ("resnet18", False)])
def test_method_after_another(workload: str, materialized: bool, first: str, method: str) -> None:
    """Composition: every method on an already-compressed graph rewrites it, or refuses with a located
    error (structured pruning after quantization, say); it never crashes."""
    _check(workload, method, materialized, after=first)


def test_every_shipped_workload_is_swept() -> None:
    assert len(WORKLOADS) >= 12 and set(MATERIALIZED) <= set(WORKLOADS)


def test_winograd_on_a_model_without_3x3_stride1_convs_is_a_noted_no_op() -> None:
    g = _graph("lenet5", False)  # two 5x5 convs
    cm = apply_method(g, "winograd")
    assert all(n.attrs["algorithm"] == "direct" for n in cm.graph.nodes if n.op == "conv2d")
    assert count_graph(cm.graph).macs == count_graph(g).macs
    assert any("no conv2d can run" in n and "3x3 kernel" in n for n in cm.notes)


@pytest.mark.parametrize(("workload", "method", "says"), [
    ("squeezenet1_1", "hashed-nets", "no linear layer"),  # all-conv model
    ("lenet300_100", "tucker-lowrank", "no conv2d layer"),
    ("transformer_tiny", "winograd", "no conv2d selected"),
])
def test_a_method_that_finds_nothing_to_do_says_so(workload: str, method: str, says: str) -> None:
    cm = apply_method(_graph(workload, False), method)
    assert not any(r.changed for r in cm.results)
    assert any(says in n for n in cm.notes), cm.notes


def test_refusing_to_restructure_binary_weights_names_the_dtype() -> None:
    g = _compressed("lenet5", "binary-xnor", True)
    with pytest.raises(HwsimError, match=r"already encoded \(binary\)") as e:
        apply_method(g, "filter-prune-30")
    assert "method 'filter-prune-30'" in (e.value.where or "")
