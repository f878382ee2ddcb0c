"""Comparison tables, bests, baseline ratios, DataFrames and Pareto fronts."""

from __future__ import annotations

import math

import pytest

from hwsim.analysis.compare import COLUMNS, compare, compare_rows, origin_layer, to_dataframe, to_records
from hwsim.analysis.metrics import jsonable, method_metrics
from hwsim.analysis.pareto import dominates, pareto_front
from hwsim.analysis.ranking import RankingPolicy

from report_synthetic import make_result  # the synthetic comparison shared with the report tests


def test_pareto_front_two_objectives():
    pts = [{"a": 1, "b": 5}, {"a": 2, "b": 2}, {"a": 3, "b": 3}, {"a": 5, "b": 1}, {"a": 2, "b": 2}]
    assert pareto_front(pts, [("a", "min"), ("b", "min")]) == [0, 1, 3, 4]


def test_pareto_front_mixed_senses_and_unknowns():
    pts = [{"size": 10, "sqnr": 40}, {"size": 5, "sqnr": 20}, {"size": 6, "sqnr": 10},
           {"size": 1, "sqnr": None}, {"size": 1, "sqnr": float("nan")}]
    # unknown fidelity is never on the front, even with the smallest size
    assert pareto_front(pts, [("size", "min"), ("sqnr", "max")]) == [0, 1]


def test_pareto_front_matches_brute_force():
    import random

    rng = random.Random(3)
    pts = [{"x": rng.randint(0, 20), "y": rng.randint(0, 20), "z": rng.random()} for _ in range(200)]
    objs = [("x", "min"), ("y", "min"), ("z", "max")]
    vec = [(p["x"], p["y"], -p["z"]) for p in pts]
    brute = [i for i, v in enumerate(vec) if not any(dominates(w, v) for w in vec)]
    assert pareto_front(pts, objs) == brute


def test_pareto_rejects_bad_sense():
    with pytest.raises(ValueError):
        pareto_front([{"a": 1}], [("a", "lowest")])


def test_bests_are_per_device_and_ties_are_not_bests():
    res = make_result()
    c = res.comparison
    assert c.baseline == "baseline"
    assert c.devices == ("fpga-small", "cpu-a53")
    for dev in c.devices:
        # without data only exact / near-lossless methods (and the baseline) may be best: binary-xnor, the
        # fastest and smallest, needs retraining (hwsim.analysis.ranking)
        assert c.best[dev]["latency_s"] == ("int8",)
        assert c.best[dev]["model_size_bytes"] == ("int8",)
        assert all("binary-xnor" not in ms for ms in c.best[dev].values())
        assert "macs" not in c.best[dev]  # every method has the same MACs: no best to mark
        assert c.best[dev]["sqnr_db"] == ("baseline",)
    # with data but no measured accuracy every method is unknown: only the baseline is left, nothing is best
    assert compare_rows(c.rows, policy=RankingPolicy(1.0, "synthetic", 100)).best["fpga-small"] == {}


def test_baseline_ratio_and_records():
    c = make_result().comparison
    row = c.row("int8", "fpga-small")
    base = c.row("baseline", "fpga-small")
    assert c.ratio_to_baseline(row, "latency_s") == pytest.approx(row.latency_s / base.latency_s)
    recs = {(r["method"], r["device"]): r for r in to_records(c)}
    assert recs[("baseline", "cpu-a53")]["is_baseline"] is True
    assert recs[("int8", "cpu-a53")]["model_size_bytes_vs_baseline"] == pytest.approx(431_080 / 1_724_320)
    assert "latency_s" in recs[("int8", "cpu-a53")]["best"]
    assert recs[("binary-xnor", "cpu-a53")]["best"] == []  # needs retraining: never best without data


def test_failed_rows_have_no_figures_and_never_win():
    res = make_result(broken="binary-xnor")
    c = res.comparison
    row = c.row("binary-xnor", "fpga-small")
    assert row.status == "error" and row.latency_s is None and row.energy_j is None
    assert "binary-xnor" not in c.best["fpga-small"].get("model_size_bytes", ())
    assert c.best["fpga-small"]["latency_s"] == ("int8",)


def test_energy_breakdown_sums_to_total():
    c = make_result().comparison
    for r in c.rows:
        parts = [r.energy_compute_j, r.energy_onchip_j, r.energy_dram_j, r.energy_static_j]
        assert sum(parts) == pytest.approx(r.energy_j)


def test_dataframe_one_call_away():
    res = make_result()
    df = to_dataframe(res)
    assert len(df) == len(res.methods) * len(res.devices)
    for col in COLUMNS:
        assert col.key in df.columns
    assert set(df["method"]) == set(res.comparison.methods)
    # from MethodRuns and from rows as well
    assert to_dataframe(list(res.methods)).equals(df)
    rows = [method_metrics(m, d) for m in res.methods for d in m.runs]
    assert to_dataframe(rows).equals(df)


def test_fpga_columns_only_when_resources_exist():
    c = make_result(devices=(("cpu-a53", "cpu"),)).comparison
    keys = [col.key for col in c.columns()]
    assert "lut" not in keys and "latency_s" in keys
    c2 = make_result().comparison
    assert "lut" in [col.key for col in c2.columns()]


def test_origin_layer_attribution():
    names = ["conv1", "conv1_bn", "layer1.0.conv1", "fc"]
    assert origin_layer("conv1", names) == "conv1"
    assert origin_layer("conv1.u", names) == "conv1"
    assert origin_layer("conv1_bn.x", names) == "conv1_bn"
    assert origin_layer("layer1.0.conv1_dw", names) == "layer1.0.conv1"
    assert origin_layer("conv10", names) == "conv10"  # not a separator: a different layer


def test_jsonable_handles_infinities_and_numpy():
    import numpy as np

    doc = jsonable({"a": float("inf"), "b": float("nan"), "c": np.float32(1.5), "d": (1, 2), "e": np.arange(2)})
    assert doc == {"a": "inf", "b": None, "c": 1.5, "d": [1, 2], "e": [0, 1]}
    assert not math.isnan(jsonable(1.0))


def test_compare_keeps_method_order():
    res = make_result()
    c = compare(list(res.methods))
    assert c.methods == tuple(m.method for m in res.methods)
    c2 = compare_rows(reversed(c.rows))
    assert c2.methods == tuple(reversed(c.methods))
