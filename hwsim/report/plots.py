"""The report's plots, each a function from plain figures to an inline SVG string (or None: no data).

A plot never invents a value: a method whose figure is unknown is drawn as an empty slot labelled
"unavailable", so the reader sees that it is missing rather than that it is zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import Normalize
from matplotlib import colormaps

from hwsim.analysis.compare import Comparison
from hwsim.analysis.metrics import ENERGY_PARTS, MethodMetrics
from hwsim.analysis.pareto import pareto_front
from hwsim.report.format import fmt_bytes, fmt_seconds, scale_for
from hwsim.report.svg import ACCENT, BASE_COLOR, ENERGY_COLORS, FOCUS_COLOR, new_figure, plain_log, styled, to_svg

ENERGY_LABELS = {"compute": "compute", "onchip": "on-chip memory", "dram": "DRAM", "static": "static"}


def _bar_height(n: int) -> float:
    return max(2.2, 0.5 + 0.28 * n)


def _known(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@styled
def latency_energy_svg(comparison: Comparison, devices: Sequence[str]) -> str | None:
    """Latency (top row) and energy stacked by component (bottom row) per method, one column per
    device side by side, methods in the same order on every panel; the baseline as a dashed line."""
    devices = [d for d in devices if any(_known(r.latency_s) for r in comparison.for_device(d))]
    if not devices:
        return None
    methods = list(comparison.methods)[::-1]  # first method at the top
    y = np.arange(len(methods))
    n = len(devices)
    if n == 1:  # one device: latency and energy side by side
        fig, grid = new_figure(10.0, _bar_height(len(methods)) + 0.4, ncols=2, nrows=1, sharey=True)
        axes = [[grid[0][0]], [grid[0][1]]]
    else:
        fig, axes = new_figure(4.4 * n + 1.2, 2 * _bar_height(len(methods)) + 0.4, ncols=n, nrows=2, sharey=True)
    for col, dev in enumerate(devices):
        ax_l, ax_e = axes[0][col], axes[1][col]
        rows = [comparison.row(m, dev) for m in methods]
        lat = [r.latency_s if r else None for r in rows]
        t_scale, t_unit = scale_for([v for v in lat if _known(v)], "s")
        base = comparison.baseline_row(dev)
        colors = [FOCUS_COLOR if m == comparison.baseline else ACCENT for m in methods]
        ax_l.barh(y, [v * t_scale if _known(v) else 0 for v in lat], color=colors, height=0.65)
        for yi, v in zip(y, lat):
            ax_l.text(v * t_scale if _known(v) else 0, yi, f" {v * t_scale:.3g}" if _known(v) else " unavailable",
                      va="center", fontsize=7.5, color="#333" if _known(v) else "#B00")
        if base is not None and _known(base.latency_s):
            ax_l.axvline(base.latency_s * t_scale, color="#555", ls="--", lw=0.8)
        ax_l.set_xlabel(f"latency per inference ({t_unit})")
        ax_l.set_title(f"{dev}: latency (lower is better)")
        ax_l.margins(x=0.2)
        e_all = [r.energy_j if r else None for r in rows]
        e_scale, e_unit = scale_for([v for v in e_all if _known(v)], "J")
        left = np.zeros(len(methods))
        for part in ENERGY_PARTS:
            vals = np.array([((getattr(r, f"energy_{part}_j") if r else None) or 0.0) * e_scale for r in rows])
            ax_e.barh(y, vals, left=left, color=ENERGY_COLORS[part], height=0.65, label=ENERGY_LABELS[part])
            left += vals
        for yi, v in zip(y, e_all):
            ax_e.text(v * e_scale if _known(v) else 0, yi, f" {v * e_scale:.3g}" if _known(v) else " unavailable",
                      va="center", fontsize=7.5, color="#333" if _known(v) else "#B00")
        if base is not None and _known(base.energy_j):
            ax_e.axvline(base.energy_j * e_scale, color="#555", ls="--", lw=0.8)
        ax_e.set_xlabel(f"energy per inference ({e_unit})")
        ax_e.set_title(f"{dev}: energy by component (lower is better)")
        ax_e.margins(x=0.2)
        for ax in (ax_l, ax_e):
            ax.grid(axis="y", visible=False)
    for row in axes:
        row[0].set_yticks(y, methods)
        if n == 1:
            break  # shared y axis: the energy panel sits to the right of the latency panel
    handles, names = axes[1][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=4)
    return to_svg(fig, "latency and energy per method on " + ", ".join(devices))


def _sqnr_for_color(r: MethodMetrics) -> float | None:
    if r.sqnr_db is None:
        return None
    return min(r.sqnr_db, 80.0) if math.isinf(r.sqnr_db) and r.sqnr_db > 0 else r.sqnr_db


@styled
def pareto_svg(comparison: Comparison, device: str) -> str | None:
    """Model size against latency, coloured by fidelity (SQNR); the size-latency-fidelity front ringed."""
    rows = [r for r in comparison.for_device(device) if _known(r.latency_s) and _known(r.model_size_bytes)]
    if len(rows) < 1:
        return None
    pts = [{"size": r.model_size_bytes, "lat": r.latency_s, "sqnr": _sqnr_for_color(r)} for r in rows]
    front2 = pareto_front(pts, [("size", "min"), ("lat", "min")])
    fidelity_known = any(p["sqnr"] is not None for p in pts)
    # Without any fidelity figure (verification skipped) the front is the size-latency one.
    front3 = set(pareto_front(pts, [("size", "min"), ("lat", "min"), ("sqnr", "max")]) if fidelity_known
                 else front2)
    t_scale, t_unit = scale_for([r.latency_s for r in rows], "s")
    fig, axes = new_figure(6.4, 4.2)
    ax = axes[0][0]
    known = [p["sqnr"] for p in pts if p["sqnr"] is not None]
    norm = Normalize(vmin=min(known + [0.0]), vmax=max(known + [40.0]))
    cmap = colormaps["viridis"]
    xs = np.array([r.model_size_bytes / 2**20 for r in rows])
    ys = np.array([r.latency_s * t_scale for r in rows])
    f2 = sorted(front2, key=lambda i: xs[i])
    if len(f2) > 1:  # one point is no line: a legend entry for it would name something not drawn
        ax.step(xs[f2], ys[f2], where="post", color="#888", lw=1, ls=":", label="size-latency front")
    for i, (r, p) in enumerate(zip(rows, pts)):
        color = cmap(norm(p["sqnr"])) if p["sqnr"] is not None else "white"
        edge = "black" if i in front3 else "#999"
        ax.scatter([xs[i]], [ys[i]], s=70 if i in front3 else 40, c=[color], edgecolors=edge,
                   linewidths=1.4 if i in front3 else 0.8, zorder=3, marker="o" if p["sqnr"] is not None else "s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("model size (MiB, stored weights; log)")
    ax.set_ylabel(f"latency ({t_unit}; log)")
    ax.set_title("Size vs latency vs fidelity (black rings: Pareto front)" if fidelity_known else
                 "Size vs latency (fidelity unknown: not verified)")
    sm = fig.colorbar(_mappable(cmap, norm), ax=ax, shrink=0.8)
    sm.set_label("output SQNR vs fp32 (dB; squares: unknown)")
    if len(f2) > 1:
        ax.legend(loc="lower right")
    ax.margins(x=0.12, y=0.12)
    plain_log(ax)
    _label_points(fig, ax, xs, ys, [r.method for r in rows])
    return to_svg(fig, f"Pareto front of size, latency and fidelity on {device}")


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in display pixels


def _overlaps(a: Box, b: Box, pad: float = 0.0) -> bool:
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad


def _dist_to_box(p: tuple[float, float], b: Box) -> float:
    dx = max(b[0] - p[0], 0.0, p[0] - b[2])
    dy = max(b[1] - p[1], 0.0, p[1] - b[3])
    return math.hypot(dx, dy)


def cluster_points(anchors: Sequence[tuple[float, float]], radius_px: float) -> list[list[int]]:
    """Indices of points grouped transitively when within ``radius_px`` of each other (display pixels):
    such points are indistinguishable on screen, so they share one label."""
    parent = list(range(len(anchors)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (xi, yi) in enumerate(anchors):
        for j in range(i):
            xj, yj = anchors[j]
            if math.hypot(xi - xj, yi - yj) <= radius_px:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(anchors)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def place_labels(anchors: Sequence[tuple[float, float]], sizes: Sequence[tuple[float, float]],
                 bounds: Box | None = None, obstacles: Sequence[Box] = (), gap_px: float = 2.0,
                 start_px: float = 6.0) -> list[Box]:
    """Greedy non-overlapping label boxes (display pixels, y up) beside their anchor points.

    Each label tries positions on rings of growing radius around its anchor (right, left, above, below
    and the diagonals first) and takes the first one that overlaps neither a placed label nor an
    obstacle (the markers), preferring positions inside ``bounds``. The search always ends with a free
    box: far enough out every ring has room, so labels never overlap whatever the crowding."""
    placed: list[Box] = []
    order = sorted(range(len(anchors)), key=lambda i: (-anchors[i][1], anchors[i][0]))
    out: dict[int, Box] = {}
    for i in order:
        ax_, ay = anchors[i]
        w, h = sizes[i]
        step = h + gap_px
        fallback: Box | None = None
        found: Box | None = None
        for ring in range(0, 400):
            r = start_px + ring * step * 0.5
            cands = []
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)):
                cx = ax_ + dx * r
                cy = ay + dy * r
                y0 = cy if dy > 0 else (cy - h if dy < 0 else cy - h / 2)
                # Straight above/below: centred, else flush left or right (room near the plot's edges).
                x0s = [cx] if dx > 0 else ([cx - w] if dx < 0 else [cx - w / 2, ax_ - 4, ax_ + 4 - w])
                cands.extend((x0, y0, x0 + w, y0 + h) for x0 in x0s)
            for b in cands:
                if any(_overlaps(b, o, gap_px) for o in placed) or any(_overlaps(b, o) for o in obstacles):
                    continue
                # Near its point, a label must not sit closer to another point: it would name that one.
                own = _dist_to_box((ax_, ay), b)
                if ring < 24 and any(_dist_to_box(q, b) < own for j, q in enumerate(anchors) if j != i):
                    continue
                inside = bounds is None or (b[0] >= bounds[0] and b[1] >= bounds[1] and b[2] <= bounds[2]
                                            and b[3] <= bounds[3])
                if inside:
                    found = b
                    break
                if fallback is None:
                    fallback = b
            if found is not None:
                break
            if fallback is not None and ring > 60:
                break
        box = found or fallback
        if box is None:  # unreachable in practice: stack above everything placed
            top = max([b[3] for b in placed] + [ay]) + gap_px
            box = (ax_, top, ax_ + w, top + h)
        placed.append(box)
        out[i] = box
    return [out[i] for i in range(len(anchors))]


def _wrap_names(names: Sequence[str], width: int = 28) -> str:
    lines: list[str] = []
    for n in names:
        if lines and len(lines[-1]) + 2 + len(n) <= width:
            lines[-1] += ", " + n
        else:
            if lines:
                lines[-1] += ","
            lines.append(n)
    return "\n".join(lines)


def _label_points(fig, ax, xs: np.ndarray, ys: np.ndarray, names: Sequence[str], fontsize: float = 7.5) -> None:
    """Label every point without overlaps: points a few pixels apart share one label; labels are placed
    greedily in display space and joined to their point by a thin leader line when moved away."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # a canvas with a renderer to measure text (the SVG is written the same way)
    fig.draw_without_rendering()  # settle the constrained layout and the autoscaled limits
    fig.set_layout_engine("none")  # and freeze them: labels are placed in these pixel coordinates
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    to_px = ax.transData.transform
    anchors = [tuple(map(float, to_px((x, y)))) for x, y in zip(xs, ys)]
    groups = cluster_points(anchors, radius_px=6.0)
    renderer = fig.canvas.get_renderer()
    texts, sizes, g_anchors = [], [], []
    for g in groups:
        gx = sum(anchors[i][0] for i in g) / len(g)
        gy = sum(anchors[i][1] for i in g) / len(g)
        t = ax.text(0.5, 0.5, _wrap_names([names[i] for i in g]), fontsize=fontsize, transform=ax.transAxes,
                    va="bottom", ha="left", zorder=4, linespacing=1.1)
        bb = t.get_window_extent(renderer)
        texts.append(t)
        sizes.append((bb.width * 1.1 + 4, bb.height + 1))  # room for a browser font wider than Agg's
        g_anchors.append((gx, gy))
    marker_r = 7.0  # the ringed markers' radius with their edge, in display pixels
    obstacles = [(x - marker_r, y - marker_r, x + marker_r, y + marker_r) for x, y in anchors]
    bb = ax.get_window_extent(renderer)
    # Labels may use the margin up to the colour bar (if any) but stay clear of it.
    right = min([o.get_window_extent(renderer).x0 - 6 for o in fig.axes if o is not ax] + [bb.x1])
    boxes = place_labels(g_anchors, sizes, bounds=(bb.x0, bb.y0, max(bb.x1, right), bb.y1), obstacles=obstacles,
                         start_px=marker_r + 2)
    inv = ax.transData.inverted().transform
    for t, (gx, gy), box in zip(texts, g_anchors, boxes):
        # Anchor the text on the box side facing its point: a browser font wider or narrower than the
        # one measured here then grows away from the point instead of into its marker.
        if box[2] <= gx:
            ha, tx = "right", box[2] - 1
        elif box[0] >= gx:
            ha, tx = "left", box[0] + 1
        else:
            ha, tx = "center", (box[0] + box[2]) / 2
        if box[3] <= gy:
            va, ty = "top", box[3]
        elif box[1] >= gy:
            va, ty = "bottom", box[1]
        else:
            va, ty = "center", (box[1] + box[3]) / 2
        t.set_horizontalalignment(ha)
        t.set_verticalalignment(va)
        t.set_multialignment(ha if ha != "center" else "center")
        t.set_transform(ax.transData)
        t.set_position(tuple(inv((tx, ty))))
        t.set_clip_on(False)
        t.set_in_layout(False)
        cx, cy = min(max(gx, box[0]), box[2]), min(max(gy, box[1]), box[3])
        if math.hypot(cx - gx, cy - gy) > 10.0:  # moved away: a leader line says which point it names
            (lx0, ly0), (lx1, ly1) = inv((gx, gy)), inv((cx, cy))
            ax.plot([lx0, lx1], [ly0, ly1], color="#888", lw=0.6, zorder=2.5)


