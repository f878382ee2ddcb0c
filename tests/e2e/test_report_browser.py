"""The report in real headless Chromium (Debian's chromium, driven by playwright): no console errors,
every plot drawn, the summary table present with one row per method, headers sort the table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
METHODS = ["baseline", "int8", "prune-90", "binary-xnor", "ternary-twn"]
DEVICES = ["fpga-small", "cpu-a53"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "lenet5.html"
    with pytest.raises(SystemExit) as e:
        main(["report", str(ROOT / "workloads" / "lenet5.json"), "--device", ",".join(DEVICES),
              "--methods", ",".join(METHODS), "-o", str(out), "--quiet"])
    assert e.value.code == 0
    return out


@pytest.fixture(scope="module")
def page(report):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        failed: list[str] = []
        pg.on("requestfailed", lambda r: failed.append(r.url))
        pg.goto(report.as_uri())
        pg.wait_for_load_state("load")
        yield pg, errors, failed
        browser.close()


def test_no_console_errors_and_no_network(page):
    pg, errors, failed = page
    assert errors == []
    assert failed == []


def test_every_plot_drawn(page):
    pg, _, _ = page
    missing = pg.locator("[data-missing-plot]").all_inner_texts()
    assert missing == [], f"plots not drawn: {missing}"
    boxes = pg.eval_on_selector_all("svg.plot", """els => els.map(e => {
        const r = e.getBoundingClientRect();
        return [r.width, r.height, e.querySelectorAll('path, rect, use').length]; })""")
    # latency+energy (devices side by side); per device: Pareto, per layer, roofline; per FPGA: resources, savings
    assert len(boxes) == 1 + 3 * len(DEVICES) + 2
    for w, h, marks in boxes:
        assert w > 200 and h > 100 and marks > 10


def test_summary_table_one_row_per_method(page):
    pg, _, _ = page
    for dev in DEVICES:
        rows = pg.locator(f'table.summary[data-device="{dev}"] tbody tr').all()
        assert [r.get_attribute("data-method") for r in rows] == METHODS
    assert pg.locator("tr.baseline").count() >= len(DEVICES)
    assert pg.locator("table.summary td.best").count() > 0


def test_clicking_a_header_sorts(page):
    pg, _, _ = page
    table = pg.locator('table.summary[data-device="cpu-a53"]')
    col = table.locator("thead th").evaluate_all("ths => ths.findIndex(t => t.textContent.startsWith('latency'))")
    assert col > 0
    read = "rows => rows.map(r => r.cells[%d].getAttribute('data-sort'))" % col
    header = table.locator("thead th").nth(col)
    header.click()
    asc = [float(c) for c in table.locator("tbody tr").evaluate_all(read) if c]
    header.click()
    desc = [float(c) for c in table.locator("tbody tr").evaluate_all(read) if c]
    assert len(asc) == len(METHODS)
    assert asc == sorted(asc) and desc == sorted(asc, reverse=True)
    assert pg.locator("th.sorted-desc").count() == 1
