"""``hwsim report CONFIG.yaml``: the LLM page (TTFT and tokens/s per method and device, tokens/s vs
context plot, memory vs device RAM) and its JSON; an unknown method fails before any work."""

from __future__ import annotations

import json

import pytest

from hwsim.cli import main

from testutils import ROOT

TINY = str(ROOT / "workloads" / "llm" / "tiny-random.yaml")


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_llm_report_page_and_json(tmp_path, capsys):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    code, out, _ = _run(["report", TINY, "--device", "cpu-a53,gpu-orin-nano", "--methods", "baseline,kv-int8,q8_0",
                         "-o", str(html), "--json", str(js), "--quiet"], capsys)
    assert code == 0, out
    page = html.read_text()
    for section in ('id="summary"', 'id="context"', 'id="memory"', "decode tokens/s", "TTFT ms"):
        assert section in page
    assert page.count("<svg") == 4  # a context plot and a memory plot per device
    doc = json.loads(js.read_text())
    assert len(doc["rows"]) == 3 * 2 and all(r["error"] is None for r in doc["rows"])
    base = next(r for r in doc["rows"] if r["method"] == "baseline" and r["device"] == "gpu-orin-nano")
    q8 = next(r for r in doc["rows"] if r["method"] == "q8_0" and r["device"] == "gpu-orin-nano")
    assert q8["memory"]["weight_bytes"] < base["memory"]["weight_bytes"]
    rates = [t for _, t in base["tokens_per_s_by_context"]]
    assert len(rates) >= 1 and rates == sorted(rates, reverse=True)


def test_unknown_method_fails_first(tmp_path, capsys):
    out = tmp_path / "r.html"
    code, _, err = _run(["report", TINY, "--device", "cpu-a53", "--methods", "baseline,no-such", "-o", str(out)],
                        capsys)
    assert code == 2 and "no-such" in err and not out.exists()


def test_small_configs_are_executed_and_verified_in_the_report_large_ones_say_why_not(tmp_path, capsys):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    code, out, _ = _run(["report", TINY, "--device", "cpu-a53", "--methods", "llm-head-prune-25,llm-mlp-prune-30",
                         "-o", str(html), "--json", str(js), "--quiet"], capsys)
    assert code == 0, out
    doc = json.loads(js.read_text())
    assert doc["methods"] == ["baseline", "llm-head-prune-25", "llm-mlp-prune-30"]
    assert set(doc["fidelity"]) == {"llm-head-prune-25", "llm-mlp-prune-30"}
    for f in doc["fidelity"].values():
        assert f["kernels_passed"] and f["cosine"] < 1.0  # pruning changes the output; random weights
    assert "random weights" in doc["fidelity_note"]
    page = html.read_text()
    assert 'id="llm-fidelity"' in page and "random weights" in page
    from hwsim.frontends.llm_config import load_llm_config
    from hwsim.pipeline.generation import _fidelity
    from hwsim.pipeline.methods import resolve_methods

    big = load_llm_config(ROOT / "workloads" / "llm" / "llama-3.2-1b.yaml")
    fid, note = _fidelity(big, resolve_methods(["q4_0"], None), "llama", None)
    assert fid == {} and note.startswith("not measured: 1,235,814,400 parameters")