def _mappable(cmap, norm):
    from matplotlib.cm import ScalarMappable

    sm = ScalarMappable(norm=norm, cmap=cmap)
    sm.set_array([])
    return sm


@dataclass(frozen=True)
class LayerBar:
    """Seconds of one layer of the original model under the baseline and under the chosen method."""

    layer: str
    base_s: float | None
    focus_s: float | None


@styled
def per_layer_svg(layers: Sequence[LayerBar], base: str, focus: str, device: str) -> str | None:
    """Per-layer latency, baseline against the chosen method, in model order."""
    if not layers:
        return None
    vals = [v for lb in layers for v in (lb.base_s, lb.focus_s) if _known(v)]
    if not vals:
        return None
    t_scale, t_unit = scale_for(vals, "s")
    n = len(layers)
    x = np.arange(n)
    fig, axes = new_figure(max(6.0, min(13.0, 2.0 + 0.22 * n)), 3.6)
    ax = axes[0][0]
    w = 0.42
    ax.bar(x - w / 2, [(lb.base_s or 0) * t_scale for lb in layers], w, color=BASE_COLOR, label=base)
    ax.bar(x + w / 2, [(lb.focus_s or 0) * t_scale for lb in layers], w, color=FOCUS_COLOR, label=focus)
    ax.set_xticks(x, [lb.layer for lb in layers], rotation=90, fontsize=7)
    ax.set_ylabel(f"latency ({t_unit})")
    ax.set_title(f"Per-layer latency on {device}: {focus} vs {base}", loc="left")
    ax.grid(axis="x", visible=False)
    ax.legend(loc="best", ncols=2)  # inside the axes: above them it ran into the title of a narrow figure
    ax.set_xlim(-0.6, n - 0.4)
    return to_svg(fig, f"per-layer latency of {focus} against {base} on {device}")


