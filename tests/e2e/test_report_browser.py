"""The report in real headless Chromium (Debian's chromium, driven by playwright): no console errors,
every plot drawn, the summary table present with one row per method, headers sort the table."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
#: CI sets this (``.ci/run``) so a missing browser fails there instead of skipping.
REQUIRE_BROWSER_ENV = "HWSIM_REQUIRE_BROWSER"
INSTALL_HINT = ("install one: 'apt-get install chromium' (Debian) or 'python -m playwright install chromium'; "
                f"CI sets {REQUIRE_BROWSER_ENV}=1 and installs Debian's")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
METHODS = ["baseline", "int8", "prune-90", "binary-xnor", "ternary-twn"]
DEVICES = ["fpga-small", "cpu-a53", "gpu-jetson-nano"]


def _find_chromium(sync_api) -> str | None:
    """Debian's chromium on PATH, else the browser playwright installed for itself, else None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    with sync_api.sync_playwright() as p:
        own = p.chromium.executable_path
    return own if own and Path(own).exists() else None


@pytest.fixture(scope="module")
def chromium() -> str:
    sync_api = pytest.importorskip("playwright.sync_api")
    found = _find_chromium(sync_api)
    if found is None:
        message = f"browser tests need Chromium and none was found; {INSTALL_HINT}"
        if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def report(chromium, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "lenet5.html"
    with pytest.raises(SystemExit) as e:
        main(["report", str(ROOT / "workloads" / "lenet5.json"), "--device", ",".join(DEVICES),
              "--methods", ",".join(METHODS), "-o", str(out), "--quiet"])
    assert e.value.code == 0
    return out


@pytest.fixture(scope="module")
def one_device_report(chromium, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report1") / "lenet5-1.html"
    with pytest.raises(SystemExit) as e:
        main(["report", str(ROOT / "workloads" / "lenet5.json"), "--device", "cpu-a53",
              "--methods", "baseline,int8,prune-90", "--verify", "off", "-o", str(out), "--quiet"])
    assert e.value.code == 0
    return out


@pytest.fixture(scope="module")
def browser(chromium):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        yield b
        b.close()


def _open(browser, path: Path):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []
    pg.on("requestfailed", lambda r: failed.append(r.url))
    pg.goto(path.as_uri())
    pg.wait_for_load_state("load")
    return pg, errors, failed


@pytest.fixture(scope="module")
def page(browser, report):
    return _open(browser, report)


@pytest.fixture(scope="module")
def one_device_page(browser, one_device_report):
    return _open(browser, one_device_report)


#: What a plot's text must measure on screen at 1400 px to be read without zooming (CSS px; the
#: page's body text is 14 px, table text 11-12 px).
MIN_TEXT_PX = 10.0
#: Per-device plots are drawn one per row: at 1400 px each is at least this wide.
MIN_PLOT_WIDTH_PX = 600


def _plot_geometry(pg, section: str) -> list[dict]:
    """Per plot of a section (h2 id): its rendered width and the median height of its text elements."""
    return pg.evaluate("""id => {
        const out = [];
        let el = document.getElementById(id).nextElementSibling;
        while (el && el.tagName !== 'H2') {
            for (const svg of el.querySelectorAll('svg.plot')) {
                const hs = [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect().height)
                    .filter(h => h > 0).sort((a, b) => a - b);
                out.push({width: svg.getBoundingClientRect().width, text: hs[Math.floor(hs.length / 2)] || 0,
                          smallest: hs[0] || 0, texts: hs.length});
            }
            el = el.nextElementSibling;
        }
        return out; }""", section)


@pytest.mark.parametrize("which", ["one", "three"])
def test_per_device_plots_are_full_width_with_readable_text(which, page, one_device_page):
    pg = (one_device_page if which == "one" else page)[0]
    n_devices = 1 if which == "one" else len(DEVICES)
    for section in ("pareto", "per-layer", "roofline"):
        plots = _plot_geometry(pg, section)
        assert len(plots) == n_devices, section
        for p in plots:
            assert p["width"] >= MIN_PLOT_WIDTH_PX, (section, p)
            assert p["texts"] > 5 and p["text"] >= MIN_TEXT_PX, (section, p)
    widths = [p["width"] for s in ("pareto", "roofline") for p in _plot_geometry(pg, s)]
    assert max(widths) <= 1400


def test_pareto_log_axes_have_several_labels(page):
    pg = page[0]
    counts = pg.evaluate("""() => [...document.querySelectorAll('#pareto ~ .grid svg.plot')].slice(0, 3).map(svg =>
        [...svg.querySelectorAll('g[id^="xtick"] text, g[id^="ytick"] text')].filter(t => t.textContent.trim()).length)""")
    assert counts and all(c >= 4 for c in counts), counts


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


@pytest.mark.parametrize("which", ["one", "three"])
def test_log_axes_of_every_log_plot_have_several_labels(which, page, one_device_page):
    """Pareto and roofline axes are log-scaled: each keeps at least three labelled ticks per axis."""
    pg = (one_device_page if which == "one" else page)[0]
    counts = pg.evaluate("""() => ['pareto', 'roofline'].flatMap(id => {
        const out = []; let el = document.getElementById(id).nextElementSibling;
        while (el && el.tagName !== 'H2') {
            for (const svg of el.querySelectorAll('svg.plot'))
                out.push(['xtick', 'ytick'].map(k => [...svg.querySelectorAll(`g[id^="${k}"] text`)]
                    .filter(t => t.textContent.trim()).length));
            el = el.nextElementSibling; }
        return out; })""")
    assert counts and all(x >= 3 and y >= 3 for x, y in counts), counts


@pytest.mark.parametrize("which", ["one", "three"])
def test_screenshot_at_1400px(which, page, one_device_page, tmp_path):
    """The whole page renders at 1400 px wide into a screenshot with content (not a blank or cut page)."""
    np = pytest.importorskip("numpy")
    from PIL import Image

    pg = (one_device_page if which == "one" else page)[0]
    shot = tmp_path / f"{which}.png"
    pg.screenshot(path=str(shot), full_page=True)
    img = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert img.shape[1] == 1400 and img.shape[0] > 3000  # every section below the fold is in the page
    # no horizontal scrolling: nothing overflows the 1400 px viewport
    assert pg.evaluate("() => document.documentElement.scrollWidth") <= 1400
    rows = img.mean(axis=1)
    assert (rows < 250).mean() > 0.3  # ink (text, plots) over a large share of the page's rows
