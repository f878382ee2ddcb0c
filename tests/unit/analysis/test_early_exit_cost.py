"""Early exits downstream of the pass: expected and worst-case latency / energy / MACs in the pipeline's
records, the comparison rows, the JSON and the HTML summary.

The expected figures are checked by hand: an input leaving at exit i ran the exit's trunk ancestors,
its own branch and the branches of the exits before it; expected = sum_i p_i cost_i + (1 - sum p) x
(everything). Node sets are written out for LeNet-5 (conv1 pool1 conv2 pool2 flatten ip1 relu1 ip2).
"""

from __future__ import annotations

import json

import pytest

from hwsim.analysis.metrics import early_exit_cost
from hwsim.pipeline import PipelineConfig, VerifyConfig, run_pipeline
from hwsim.report.report import render_report

METHODS = "early_exit.yaml"  # shipped in hwsim/compress/methods/, found by its bare name
LENET = "workloads/lenet5.json"
P1, P2 = 0.3, 0.4  # the file's probabilities for early-exit-lenet5
BRANCH1 = ["exit1.pool", "exit1.flatten", "exit1.fc", "exit1"]
BRANCH2 = ["exit2.pool", "exit2.flatten", "exit2.fc", "exit2"]
UP_TO_EXIT1 = ["conv1", "pool1", *BRANCH1]
UP_TO_EXIT2 = ["conv1", "pool1", "conv2", "pool2", *BRANCH1, *BRANCH2]


@pytest.fixture(scope="module")
def result():
    cfg = PipelineConfig(model=LENET, devices=["cpu-a53", "fpga-small"],
                         methods=["baseline", f"{METHODS}#early-exit-lenet5"], verify=VerifyConfig(mode="off"))
    return run_pipeline(cfg)


def _ee(result, device="cpu-a53"):
    mr = next(m for m in result.methods if m.method != "baseline")
    return mr, mr.run_on(device)


def _hand(per_node: dict[str, float], total: float) -> float:
    c1 = sum(per_node[n] for n in UP_TO_EXIT1)
    c2 = sum(per_node[n] for n in UP_TO_EXIT2)
    return P1 * c1 + P2 * c2 + (1 - P1 - P2) * total


def test_expected_latency_and_energy_by_hand_on_a_sequential_engine(result):
    mr, dr = _ee(result)
    run = dr.run
    assert run.total_cycles == sum(op.cycles for op in run.ops)  # the analytic CPU runs ops one after another
    cycles = {op.node: float(op.cycles) for op in run.ops}
    assert set(cycles) == {n for n in mr.summary.layer_macs}  # every node of the graph was timed
    exp_s = _hand(cycles, run.total_cycles) / run.clock_hz
    row = result.comparison.row(mr.method, "cpu-a53")
    assert row.latency_s == pytest.approx(exp_s, rel=1e-12)
    assert row.latency_worst_s == run.seconds and row.latency_s < row.latency_worst_s
    assert row.throughput_inf_per_s == pytest.approx(1 / exp_s, rel=1e-12)
    # energy: per-op parts weighted like cycles; static leakage follows the time
    for part in ("compute", "onchip", "dram"):
        per_node = {op.node: float(op.energy_pj.get(part, 0.0)) for op in run.ops}
        assert getattr(row, f"energy_{part}_j") == pytest.approx(
            _hand(per_node, sum(per_node.values())) * 1e-12, rel=1e-12)
    static = run.energy_pj["static"] - sum(op.energy_pj.get("static", 0.0) for op in run.ops)
    assert row.energy_static_j == pytest.approx(static * (exp_s / run.seconds) * 1e-12, rel=1e-12)
    assert row.energy_worst_j == pytest.approx(run.energy_total_pj * 1e-12, rel=1e-12)
    assert row.energy_j == pytest.approx(sum(getattr(row, f"energy_{p}_j")
                                             for p in ("compute", "onchip", "dram", "static")), rel=1e-12)
    # MACs: conv1 20x24x24x25, conv2 50x8x8x500, ip1 800x500, ip2 500x10; branch fcs 20x10, 50x10
    macs = mr.summary.layer_macs
    assert (macs["conv1"], macs["conv2"], macs["exit1.fc"], macs["exit2.fc"]) == (288000, 1600000, 200, 500)
    assert row.macs == pytest.approx(_hand({k: float(v) for k, v in macs.items()}, mr.summary.macs), rel=1e-12)
    assert row.macs_worst == mr.summary.macs == 2_293_000 + 200 + 500
    assert row.exit_probabilities == (P1, P2)