@dataclass(frozen=True)
class RooflinePoint:
    """One layer placed on the roofline: ops per DRAM byte and the ops/s it reached."""

    layer: str
    series: str
    intensity_ops_per_byte: float
    perf_ops_per_s: float


@styled
def roofline_svg(device: str, peak_ops_per_s: float, bandwidth_bytes_per_s: float,
                 points: Sequence[RooflinePoint], peak_label: str = "peak compute",
                 extra_peaks: Mapping[str, float] | None = None) -> str | None:
    """The device roofline (log-log) with each layer at its arithmetic intensity and achieved rate."""
    pts = [p for p in points if p.intensity_ops_per_byte > 0 and p.perf_ops_per_s > 0]
    if not pts or peak_ops_per_s <= 0 or bandwidth_bytes_per_s <= 0:
        return None
    ridge = peak_ops_per_s / bandwidth_bytes_per_s
    xs = [p.intensity_ops_per_byte for p in pts if math.isfinite(p.intensity_ops_per_byte)]
    lo = min(xs + [ridge]) / 4
    hi = max(xs + [ridge]) * 4
    edge = hi * 2  # layers with no DRAM traffic at all sit here
    fig, axes = new_figure(6.4, 4.2)
    ax = axes[0][0]
    grid = np.logspace(math.log10(lo), math.log10(edge), 200)
    ax.plot(grid, np.minimum(peak_ops_per_s, grid * bandwidth_bytes_per_s), color="black", lw=1.5,
            label=f"roof: {peak_label} {peak_ops_per_s / 1e9:.3g} GOP/s, DRAM {bandwidth_bytes_per_s / 1e9:.3g} GB/s")
    same: dict[float, list[str]] = {}  # bit widths with one peak share one dashed roof and one label
    for name, peak in sorted((extra_peaks or {}).items()):
        if peak > 0 and not math.isclose(peak, peak_ops_per_s):
            same.setdefault(peak, []).append(name)
    for peak, names in same.items():
        ax.plot(grid, np.minimum(peak, grid * bandwidth_bytes_per_s), color="#999", lw=0.8, ls="--")
        # labelled where its flat part begins, above the line: clear of the no-DRAM band at the right
        ax.text(peak / bandwidth_bytes_per_s * 1.15, peak * 1.08, " = ".join(names), fontsize=7.5, va="bottom",
                ha="left", color="#555")
    ax.axvline(ridge, color="#bbb", lw=0.8, ls=":")
    if any(not math.isfinite(p.intensity_ops_per_byte) for p in pts):
        ax.axvspan(hi * 1.4, edge * 1.4, color="#f0f0f0", zorder=0)
        ax.text(edge, 0.99, "no DRAM\ntraffic", fontsize=7, ha="center", va="top", color="#666",
                transform=ax.get_xaxis_transform())
    series = list(dict.fromkeys(p.series for p in pts))
    colors = [BASE_COLOR, FOCUS_COLOR, ACCENT]
    markers = ["o", "^", "s"]
    for k, s in enumerate(series):
        sp = [p for p in pts if p.series == s]
        ax.scatter([p.intensity_ops_per_byte if math.isfinite(p.intensity_ops_per_byte) else edge for p in sp],
                   [p.perf_ops_per_s for p in sp], s=22, c=colors[k % 3], marker=markers[k % 3],
                   edgecolors="black", linewidths=0.4, label=s, zorder=3, alpha=0.85)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (ops per DRAM byte; log)")
    ax.set_ylabel("achieved ops/s (log)")
    ax.set_title(f"Roofline of {device}: each layer placed")
    plain_log(ax)
    ax.legend(loc="lower right")
    return to_svg(fig, f"roofline of {device} with each layer")


