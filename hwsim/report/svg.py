"""matplotlib figures rendered to inline SVG text: no files, no network, the same bytes on every run.

Text stays text (``svg.fonttype = none``) so the page is small and searchable; the hash salt and the
absent date make the output deterministic, so a report is byte-identical for identical inputs.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "hwsim",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.dpi": 100,
    # names are text, never TeX: a "$" in a model or method name must not start mathtext (a parse error)
    "text.parse_math": False,
}

#: Colours of the energy components and of the baseline/method pair, used by every plot.
ENERGY_COLORS = {"compute": "#4C78A8", "onchip": "#72B7B2", "dram": "#E45756", "static": "#BAB0AC"}
BASE_COLOR = "#9D9D9D"
FOCUS_COLOR = "#F58518"
ACCENT = "#4C78A8"

P = ParamSpec("P")
R = TypeVar("R")


def styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a plot function under the report's style (scoped: other matplotlib users are untouched)."""

    @functools.wraps(fn)
    def wrap(*args: P.args, **kwargs: P.kwargs) -> R:
        with plt.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrap


def _plain(v: float, _pos: object = None) -> str:
    return f"{v:g}"


def plain_log(ax, which: str = "both") -> None:
    """Log axes with plain-text tick labels (0.1, 10, 2e+09): matplotlib's default labels are mathtext,
    whose parsing costs more than drawing the whole figure. Minor ticks are labelled only where major
    ticks alone would leave fewer than three labels: every one on axes spanning about a decade or less,
    the 2s and 5s on axes spanning up to about two and a half decades."""
    from matplotlib.ticker import FuncFormatter

    for axis in ((ax.xaxis, ax.yaxis) if which == "both" else ((ax.xaxis,) if which == "x" else (ax.yaxis,))):
        if axis.get_scale() != "log":
            continue

        def minor(v: float, _pos: object = None, axis=axis) -> str:
            lo, hi = sorted(axis.get_view_interval())
            if lo <= 0 or v <= 0:
                return ""
            span = math.log10(hi / lo)
            if span <= 1.3:
                return f"{v:g}"
            mantissa = v / 10 ** math.floor(math.log10(v) + 1e-9)
            if span <= 2.6 and any(abs(mantissa - m) < 1e-6 for m in (2.0, 5.0)):
                return f"{v:g}"
            return ""

        axis.set_major_formatter(FuncFormatter(_plain))
        axis.set_minor_formatter(FuncFormatter(minor))


def new_figure(width_in: float, height_in: float, ncols: int = 1, nrows: int = 1, **kw):
    """A figure (not registered with pyplot, so nothing leaks) and its axes grid."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


_SVG_START = re.compile(r"^.*?(<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SIZE = re.compile(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"')


def to_svg(fig: Figure, label: str) -> str:
    """The figure as an ``<svg>`` element that scales to its container, with an accessible label."""
    buf = io.StringIO()
    with plt.rc_context(STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = _SVG_START.sub(r"\1", buf.getvalue(), count=1)
    text = _METADATA.sub("", text, count=1)
    # Scale with the container, but never beyond 1.4x the figure's natural size (a lone figure in a
    # wide page would otherwise blow its text up).
    natural_px = fig.get_figwidth() * 96
    text = _SIZE.sub(rf'<svg\1 width="100%" style="max-width: {1.4 * natural_px:.0f}px"', text, count=1)
    label = label.replace('"', "'").replace("<", "(").replace(">", ")")
    return text.replace("<svg", f'<svg role="img" aria-label="{label}" class="plot"', 1)