def test_per_exit_costs_are_the_costs_up_to_that_exit(result):
    mr, dr = _ee(result)
    ee = dr.early_exit
    cycles = {op.node: op.cycles for op in dr.run.ops}
    assert [(x.exit, x.after, x.probability) for x in ee.exits] == [("exit1", "pool1", P1), ("exit2", "pool2", P2)]
    assert ee.exits[0].latency_s == pytest.approx(sum(cycles[n] for n in UP_TO_EXIT1) / dr.run.clock_hz, rel=1e-12)
    assert ee.exits[1].latency_s == pytest.approx(sum(cycles[n] for n in UP_TO_EXIT2) / dr.run.clock_hz, rel=1e-12)
    assert ee.exits[0].macs == 288000 + 200 and ee.exits[1].macs == 288000 + 1600000 + 200 + 500
    assert ee.full_probability == pytest.approx(1 - P1 - P2)
    assert ee.expected_latency_s == pytest.approx(
        P1 * ee.exits[0].latency_s + P2 * ee.exits[1].latency_s + (1 - P1 - P2) * ee.worst_latency_s, rel=1e-12)
    assert ee.expected_energy_total_j == pytest.approx(
        P1 * ee.exits[0].energy_j + P2 * ee.exits[1].energy_j + (1 - P1 - P2) * ee.worst_energy_total_j, rel=1e-12)
    assert ee.note == ""


def test_models_without_exits_have_equal_expected_and_worst_figures(result):
    base = result.comparison.row("baseline", "cpu-a53")
    dr = result.method("baseline").run_on("cpu-a53")
    assert dr.early_exit is None and base.exit_probabilities == () and not base.has_early_exits
    assert base.latency_worst_s == base.latency_s == dr.run.seconds
    assert base.energy_worst_j == base.energy_j and base.macs_worst == base.macs == 2_293_000


def test_overlapping_engine_scales_the_simulated_latency_and_says_so(result):
    """An engine that overlaps ops (FPGA dataflow, the event engine) finishes in fewer cycles than its
    ops' sum: the expected latency is the run's latency scaled by the expected share of op cycles."""
    from dataclasses import replace

    from hwsim.compress import apply_method
    from hwsim.compress.catalogue import get_method
    from hwsim.frontends import load_model

    mr, dr = _ee(result)
    graph = apply_method(load_model(LENET), get_method(f"{METHODS}#early-exit-lenet5")).graph
    op_cycles = sum(op.cycles for op in dr.run.ops)
    run = replace(dr.run, total_cycles=op_cycles // 2)  # as if half of the ops overlapped the others
    ee = early_exit_cost(graph, run, mr.summary.layer_macs)
    cycles = {op.node: float(op.cycles) for op in run.ops}
    assert ee.worst_latency_s == run.seconds
    assert ee.expected_latency_s == pytest.approx(run.seconds * _hand(cycles, op_cycles) / op_cycles, rel=1e-12)
    assert "overlaps ops" in ee.note
    assert early_exit_cost(graph, dr.run, mr.summary.layer_macs).note == ""  # sequential: nothing to say


def test_json_carries_expected_worst_and_per_exit_figures(result):
    doc = json.loads(result.result_json())
    row = next(r for r in doc["table"] if r["method"] == "early-exit-lenet5" and r["device"] == "cpu-a53")
    assert row["latency_s"] < row["latency_worst_s"] and row["energy_j"] < row["energy_worst_j"]
    assert row["exit_probabilities"] == [P1, P2] and row["macs_worst"] == 2_293_700
    run = next(m for m in doc["methods"] if m["method"] == "early-exit-lenet5")["runs"][0]
    ee = run["early_exit"]
    assert ee["expected_latency_s"] == row["latency_s"] and ee["worst_latency_s"] == row["latency_worst_s"]
    assert [x["exit"] for x in ee["exits"]] == ["exit1", "exit2"]
    base = next(m for m in doc["methods"] if m["method"] == "baseline")["runs"][0]
    assert base["early_exit"] is None


def test_html_summary_shows_the_worst_case_beneath_the_expected_figure(result):
    html = render_report(result)
    row = html[html.index('data-method="early-exit-lenet5"'):]
    row = row[:row.index("</tr>")]
    assert row.count('<span class="sub">worst ') == 3  # MACs, latency, energy
    assert "expected over the early-exit probabilities (30%, 40%" in row
    base = html[html.index('data-method="baseline"'):]
    assert '<span class="sub">worst' not in base[:base.index("</tr>")]  # (the MAC cell's effective line stays)


def test_no_early_exit_meta_gives_none():
    from hwsim.frontends import load_model
    from hwsim.sim.engines import simulate

    g = load_model(LENET)
    assert early_exit_cost(g, simulate(g, "cpu-a53"), {}) is None