RESOURCE_LABELS = {"lut": "LUT", "dsp": "DSP", "bram18": "BRAM18"}


@styled
def fpga_resources_svg(comparison: Comparison, device: str) -> str | None:
    """LUT / DSP / BRAM18 per method, with the part's limits drawn as red lines."""
    rows = comparison.for_device(device)
    kinds = [k for k in ("lut", "dsp", "bram18") if any(_known(getattr(r, k)) for r in rows)]
    if not kinds:
        return None
    rows = rows[::-1]
    y = np.arange(len(rows))
    fig, axes = new_figure(3.3 * len(kinds), _bar_height(len(rows)), ncols=len(kinds), sharey=True)
    for ax, kind in zip(axes[0], kinds):
        vals = [getattr(r, kind) for r in rows]
        limits = [getattr(r, f"{kind}_limit") for r in rows if _known(getattr(r, f"{kind}_limit"))]
        over = [_known(v) and limits and v > limits[0] for v in vals]
        # BRAM an overlay's buffers would take beyond its budget: the bar is capped, hatched, and says so
        wanted = [r.bram18_wanted if kind == "bram18" and _known(v) and _known(r.bram18_wanted)
                  and r.bram18_wanted > v else None for r, v in zip(rows, vals)]
        bars = ax.barh(y, [v if _known(v) else 0 for v in vals], color=["#E45756" if o else ACCENT for o in over],
                       height=0.65)
        for bar, w in zip(bars, wanted):
            if w is not None:
                bar.set_hatch("///")
                bar.set_edgecolor("white")
        for yi, v, w in zip(y, vals, wanted):
            label = f" {v:,}" + (f" capped ({w:,} wanted)" if w is not None else "") if _known(v) else " unavailable"
            ax.text(v if _known(v) else 0, yi, label, va="center", fontsize=7, color="#333" if _known(v) else "#B00")
        if limits:
            ax.axvline(limits[0], color="#D62728", lw=1.4)
            ax.text(limits[0], len(rows) - 0.4, f"part limit {limits[0]:,}", color="#D62728", fontsize=7.5,
                    ha="right", va="bottom")
        if any(wanted):
            ax.set_title(RESOURCE_LABELS[kind] + " (hatched: capped)")
        else:
            ax.set_title(RESOURCE_LABELS[kind])
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.45 if any(wanted) else 0.2)
    axes[0][0].set_yticks(y, [r.method for r in rows])
    return to_svg(fig, f"FPGA resources per method on {device}")


