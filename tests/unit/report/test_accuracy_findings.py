"""Findings respect accuracy: without data only exact / near-lossless methods are crowned; with data
only methods within --max-drop; unknown accuracy is listed apart and never crowned."""

from __future__ import annotations

import dataclasses

from report_synthetic import make_result

from hwsim.analysis.accuracy import MethodAccuracy, TopK
from hwsim.analysis.compare import compare
from hwsim.analysis.ranking import RankingPolicy
from hwsim.report.report import accuracy_cost_rows, findings, versus_baseline


def test_without_data_binary_xnor_is_not_crowned():
    result = make_result()
    lines = findings(result.comparison, "fpga-small")
    crowned = [ln for ln in lines if ln.startswith(("fastest", "least energy", "smallest"))]
    assert crowned and all("binary-xnor" not in ln and "prune-90" not in ln for ln in crowned), lines
    assert any("ignores task accuracy" in ln for ln in lines)
    assert any(ln.startswith("accuracy unknown: needs retraining on your data") and "binary-xnor" in ln
               for ln in lines)


def _with_accuracy(result, drops):
    base = TopK(0.96, None, 1000)
    runs = []
    for mr in result.methods:
        d = drops.get(mr.method)
        acc = None if d is None else MethodAccuracy(mr.method, base, TopK(0.96 - d / 100, None, 1000))
        runs.append(dataclasses.replace(mr, accuracy=acc))
    return compare(runs)


def test_with_data_only_methods_within_the_drop_are_crowned():
    comparison = _with_accuracy(make_result(), {"baseline": 0.0, "int8": 0.1, "prune-90": 0.8, "binary-xnor": 30.0})
    policy = RankingPolicy(1.0, "mnist subset", 1000)
    lines = findings(comparison, "fpga-small", policy)
    assert any(ln.startswith("fastest: int8") for ln in lines), lines  # binary-xnor is faster but -30 pt
    assert any(ln.startswith("smallest: prune-90") for ln in lines), lines  # binary-xnor is smaller
    assert any("beyond the allowed 1 pt drop" in ln and "binary-xnor (-30.0 pt)" in ln for ln in lines)
    strict = findings(comparison, "fpga-small", RankingPolicy(0.5, "mnist subset", 1000))
    assert any(ln.startswith("smallest: int8") for ln in strict), strict  # prune-90 is -0.8 pt
    rows = accuracy_cost_rows(comparison, "fpga-small", policy)
    by = {r["method"]: r for r in rows}
    assert by["binary-xnor"]["within"] is False and by["int8"]["within"] and by["int8"]["top1"] == "95.9%"
    assert any(r["front"] for r in rows)


def test_unmeasured_method_with_data_is_unknown():
    comparison = _with_accuracy(make_result(), {"baseline": 0.0, "int8": 0.1})
    lines = findings(comparison, "fpga-small", RankingPolicy(1.0, "mnist subset", 1000))
    assert any(ln.startswith("accuracy unknown (not ranked)") and "binary-xnor" in ln for ln in lines)
    assert all("binary-xnor" not in ln for ln in lines if ln.startswith(("fastest", "smallest", "least")))


def test_pipeline_with_data_measures_every_method(tmp_path):
    from hwsim.pipeline.accuracy import AccuracyConfig
    from hwsim.pipeline.report import PipelineConfig, run_pipeline
    from hwsim.pipeline.verification import VerifyConfig
    from hwsim.report.report import render_report

    from testutils import WORKLOADS

    cfg = PipelineConfig(model=str(WORKLOADS / "digits" / "mlp.json"), devices=["cpu-a53"],
                         methods=["int8", "prune-90"], verify=VerifyConfig(mode="off"),
                         accuracy=AccuracyConfig(data="digits", retrain_epochs=0.1))
    result = run_pipeline(cfg)
    rows = {r.method: r for r in result.comparison.rows}
    assert all(r.task_top1 is not None and r.task_images == 540 for r in rows.values())
    assert rows["prune-90"].accuracy_how.startswith("retrained")
    doc = result.figures()
    assert doc["extras"]["weights_origin"] == "trained"
    assert doc["extras"]["accuracy"]["methods"]["prune-90"]["retrained"]["images"] == 540
    html = render_report(result)
    assert 'id="accuracy"' in html and "Accuracy against cost" in html and "trained weights" in html


