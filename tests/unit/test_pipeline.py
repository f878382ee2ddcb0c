"""The orchestrator: steps over a serialisable config, deterministic JSON, honest failures, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwsim.analysis.compare import to_dataframe
from hwsim.cli import main
from hwsim.pipeline import PipelineConfig, VerifyConfig, reduced_graph, run_pipeline, verify_plan

ROOT = Path(__file__).resolve().parents[2]
LENET = str(ROOT / "workloads" / "lenet5.json")
METHODS = ["baseline", "int8", "prune-90", "binary-xnor"]


@pytest.fixture(scope="module")
def result():
    cfg = PipelineConfig(model=LENET, devices=["cpu-a53", "fpga-small"], methods=METHODS,
                         verify=VerifyConfig(workers=0))
    return run_pipeline(cfg)


def test_config_round_trips_as_json():
    cfg = PipelineConfig(model=LENET, devices=["cpu-a53"], methods=["int8"])
    again = PipelineConfig.model_validate_json(cfg.model_dump_json())
    assert again == cfg
    with pytest.raises(Exception):
        PipelineConfig.model_validate({"model": LENET, "devices": ["cpu-a53"], "colour": "red"})


def test_every_method_on_every_device(result):
    c = result.comparison
    assert c.methods == tuple(METHODS) and c.devices == ("cpu-a53", "fpga-small")
    assert all(r.status == "ok" for r in c.rows)
    base = c.row("baseline", "cpu-a53")
    int8 = c.row("int8", "cpu-a53")
    assert int8.model_size_bytes < base.model_size_bytes  # real int8 encodings of the seeded weights
    assert base.macs == int8.macs
    for r in c.rows:
        assert r.latency_s > 0 and r.energy_j > 0
    fpga = c.row("binary-xnor", "fpga-small")
    assert fpga.lut is not None and fpga.lut_limit == 53200


def test_verification_results_reach_the_table(result):
    c = result.comparison
    base = c.row("baseline", "cpu-a53")
    assert base.sqnr_db == float("inf")  # the baseline is its own reference
    int8 = c.row("int8", "cpu-a53")
    assert int8.kernel_status in ("exact", "within tolerance") and 10 < int8.sqnr_db < 80
    assert c.row("binary-xnor", "cpu-a53").needs_training is True


def test_result_json_is_deterministic(result):
    cfg = result.config
    again = run_pipeline(cfg)
    assert again.result_json() == result.result_json()
    doc = json.loads(result.result_json())
    assert {"hwsim_version", "config", "table", "methods", "devices"} <= set(doc)
    assert len(doc["table"]) == len(METHODS) * 2


def test_parallel_verification_equals_in_process(result):
    cfg = result.config.model_copy(update={"verify": VerifyConfig(workers=2), "devices": ["cpu-a53"],
                                           "methods": ["baseline", "binary-xnor"]})
    par = run_pipeline(cfg)
    serial = run_pipeline(cfg.model_copy(update={"verify": VerifyConfig(workers=0)}))
    a, b = json.loads(par.result_json()), json.loads(serial.result_json())
    assert a["config"]["verify"]["workers"] == 2 and b["config"]["verify"]["workers"] == 0
    assert a["table"] == b["table"] and a["methods"] == b["methods"]


def test_dataframe_from_a_pipeline_result(result):
    df = to_dataframe(result)
    assert len(df) == 8 and df["latency_s"].notna().all()


def test_verify_plan_and_reduced_input():
    from hwsim.frontends import load_model

    g = load_model(ROOT / "workloads" / "resnet18.json")
    cfg = VerifyConfig()
    graph, why = verify_plan(cfg, g, 11_689_512)  # ResNet-18: verified on a reduced input by default
    assert graph.tensor(graph.inputs[0]).shape == (1, 3, 64, 64) and "reduced input" in why
    graph, why = verify_plan(cfg, g, 25_557_032)  # ResNet-50-sized: skipped by default, saying so
    assert graph is None and "over the default limit" in why
    assert verify_plan(VerifyConfig(mode="full"), g, 25_557_032)[0] is g
    small, note = reduced_graph(g)
    assert small.tensor(small.inputs[0]).shape == (1, 3, 64, 64) and "reduced input" in note
    lenet = load_model(LENET)
    same, note = reduced_graph(lenet)
    assert same is lenet and "already small" in note


def _report(tmp_path, *args):
    with pytest.raises(SystemExit) as e:
        main(["report", LENET, "--quiet", "--workers", "0", *args])
    return e.value.code


def test_cli_writes_html_and_json(tmp_path, capsys):
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    assert _report(tmp_path, "--device", "cpu-a53", "--methods", "baseline,int8", "-o", str(out),
                   "--json", str(js)) == 0
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "--device cpu-a53 --methods baseline,int8" in html
    doc = json.loads(js.read_text())
    assert [r["method"] for r in doc["table"]] == ["baseline", "int8"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]


@pytest.mark.parametrize("args,msg", [
    (["--device", "no-such-device"], "unknown device 'no-such-device'"),
    (["--device", "cpu-a53", "--methods", "baseline,no-such-method"], "no-such-method"),
    (["--device", "cpu-a53,"], "--device"),
    (["--device", "cpu-a53", "--set", "memory.dram.bandwith=1GB/s"], "bandwith"),
])
def test_cli_bad_input_exit_2_no_file(tmp_path, capsys, args, msg):
    out = tmp_path / "r.html"
    assert _report(tmp_path, *args, "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_unwritable_output_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _report(tmp_path, "--device", "cpu-a53", "--methods", "baseline", "-o", str(blocker / "r.html")) == 2
    assert "cannot write" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_baseline_added_as_reference(tmp_path):
    js = tmp_path / "r.json"
    assert _report(tmp_path, "--device", "cpu-a53", "--methods", "int8", "--verify", "off", "-o",
                   str(tmp_path / "r.html"), "--json", str(js)) == 0
    doc = json.loads(js.read_text())
    assert [r["method"] for r in doc["table"]] == ["baseline", "int8"] and doc["baseline"] == "baseline"
    assert doc["table"][1]["latency_s_vs_baseline"] is not None


def test_cli_unknown_focus_or_baseline_exit_2(tmp_path, capsys):
    assert _report(tmp_path, "--device", "cpu-a53", "--methods", "int8", "--focus", "nope",
                   "-o", str(tmp_path / "r.html")) == 2
    assert _report(tmp_path, "--device", "cpu-a53", "--methods", "int8", "--baseline", "fp16",
                   "-o", str(tmp_path / "r.html")) == 2
    err = capsys.readouterr().err
    assert "--focus" in err and "--baseline" in err
    assert list(tmp_path.iterdir()) == []