@dataclass(frozen=True)
class SavingsBar:
    """Resources of one layer (or the whole model) in one arithmetic form."""

    label: str
    form: str  # binary, ternary, int8, fp16
    values: Mapping[str, float]  # adders, lut, dsp, ...


@styled
def adder_savings_svg(bars: Sequence[SavingsBar], title: str) -> str | None:
    """Adders, LUTs and DSPs of binary/ternary forms against their int8 and fp16 versions."""
    if not bars:
        return None
    kinds = [k for k in ("adders", "lut", "dsp") if any(_known(b.values.get(k)) for b in bars)]
    if not kinds:
        return None
    labels = list(dict.fromkeys(b.label for b in bars))
    forms = list(dict.fromkeys(b.form for b in bars))
    palette = {"as compressed": "#54A24B", "binary": "#54A24B", "ternary": "#B279A2", "int8": "#4C78A8",
               "int4": "#72B7B2", "fp16": "#E45756", "fp32": "#9D9D9D"}
    fig, axes = new_figure(3.6 * len(kinds), 3.4, ncols=len(kinds))
    x = np.arange(len(labels))
    w = 0.8 / max(1, len(forms))
    for ax, kind in zip(axes[0], kinds):
        top = 1.0
        for j, form in enumerate(forms):
            vals = []
            for lab in labels:
                b = next((b for b in bars if b.label == lab and b.form == form), None)
                v = b.values.get(kind) if b else None
                vals.append(float(v) if _known(v) else None)
            xpos = x + (j - (len(forms) - 1) / 2) * w
            ax.bar(xpos, [v if v else 0 for v in vals], w, label=form, color=palette.get(form, ACCENT))
            for xp, v in zip(xpos, vals):
                ax.text(xp, max(v or 0, 1), "n/a" if v is None else f"{v:,.0f}", ha="center", va="bottom",
                        fontsize=6.5, rotation=90 if len(labels) * len(forms) > 6 else 0)
                top = max(top, v or 0)
        ax.set_yscale("log")
        ax.set_ylim(0.8, top * 30)
        plain_log(ax)
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_title({"adders": "adders", "lut": "LUTs", "dsp": "DSP slices"}[kind])
        ax.grid(axis="x", visible=False)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncols=len(forms), title=title, title_fontsize=9)
    return to_svg(fig, title)


