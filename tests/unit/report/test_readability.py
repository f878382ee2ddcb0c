"""Report readability: notes grouped by kind (caveats first), names with "$" drawn as text, the fp16
lost-signal caveat, the Pareto legend naming only what is drawn."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.report.notes import group_notes
from hwsim.report.report import fidelity_caveats

ROOT = Path(__file__).resolve().parents[3]


def test_notes_that_differ_only_in_the_layer_are_one_kind_and_caveats_come_first():
    notes = ["batchnorm folded into conv1's weights and bias at load time",
             "relu applied in layer1.0.conv1's epilogue",
             "batchnorm folded into layer1.0.conv1's weights and bias at load time",
             "relu applied in conv1's epilogue",
             "int8 weights dequantized to fp32 on this device",
             "view: a reinterpretation, no data movement"]
    groups = group_notes(notes, ["conv1", "layer1.0.conv1", "fc"])
    assert [g.text for g in groups] == [
        "int8 weights dequantized to fp32 on this device",
        "batchnorm folded into …'s weights and bias at load time",
        "relu applied in …'s epilogue",
        "view: a reinterpretation, no data movement"]
    assert [g.count for g in groups] == [1, 2, 2, 1]
    assert [g.routine for g in groups] == [False, True, True, True]
    assert groups[1].layers == ("conv1", "layer1.0.conv1") and groups[1].label.endswith("(×2)")
    # a layer name inside another word is not a layer mention; a plain-word name ("relu") is prose
    assert group_notes(["myconv1x ran"], ["conv1"])[0].text == "myconv1x ran"
    assert group_notes(["relu applied in conv1's epilogue"], ["relu", "conv1"])[0].text == \
        "relu applied in …'s epilogue"
    # notes that differ only in figures are one kind, saying that the figures vary
    (sparse,) = group_notes(["sparse csr: 0.1 of MACs, imbalance x1.052", "sparse csr: 0.1 of MACs, imbalance x1.11"])
    assert sparse.count == 2 and sparse.text == "sparse csr: 0.1 of MACs, imbalance x1.052 (figures vary by layer)"


def test_a_dollar_in_a_method_name_is_drawn_as_text_not_mathtext(tmp_path):
    methods = tmp_path / "m.yaml"
    methods.write_text("version: 1\nmethods:\n  'q$^{8$':\n    description: int8 with a dollar\n    steps:\n"
                       "      - pass: quantize\n        params: {bits: 8}\n")
    out = tmp_path / "r.html"
    with pytest.raises(SystemExit) as e:
        main(["report", str(ROOT / "workloads" / "lenet300_100.json"), "--device", "cpu-a53", "--methods",
              str(methods), "--verify", "off", "-o", str(out), "--quiet"])
    assert e.value.code == 0
    html = out.read_text()
    assert "q$^{8$" in html and html.count("<svg") >= 3


def test_fp16_with_a_lost_signal_gets_a_range_caveat_not_only_within_noise():
    from report_synthetic import make_result

    row = make_result().comparison.rows[0]
    fp16 = replace(row, method="fp16", sqnr_db=0.1,
                   notes=("fp16 inference is usually within noise of fp32; not measured here",))
    (caveat,) = fidelity_caveats(fp16)
    assert "0.1 dB" in caveat and "underflow" in caveat and "does not hold here" in caveat
    assert fidelity_caveats(replace(fp16, sqnr_db=45.0)) == ()
    assert fidelity_caveats(replace(fp16, notes=("int8",))) == ()
