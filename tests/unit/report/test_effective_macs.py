"""The report's MAC column: dense on top, effective (zeros skipped) beneath, both labelled, with the
activation densities' sources on hover; the model summary that feeds it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwsim.analysis.compare import compare
from hwsim.frontends import load_model
from hwsim.ir.sparsity import with_activation_densities
from hwsim.pipeline.steps import summarize
from hwsim.report.report import build_context
from report_synthetic import make_result

from testutils import WORKLOADS


def test_summary_counts_effective_macs_of_the_graph():
    g = load_model(WORKLOADS / "lenet300_100.json")
    g = g.with_specs({"ip1.weight": g.tensor("ip1.weight").with_(density=0.1)})
    g = with_activation_densities(g, {"relu1": 0.5}, "measured", "test, 4 images")
    s = summarize(g)
    ip1, ip2, ip3 = 784 * 300, 300 * 100, 100 * 10
    assert s.macs == ip1 + ip2 + ip3
    assert s.effective_macs == pytest.approx(0.1 * ip1 + 0.5 * ip2 + ip3)
    assert "measured (test, 4 images)" in s.activation_density_sources


def test_mac_cell_shows_dense_and_effective():
    res = make_result(devices=(("cpu-a53", "cpu"),))
    runs = tuple(replace(r, summary=replace(r.summary, effective_macs=1_000_000.0,
                                            activation_density_sources=("assumed (dense, nothing measured or stated)",)))
                 for r in res.methods)
    ctx = build_context(replace(res, methods=runs, comparison=compare(list(runs))))
    table = ctx["devices"][0]["table"]
    labels = [c["label"] for c in table["columns"]]
    assert "MACs dense" in labels and "MACs effective" not in labels  # folded into the MAC cell
    cell = table["rows"][0]["cells"][labels.index("MACs dense")]
    assert cell["sub"] == "effective 1 M"
    assert "Effective:" in cell["title"] and "assumed (dense, nothing measured or stated)" in cell["title"]
    assert all(r.macs_effective == 1_000_000.0 for r in compare(list(runs)).rows)  # the JSON / DataFrame field