@styled
def sweep_metric_svg(xs_by_method: Mapping[str, tuple[Sequence[float], Sequence[float]]], key: str, metric: str,
                     metric_unit: str, log_x: bool = False, ticklabels: Sequence[str] | None = None) -> str | None:
    """One metric against one varied key, one line per method (median over the other keys)."""
    if not xs_by_method:
        return None
    all_y = [v for _, ys in xs_by_method.values() for v in ys if _known(v)]
    if not all_y:
        return None
    scale, unit = scale_for(all_y, metric_unit) if metric_unit in ("s", "J") else (1.0, metric_unit)
    fig, axes = new_figure(4.6, 3.1)
    ax = axes[0][0]
    for name, (xs, ys) in xs_by_method.items():
        ax.plot(xs, [y * scale if _known(y) else np.nan for y in ys], marker="o", ms=3, lw=1.2, label=name)
    if ticklabels is not None:
        ax.set_xticks(range(len(ticklabels)), ticklabels, rotation=30, ha="right")
    elif log_x:
        ax.set_xscale("log")
        plain_log(ax)
    ax.set_xlabel(key)
    ax.set_ylabel(f"{metric} ({unit})" if unit else metric)
    ax.set_title(f"{metric} vs {key.split(' (')[0]}")
    if len(xs_by_method) > 1:
        ax.legend()
    return to_svg(fig, f"{metric} against {key}")


