"""The HTML report from a synthetic comparison: order of sections, marks, unknowns, determinism."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hwsim.errors import UsageError
from hwsim.report.format import fmt_ratio_to_baseline, fmt_value, scale_for, sort_key
from hwsim.report.html import atomic_write, check_writable, render
from hwsim.report.report import build_context, render_report
from report_synthetic import make_result


@pytest.fixture(scope="module")
def context() -> dict:
    return build_context(make_result())


@pytest.fixture(scope="module")
def html(context) -> str:
    return render("report.html.j2", context)


class _Tables(HTMLParser):
    """Collects the rows of each table with class 'summary' (data-method attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._device: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "summary" in (a.get("class") or ""):
            self._device = a.get("data-device")
            self.rows[self._device] = []
        if tag == "tr" and self._device and "data-method" in a:
            self.rows[self._device].append(a["data-method"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._device = None


def test_sections_in_reader_order(html):
    ids = ["findings", "summary", "latency-energy", "pareto", "per-layer", "roofline", "fpga", "savings",
           "layer-table", "methods", "devices", "provenance"]
    positions = [html.index(f'id="{i}"') for i in ids]
    assert positions == sorted(positions)


def test_one_summary_row_per_method_and_device(html, fake_result):
    parser = _Tables()
    parser.feed(html)
    assert set(parser.rows) == {"fpga-small", "cpu-a53"}
    for rows in parser.rows.values():
        assert rows == list(fake_result.comparison.methods)


def test_every_plot_is_inline_svg_without_network(html):
    # latency/energy (one figure, devices side by side); pareto, per-layer, roofline per device; FPGA resources
    assert html.count('<svg role="img"') == 1 + 3 * 2 + 1
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from a network
    assert "<script src" not in html and "<link" not in html and "<metadata>" not in html


def test_best_and_baseline_marked(html, context):
    assert 'class="method-row status-ok baseline"' in html
    assert html.count('class="best') > 0
    # the fastest method findings may rank (int8: lossless enough by construction) is starred with its
    # ratio to the baseline; binary-xnor is faster but its accuracy is unknown: never starred (issue 12)
    table = context["devices"][0]["table"]
    labels = [c["label"] for c in table["columns"]]
    lat = labels.index("latency")
    rows = {r["method"]: r for r in table["rows"]}
    assert rows["binary-xnor"]["cells"][lat]["vs"] == "10× less" and not rows["binary-xnor"]["cells"][lat]["best"]
    assert rows["int8"]["cells"][lat]["best"] and rows["int8"]["cells"][lat]["vs"] == "2.5× less"


def test_no_star_outside_the_ranking_rule(context):
    """Stars follow the findings' rule on every column and device, the side-by-side table included."""
    for dev in context["devices"]:
        for r in dev["table"]["rows"]:
            if r["method"] in ("binary-xnor", "prune-90"):  # needs retraining: accuracy unknown
                assert not any(c["best"] for c in r["cells"]), (dev["name"], r["method"])
        assert any(c["best"] for r in dev["table"]["rows"] for c in r["cells"])  # the rule leaves stars
    for r in context["cross"]["rows"]:
        if r["method"] in ("binary-xnor", "prune-90"):
            assert not any(c["best"] for c in r["cells"])
    # an exact (infinite) SQNR is the best one: the baseline keeps that star
    table = context["devices"][0]["table"]
    sqnr = [c["label"] for c in table["columns"]].index("SQNR")
    assert {r["method"] for r in table["rows"] if r["cells"][sqnr]["best"]} == {"baseline"}


def test_broken_method_reads_unavailable_not_zero():
    res = make_result(devices=(("fpga-small", "fpga"),), broken="prune-90")
    ctx = build_context(res)
    html = render("report.html.j2", ctx)
    assert "error: simulate: simulate: boom" in html
    row = next(r for r in ctx["devices"][0]["table"]["rows"] if r["method"] == "prune-90")
    lat = [c["label"] for c in ctx["devices"][0]["table"]["columns"]].index("latency")
    assert row["cells"][lat]["text"] == "—" and row["status"] == "error"


def test_needs_training_said_plainly(html):
    assert "needs retraining</span>" in html and "task accuracy unknown" in html
    assert "not task accuracy" in html


def test_render_is_deterministic():
    one = (("cpu-a53", "cpu"),)
    assert render_report(make_result(devices=one)) == render_report(make_result(devices=one))


def test_no_fpga_device_says_so():
    html = render_report(make_result(devices=(("cpu-a53", "cpu"),)))
    assert "No FPGA device in this report" in html


@pytest.mark.parametrize("value,unit,text", [
    (None, "s", "unavailable"), (1.5e-3, "s", "1.5 ms"), (2.5e-6, "J", "2.5 µJ"), (3 * 2**20, "bytes", "3 MiB"),
    (float("inf"), "dB", "∞ (exact)"), (0.5, "ratio", "50.0%"), (False, "bool", "NO"), (1234, "resource", "1,234"),
])
def test_formatting(value, unit, text):
    assert fmt_value(value, unit) == text


def test_sort_keys_and_ratios():
    assert sort_key(None) == "" and sort_key(2) == "2.0" and sort_key(float("inf")) == "1e308"
    assert fmt_ratio_to_baseline(0.25, "min") == "4× less"
    assert fmt_ratio_to_baseline(2.0, "min") == "2× more"
    assert fmt_ratio_to_baseline(1.0, "min") == ""
    assert scale_for([2e-3, 5e-4], "s") == (1e3, "ms")


def test_atomic_write_and_unwritable(tmp_path: Path):
    target = tmp_path / "sub" / "r.html"
    atomic_write(target, "hello")
    assert target.read_text() == "hello"
    assert [p.name for p in target.parent.iterdir()] == ["r.html"]  # no temporary file left
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if os.access(ro, os.W_OK):  # running as root: permissions do not bind
            pytest.skip("permissions are not enforced for this user")
        with pytest.raises(UsageError):
            check_writable(ro / "r.html")
    finally:
        ro.chmod(0o700)
    with pytest.raises(UsageError):
        check_writable(tmp_path)  # a directory is not a file


def test_each_device_says_what_its_energy_covers(html):
    from types import SimpleNamespace

    from hwsim.hardware import load_device
    from hwsim.report.report import energy_scope

    assert "energy: scope not stated by the profile" in html  # the synthetic devices' profiles state none
    assert energy_scope(SimpleNamespace(handle=load_device("pi4"))).startswith("energy: the whole board")
    assert "the chip's only" in energy_scope(SimpleNamespace(handle=load_device("fpga-large")))  # no board idle known
    assert "the 1.6 W board idle" in energy_scope(SimpleNamespace(handle=load_device("pynq-z2")))
    assert "the 15.72 W board idle" in energy_scope(SimpleNamespace(handle=load_device("zcu104")))
    nano = energy_scope(SimpleNamespace(handle=load_device("jetson-nano")))
    assert "the 1.39 W board idle" in nano and "board_energy_j" in nano
    assert "host core 0.74 W x latency" in nano and "SoC / memory while running 1.78 W x latency" in nano
    assert "host core" not in energy_scope(SimpleNamespace(handle=load_device("zcu104")))
    assert "host core 0.5 W" in energy_scope(SimpleNamespace(profile={"power_scope": "chip", "board_idle_power": "2 W",
                                                                      "host_power": "0.5 W"}))
    assert "the 2 W board idle" in energy_scope(SimpleNamespace(profile={"power_scope": "chip",
                                                                         "board_idle_power": "2 W"}))