def test_accuracy_front_in_records_and_plot():
    from hwsim.analysis.compare import to_records
    from hwsim.report.accuracy_plots import accuracy_cost_svg

    comparison = _with_accuracy(make_result(), {"baseline": 0.0, "int8": 0.1, "prune-90": 0.8, "binary-xnor": 30.0})
    records = to_records(comparison)
    fronts = {r["method"] for r in records if r["accuracy_front"]}
    rows = accuracy_cost_rows(comparison, "fpga-small", RankingPolicy(1.0, "mnist subset", 1000))
    assert fronts == {r["method"] for r in rows if r["front"]} and fronts
    assert all(r["accuracy_front"] is False for r in records if r["method"] not in fronts
               and r["task_top1"] is not None)
    assert all(r["accuracy_front"] is False for r in records if r["task_top1"] is None)  # unknown: never on it
    svg = accuracy_cost_svg(comparison, "fpga-small", RankingPolicy(1.0, "mnist subset", 1000))
    assert svg.startswith("<svg") and "top-1 vs latency" in svg and "binary-xnor (66.0%)" in svg  # below the axis
    assert accuracy_cost_svg(compare(make_result().methods), "fpga-small", RankingPolicy()) is None
    no_data = to_records(compare(make_result().methods))
    assert all(r["accuracy_front"] is None for r in no_data)


def test_best_in_json_and_dataframe_follows_the_ranking_rule():
    """``best`` in --json and the DataFrame names the same methods as the report's stars: never one the
    ranking policy excludes (it was the unfiltered best before: binary-xnor, -30 pt, was "best" latency)."""
    from hwsim.analysis.compare import to_dataframe, to_records
    from hwsim.report.report import starred

    result = make_result()
    raw = {r["method"]: r["best"] for r in to_records(compare(result.methods)) if r["device"] == "fpga-small"}
    assert "latency_s" not in raw["binary-xnor"]  # no data: a method needing retraining is never best
    assert any(raw.values())  # some method is still best in some column
    comparison = _with_accuracy(result, {"baseline": 0.0, "int8": 0.1, "prune-90": 0.8, "binary-xnor": 30.0})
    stars = starred(comparison, "fpga-small")
    records = [r for r in to_records(comparison) if r["device"] == "fpga-small"]
    assert all(set(r["best"]) == {k for k, ms in stars.items() if r["method"] in ms} for r in records)
    assert not any(r["best"] for r in records if r["method"] == "binary-xnor")
    assert "latency_s" in next(r["best"] for r in records if r["method"] == "int8")
    df = to_dataframe(comparison)
    assert df.loc[df["method"] == "binary-xnor", "best"].eq("").all()


def test_measured_accuracy_drops_the_passes_unknown_accuracy_notes():
    from hwsim.pipeline.accuracy import measured_notes

    notes = ("binary networks need training (or fine-tuning) for task accuracy: the tool does not train; "
             "accuracy unknown", "first and last layers kept in fp32",
             "removed 'fc': the network's function changes; task accuracy unknown")
    assert measured_notes(notes) == ("first and last layers kept in fp32", "removed 'fc': the network's function changes")


def test_default_methods_with_data_add_the_training_based_ones():
    from hwsim.pipeline.methods import default_method_names, resolve_methods

    plain, with_data = default_method_names(), default_method_names(with_data=True)
    assert "binaryconnect" not in plain and with_data[:len(plain)] == plain
    assert {"binaryconnect", "bnn"} <= set(with_data)
    assert [n for n, _ in resolve_methods(None, None, with_data=True)][-2:] == ["binaryconnect", "bnn"]
    assert [n for n, _ in resolve_methods(["int8"], None, with_data=True)] == ["baseline", "int8"]  # named: as named


def test_a_crowned_method_as_fast_as_the_baseline_says_so():
    """A finding at the baseline's own figure reads '(as baseline)', not '( than baseline)'."""
    assert versus_baseline(1.0, "baseline") == " (as baseline)"
    assert versus_baseline(1.003, "baseline") == " (as baseline)"
    assert versus_baseline(0.5, "baseline") == " (2× less than baseline)"
    assert versus_baseline(None, "baseline") == ""