@styled
def sweep_pareto_svg(points: Sequence[Mapping[str, Any]], x: str, y: str, x_label: str, y_label: str,
                     front: Sequence[int], title: str) -> str | None:
    """All sweep points of x against y (one colour per method), the Pareto front highlighted."""
    ok = [i for i, p in enumerate(points) if _known(p.get(x)) and _known(p.get(y))]
    if not ok:
        return None
    xs_all = [points[i][x] for i in ok]
    ys_all = [points[i][y] for i in ok]
    xsc, xu = scale_for(xs_all, "s")
    ysc, yu = scale_for(ys_all, "J")
    fig, axes = new_figure(6.0, 4.0)
    ax = axes[0][0]
    methods = list(dict.fromkeys(str(points[i].get("method", "")) for i in ok))
    cmap = colormaps["tab10"]
    for k, m in enumerate(methods):
        idx = [i for i in ok if str(points[i].get("method", "")) == m]
        ax.scatter([points[i][x] * xsc for i in idx], [points[i][y] * ysc for i in idx], s=9, alpha=0.45,
                   color=cmap(k % 10), label=m, edgecolors="none")
    fr = sorted((points[i] for i in front), key=lambda p: p[x])
    ax.plot([p[x] * xsc for p in fr], [p[y] * ysc for p in fr], "-o", ms=5, color="black", mfc="none",
            lw=1.2, label="Pareto front")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{x_label} ({xu}; log)")
    ax.set_ylabel(f"{y_label} ({yu}; log)")
    ax.set_title(title)
    plain_log(ax)
    ax.legend(loc="upper left")
    return to_svg(fig, title)


__all__ = ["LayerBar", "RooflinePoint", "SavingsBar", "adder_savings_svg", "fmt_bytes", "fmt_seconds",
           "cluster_points", "fpga_resources_svg", "latency_energy_svg", "pareto_svg", "place_labels", "per_layer_svg", "roofline_svg",
           "sweep_metric_svg", "sweep_pareto_svg"]
