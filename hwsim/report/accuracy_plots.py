"""The report's "accuracy against cost" plots: measured top-1 against latency, energy and stored size on
one device, one panel each, with the Pareto front over the four (``hwsim.analysis.ranking``).

Only methods whose accuracy was measured are drawn (an unknown accuracy has no place on an accuracy
axis; the caption lists them). The dashed line is the lowest top-1 the findings accept (fp32 top-1
minus ``--max-drop``); methods below it are grey. A method far below the others (a binary network at
chance) would squash the interesting region, so the axis starts a few points under the lowest method
within 20 pt of fp32, and methods below that sit on the bottom edge as down-pointing triangles
labelled with their real top-1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.ticker import LogLocator

from hwsim.analysis.compare import Comparison
from hwsim.analysis.metrics import MethodMetrics
from hwsim.analysis.ranking import RankingPolicy, accuracy_front
from hwsim.report.format import scale_for
from hwsim.report.plots import _label_points
from hwsim.report.svg import ACCENT, BASE_COLOR, FOCUS_COLOR, new_figure, plain_log, to_svg

#: (metric, axis label, unit for ``scale_for`` or None for MiB)
PANELS: tuple[tuple[str, str, str | None], ...] = (("latency_s", "latency", "s"), ("energy_j", "energy", "J"),
                                                   ("model_size_bytes", "stored size", None))
#: Methods more than this many points under fp32 do not set the axis (they sit on its bottom edge).
AXIS_SPAN_PTS = 20.0


def _x(rows: Sequence[MethodMetrics], key: str, unit: str | None) -> tuple[np.ndarray, str]:
    vals = [float(getattr(r, key)) for r in rows]
    if unit is None:
        return np.array(vals) / 2**20, "MiB"
    scale, shown = scale_for(vals, unit)
    return np.array(vals) * scale, shown


def measured_rows(comparison: Comparison, device: str) -> list[MethodMetrics]:
    """The ok rows of ``device`` with a measured top-1 and every cost the panels need."""
    return [r for r in comparison.for_device(device) if r.status == "ok" and r.task_top1 is not None
            and all(isinstance(getattr(r, k), (int, float)) and getattr(r, k) > 0 for k, _, _ in PANELS)]


def accuracy_cost_svg(comparison: Comparison, device: str, policy: RankingPolicy) -> str | None:
    """Top-1 against latency, energy and size on ``device``; None when no accuracy was measured."""
    rows = measured_rows(comparison, device)
    front = accuracy_front(comparison.for_device(device)) or set()
    base = next((r for r in rows if r.method == comparison.baseline), None)
    if not rows:
        return None
    top1 = np.array([100.0 * r.task_top1 for r in rows])
    ref = 100.0 * base.task_top1 if base is not None else float(top1.max())
    floor = ref - policy.max_drop_pts
    near = top1[top1 >= ref - AXIS_SPAN_PTS]
    y_lo = float(min(near.min(), floor)) - 2.0 if near.size else float(top1.min()) - 2.0
    y_hi = float(top1.max()) + 1.5
    below = top1 < y_lo
    ys = np.where(below, y_lo, top1)
    names = [f"{r.method} ({t:.1f}%)" if b else r.method for r, t, b in zip(rows, top1, below)]
    fig, axes = new_figure(13.0, 4.4, ncols=len(PANELS))
    for ax, (key, label, unit) in zip(axes[0], PANELS):
        xs, shown = _x(rows, key, unit)
        for i, r in enumerate(rows):
            ok = top1[i] >= floor - 1e-9
            color = FOCUS_COLOR if r.method == comparison.baseline else ACCENT if ok else BASE_COLOR
            on_front = r.method in front
            ax.scatter([xs[i]], [ys[i]], s=70 if on_front else 38, c=[color], marker="v" if below[i] else "o",
                       edgecolors="black" if on_front else "white", linewidths=1.4 if on_front else 0.6, zorder=3)
        ax.axhline(floor, color="#888", lw=1, ls="--", zorder=1)
        ax.set_xscale("log")
        ax.set_ylim(y_lo - 0.8, y_hi)
        ax.set_xlabel(f"{label} ({shown}; log)")
        ax.set_ylabel("top-1 on the test split (%)")
        ax.set_title(f"top-1 vs {label}")
        ax.margins(x=0.3)
        plain_log(ax, "x")
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))  # labelled minors 20, 50, 200: no crowding
    for ax, (key, _, unit) in zip(axes[0], PANELS):
        xs, _ = _x(rows, key, unit)
        _label_points(fig, ax, xs, ys, names, fontsize=7)
    axes[0][0].text(0.01, 0.01, f"dashed: fp32 - {policy.max_drop_pts:g} pt", transform=axes[0][0].transAxes,
                    fontsize=7, color="#666", va="bottom")
    return to_svg(fig, f"Top-1 against latency, energy and size on {device}; black rings: the Pareto front")
