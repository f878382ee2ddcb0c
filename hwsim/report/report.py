"""The comparison report: a pipeline result -> one self-contained HTML page (and the same figures as JSON).

The page is ordered as a reader needs it: the findings in one line per device, the summary table,
then the plots that explain it (latency and energy, the Pareto front, per layer, the roofline, FPGA
resources, binary/ternary savings), the per-layer table, what each method did, the device profiles,
and how the report was produced. Several devices sit side by side in each section.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hwsim import __version__
from hwsim.analysis.compare import COLUMNS, Column, Comparison, LayerRow, layer_points, layer_rows
from hwsim.analysis.metrics import ENERGY_PARTS, MIN_AGREEMENT_INPUTS, MethodMetrics, MethodRun, jsonable
from hwsim.analysis.ranking import RankingPolicy, accuracy_front, classify, policy_lines
from hwsim.report import plots
from hwsim.report.accuracy_plots import accuracy_cost_svg
from hwsim.report.format import fmt_ratio_to_baseline, fmt_value, sort_key
from hwsim.report.html import atomic_write, render
from hwsim.report.notes import group_notes
from hwsim.report.svg import ENERGY_COLORS

#: How many layers the per-layer plot shows at most (the slowest ones, kept in model order).
MAX_PLOT_LAYERS = 40


class ResultLike(Protocol):
    """What the report reads from ``hwsim.pipeline.PipelineResult`` (kept structural: no upward import)."""

    config: Any
    model: Any
    devices: Sequence[Any]
    methods: Sequence[MethodRun]
    comparison: Comparison
    focus: str | None
    timings_s: Mapping[str, float]
    command: str
    extras: Mapping[str, Any]

    def figures(self) -> dict[str, Any]: ...


# --------------------------------------------------------------------------------------------------
# Table cells


def starred(comparison: Comparison, device: str) -> dict[str, frozenset[str]]:
    """Per column, the methods whose ★ marks the best value on ``device``: the comparison's ``best``, which
    only names methods its ranking policy lets findings rank (``hwsim.analysis.compare.compare_rows``)."""
    return {key: frozenset(methods) for key, methods in comparison.best.get(device, {}).items()}


def _cell(comparison: Comparison, row: MethodMetrics, col: Column, fpga: bool,
          stars: Mapping[str, frozenset[str]] | None = None) -> dict[str, Any]:
    value = getattr(row, col.key)
    missing = "n/a" if (col.group == "fpga" and not fpga) else "unavailable"
    if row.status != "ok" and col.group not in ("method", "model", "fidelity"):
        missing = "—"
    if col.key == "top1_agreement" and value is None and row.fidelity_inputs:
        missing = f"n/a ({row.fidelity_inputs} input{'s' if row.fidelity_inputs > 1 else ''})"
    if col.group == "accuracy" and value is None and row.status == "ok":
        missing = "unknown"
    text = fmt_value(value, col.unit, missing)
    vs = ""
    if col.better is not None and row.method != comparison.baseline:
        vs = fmt_ratio_to_baseline(comparison.ratio_to_baseline(row, col.key), col.better)
    good = None
    if vs:
        ratio = comparison.ratio_to_baseline(row, col.key)
        good = (ratio < 1) == (col.better == "min")
    sub, title = "", col.doc
    if col.key in _WORST and row.has_early_exits:  # expected on top, the worst case beneath
        worst = getattr(row, _WORST[col.key])
        sub = f"worst {fmt_value(worst, col.unit)}"
        probs = ", ".join(f"{100 * p:.0f}%" for p in row.exit_probabilities)
        title = (f"expected over the early-exit probabilities ({probs} of inputs leave at the exits); worst case "
                 f"(no early exit, every branch run): {fmt_value(worst, col.unit)}")
    if col.key == "macs" and row.macs_effective is not None:  # dense on top, effective beneath
        sub, title = _effective_macs_line(row, sub, title)
    if col.key == "bram18" and value is not None and row.bram18_wanted is not None and row.bram18_wanted > value:
        sub = f"capped ({row.bram18_wanted:,} wanted)"
        title = (f"{title}. The overlay's buffers fill the BRAM budget; holding the largest layer on chip would "
                 f"take {row.bram18_wanted:,} BRAM18, so the rest streams from DRAM (see the method's notes)")
    best = (row.method in stars.get(col.key, ()) if stars is not None else comparison.is_best(row, col.key))
    return {"text": text, "sort": sort_key(value), "best": best and row.status == "ok",
            "vs": vs, "good": good, "missing": value is None,
            "bad": col.unit == "bool" and value is False, "title": title, "sub": sub}


def _effective_macs_line(row: MethodMetrics, sub: str, title: str) -> tuple[str, str]:
    """The MAC cell's line beneath: effective MACs (zeros skipped), with the densities' sources on hover."""
    line = f"effective {fmt_value(row.macs_effective, 'count')}"
    sources = "; ".join(row.activation_density_sources) or "none"
    title = (f"{title}. Dense: every MAC counted. Effective: {fmt_value(row.macs_effective, 'count')}, MACs left with "
             f"zero weights and zero activations skipped (dense x weight density x activation density, Han et al. "
             f"2015). Activation densities: {sources}")
    return (f"{sub}; {line}" if sub else line), title


#: Cells that show an early-exit method's expected figure with its worst case beneath.
_WORST = {"latency_s": "latency_worst_s", "energy_j": "energy_worst_j", "macs": "macs_worst"}
#: Columns the HTML summary folds into other cells to stay readable (the JSON and DataFrame keep them).
_FOLDED = ("energy_compute_j", "energy_onchip_j", "energy_dram_j", "energy_static_j", "device", "macs_effective",
           *_WORST.values())


def _breakdown_cell(row: MethodMetrics) -> dict[str, Any]:
    """Energy split as a small stacked bar with the shares in its tooltip."""
    parts = [(p, getattr(row, f"energy_{p}_j")) for p in ENERGY_PARTS]
    total = sum(v for _, v in parts if v)
    if not total:
        return {"text": "unavailable" if row.status == "ok" else "—", "sort": "", "best": False, "vs": "",
                "good": None, "missing": True, "bad": False, "title": "", "bar": [], "sub": ""}
    bar = [{"part": p, "pct": 100 * v / total, "color": ENERGY_COLORS[p],
            "title": f"{plots.ENERGY_LABELS[p]}: {fmt_value(v, 'J')} ({100 * v / total:.0f}%)"} for p, v in parts if v]
    top = max(bar, key=lambda b: b["pct"])
    return {"text": f"{plots.ENERGY_LABELS[top['part']]} {top['pct']:.0f}%", "sort": sort_key(top["pct"]),
            "best": False, "vs": "", "good": None, "missing": False, "bad": False,
            "title": "; ".join(b["title"] for b in bar), "bar": bar, "sub": ""}


def summary_table(comparison: Comparison, device: str, kind: str | None, layers: Iterable[str] = ()) -> dict[str, Any]:
    """The device's summary table; ``layers``: the layer names notes may mention (grouped by kind);
    ★ only on methods the comparison's ranking policy lets findings rank (``starred``)."""
    stars = starred(comparison, device)
    layers = tuple(layers)
    fpga = kind == "fpga"
    measured = any(r.task_top1 is not None for r in comparison.rows)  # accuracy columns only with --data
    cols = [c for c in comparison.columns(fpga=fpga) if c.key not in _FOLDED and (measured or c.group != "accuracy")]
    header = [{"label": c.label, "doc": c.doc, "better": c.better, "text": c.unit == "text"} for c in cols]
    at = next(i for i, c in enumerate(cols) if c.key == "energy_j") + 1
    header.insert(at, {"label": "split", "doc": "compute / on-chip / DRAM / static; hover for figures",
                       "better": None, "text": True})
    rows = []
    for r in comparison.for_device(device):
        cells = [_cell(comparison, r, c, fpga, stars) for c in cols]
        cells.insert(at, _breakdown_cell(r))
        rows.append({"method": r.method, "baseline": r.method == comparison.baseline, "status": r.status,
                     "message": r.status_message, "notes": group_notes(fidelity_caveats(r) + r.notes, layers),
                     "needs_training": r.needs_training, "retrained": r.accuracy_how.startswith("retrained"),
                     "accuracy_known": r.task_top1 is not None, "cells": cells})
    return {"device": device, "columns": header, "rows": rows}


#: Below this output SQNR a method "usually within noise of fp32" has visibly lost the signal.
LOST_SIGNAL_DB = 3.0
FP16_RANGE = ("fp16 keeps about 3 significant digits between 6.1e-5 and 65504; smaller values lose precision "
              "and those under 6e-8 flush to zero (underflow), larger ones overflow")


def fidelity_caveats(row: MethodMetrics) -> tuple[str, ...]:
    """Caveats the measured fidelity adds to the method's own notes (shown first)."""
    if row.sqnr_db is None or math.isinf(row.sqnr_db) or row.sqnr_db >= LOST_SIGNAL_DB:
        return ()
    if not any("fp16" in n for n in row.notes):
        return ()
    return (f"measured output SQNR {row.sqnr_db:.1f} dB: fp16 lost the signal on this model, so "
            f"'within noise of fp32' does not hold here; check its activations' range ({FP16_RANGE})",)


def cross_device_table(comparison: Comparison) -> dict[str, Any]:
    """Methods down, devices across: latency and energy side by side (several-device reports); ★ as in
    the summary tables (``starred``)."""
    stars = {d: starred(comparison, d) for d in comparison.devices}
    rows = []
    for m in comparison.methods:
        cells = []
        for d in comparison.devices:
            r = comparison.row(m, d)
            for key, unit in (("latency_s", "s"), ("energy_j", "J")):
                v = getattr(r, key) if r else None
                worst = getattr(r, _WORST[key]) if r and r.has_early_exits else None
                cells.append({"text": fmt_value(v, unit, "unavailable" if r and r.status == "ok" else "—"),
                              "sort": sort_key(v), "best": bool(r and r.status == "ok" and m in stars[d].get(key, ())),
                              "sub": f"worst {fmt_value(worst, unit)}" if worst is not None else ""})
        rows.append({"method": m, "baseline": m == comparison.baseline, "cells": cells})
    return {"devices": list(comparison.devices), "rows": rows}


# --------------------------------------------------------------------------------------------------
# Findings: what a reader should take away in ten seconds


def ranking_policy(result: Any) -> RankingPolicy:
    """The run's ranking policy (its --max-drop and, with --data, the data it measured accuracy on): the
    one its comparison was built with, so findings, stars, the JSON and the DataFrame follow one rule."""
    return result.comparison.policy


def accuracy_cost_rows(comparison: Comparison, device: str, policy: RankingPolicy) -> list[dict[str, Any]]:
    """Per method on one device: real accuracy beside latency, energy and size; the Pareto front over
    the four (``hwsim.analysis.ranking.accuracy_front``: only measured methods can be on it)."""
    rows = [r for r in comparison.for_device(device) if r.status == "ok"]
    front = accuracy_front(rows)
    if front is None:
        return []
    out = []
    for r in rows:
        within = r.task_drop_pts is not None and r.task_drop_pts <= policy.max_drop_pts + 1e-9
        change = None if r.task_drop_pts is None else 0.0 - r.task_drop_pts + 0.0
        out.append({"method": r.method, "top1": fmt_value(r.task_top1, "ratio", "unknown"),
                    "change": fmt_value(change, "pts", "unknown"),
                    "latency": fmt_value(r.latency_s, "s"), "energy": fmt_value(r.energy_j, "J"),
                    "size": fmt_value(r.model_size_bytes, "bytes"), "front": r.method in front, "within": within,
                    "how": r.accuracy_how or "not measured", "sort_top1": sort_key(r.task_top1),
                    "sort_change": sort_key(change),
                    "sort_latency": sort_key(r.latency_s), "sort_energy": sort_key(r.energy_j),
                    "sort_size": sort_key(r.model_size_bytes)})
    return out


def versus_baseline(ratio: float | None, baseline: str) -> str:
    """' (2.1× less than baseline)', ' (as baseline)' when equal, '' when unknown."""
    if not ratio:
        return ""
    text = fmt_ratio_to_baseline(ratio, "min")
    return f" ({text} than {baseline})" if text else f" (as {baseline})"


def findings(comparison: Comparison, device: str, policy: RankingPolicy = RankingPolicy()) -> list[str]:
    """Fastest / least energy / smallest among the methods ``policy`` allows (``hwsim.analysis.ranking``:
    within the allowed accuracy drop, or exact by construction without data), then what was left out."""
    rows = [r for r in comparison.for_device(device) if r.status == "ok"]
    base = comparison.baseline_row(device)
    eligibility = classify(rows, comparison.baseline, policy)
    allowed = {r.method for r in eligibility.eligible}
    out = []

    def best(key: str, sense: str) -> MethodMetrics | None:
        cands = [r for r in rows if isinstance(getattr(r, key), (int, float)) and r.method in allowed]
        if not cands:
            return None
        return (min if sense == "min" else max)(cands, key=lambda r: (getattr(r, key), r.method))

    for key, sense, what in (("latency_s", "min", "fastest"), ("energy_j", "min", "least energy"),
                             ("model_size_bytes", "min", "smallest")):
        r = best(key, sense)
        if r is None:
            continue
        ratio = comparison.ratio_to_baseline(r, key)
        rel = versus_baseline(ratio, comparison.baseline)
        unit = {"latency_s": "s", "energy_j": "J", "model_size_bytes": "bytes"}[key]
        worst = getattr(r, _WORST[key]) if key in _WORST and r.has_early_exits else None
        shown = fmt_value(getattr(r, key), unit)
        if worst is not None:
            shown = f"{shown} expected ({fmt_value(worst, unit)} worst case, no early exit)"
        acc = f", top-1 {100 * r.task_top1:.1f}%" if r.task_top1 is not None else ""
        out.append(f"{what}: {r.method}, {shown}{rel}{acc}")
    if base is not None and base.latency_s:
        out.append(f"reference {base.method}: {fmt_value(base.latency_s, 's')}, {fmt_value(base.energy_j, 'J')}, "
                   f"{fmt_value(base.model_size_bytes, 'bytes')}")
    out += policy_lines(eligibility, policy)
    no_fit = [r.method for r in rows if r.fits_resources is False or r.fits_memory is False]
    if no_fit:
        out.append("does not fit the device: " + ", ".join(no_fit))
    failed = [r.method for r in comparison.for_device(device) if r.status != "ok"]
    if failed:
        out.append("no figures (see the table): " + ", ".join(failed))
    return out


# --------------------------------------------------------------------------------------------------
# Plots per device


def _roof(peaks: Mapping[str, Any], kind: str | None) -> tuple[float, float, str, dict[str, float]] | None:
    """(peak ops/s, DRAM bytes/s, label, other peaks) from a device's derived peaks, if it has them."""
    ops = peaks.get("ops_per_s") or peaks.get("peak_ops_per_s") or {}
    bw = peaks.get("dram_bandwidth_bytes_per_s") or peaks.get("bandwidth_bytes_per_s")
    if isinstance(bw, Mapping):
        bw = bw.get("dram") or (list(bw.values())[-1] if bw else None)
    if not isinstance(ops, Mapping) or not ops or not bw:
        return None
    ops = {str(k): float(v) for k, v in ops.items() if isinstance(v, (int, float)) and v > 0}
    for pref in ("fp32", "fp16", "int8"):
        if pref in ops:
            return ops[pref], float(bw), f"{pref} peak", ops
    k = sorted(ops)[0]
    return ops[k], float(bw), f"{k} peak", ops


def _per_layer_bars(rows: Sequence[LayerRow]) -> list[plots.LayerBar]:
    timed = [r for r in rows if (r.base_s or 0) > 0 or (r.focus_s or 0) > 0]
    if len(timed) > MAX_PLOT_LAYERS:
        keep = sorted(timed, key=lambda r: -max(r.base_s or 0, r.focus_s or 0))[:MAX_PLOT_LAYERS]
        keep_names = {r.layer for r in keep}
        timed = [r for r in timed if r.layer in keep_names]
    return [plots.LayerBar(r.layer, r.base_s, r.focus_s) for r in timed]


SAVINGS_KEYS = ("adders", "lut", "dsp", "multipliers", "bram18")


def savings_totals(layers: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Whole-model totals over a method's binary/ternary layers: as compressed, as int8, as fp16."""
    out: dict[str, dict[str, int]] = {"as compressed": {}, "int8": {}, "fp16": {}}
    for ly in layers:
        for form, src in (("as compressed", ly["resources"]), ("int8", ly["int8"]), ("fp16", ly["fp16"])):
            for k in SAVINGS_KEYS:
                if k in src and src[k] is not None:
                    out[form][k] = out[form].get(k, 0) + int(src[k])
    return out


def _savings_bars(extra: Mapping[str, Any]) -> tuple[list[plots.SavingsBar], str]:
    bars = []
    for method, layers in extra.get("methods", {}).items():
        totals = savings_totals(layers)
        for form, vals in totals.items():
            bars.append(plots.SavingsBar(method, form, vals))
    return bars, "Binary/ternary layers against the same engines at int8 and fp16 (whole model)"


def _savings_rows(extra: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for method, layers in extra.get("methods", {}).items():
        for ly in layers:
            rows.append({"method": method, "node": ly["node"], "dtype": ly["dtype"],
                         "fold": f"{ly['pe']} x {ly['simd']}",
                         **{f"{k}_{form}": src.get(k) for form, src in
                            (("mine", ly["resources"]), ("int8", ly["int8"]), ("fp16", ly["fp16"]))
                            for k in ("adders", "lut", "dsp")}})
    return rows


def _uncertainty(name: str, kind: str) -> str:
    """The device's validation error band (docs/validation.md), or why there is none."""
    from hwsim.analysis.validation import device_uncertainty

    u = device_uncertainty(name, kind)
    return u.describe() if u else ("latency uncertainty unknown: no published measurement of this device kind, "
                                   "or no workloads/ to run them (hwsim validate, from a source checkout)")


def energy_scope(dev: Any) -> str:
    """What the device's energy column covers (the profile's ``power_scope``), and whether the board's
    energy is known beside it (docs/devices.md, board energy): from the loaded profile (``dev.handle``,
    overrides applied) when there is one, else from its YAML document."""
    handle = getattr(dev, "handle", None)
    profile = getattr(dev, "profile", None) or {}
    if handle is not None:
        scope = handle.power_scope
        idle = None if handle.board_idle_power_w is None else f"{handle.board_idle_power_w:g} W"
        extras = {"host core": handle.host_power_w, "SoC / memory while running": handle.soc_active_power_w}
    else:
        scope, idle = profile.get("power_scope"), profile.get("board_idle_power")
        extras = {"host core": profile.get("host_power"), "SoC / memory while running": profile.get("soc_active_power")}
    if scope == "board":
        return "energy: the whole board at its input (static power = the board idle)"
    if scope != "chip":
        return "energy: scope not stated by the profile"
    if idle is None:
        return "energy: the chip's only (the board's idle power is unknown)"
    added = "".join(f" + {name} {_watts(value)} x latency" for name, value in extras.items() if value)
    return (f"energy: the chip's; the board's adds the {idle} board idle x latency{added} in place of the chip's "
            "static power (simulate --json: extra.board_energy_j)")


def _watts(value: Any) -> str:
    """A profile's power figure as text: a loaded profile's float (W), or the YAML document's own string."""
    return f"{value:g} W" if isinstance(value, float | int) else str(value)


def layer_names(result: ResultLike) -> set[str]:
    """Every layer name of the model and of each compressed model (what notes may name)."""
    names = set(result.model.layer_op)
    for m in result.methods:
        if m.summary is not None:
            names |= set(m.summary.layer_op)
    return names


@dataclass(frozen=True)
class SimulationPlots:
    """The plots drawn from simulated figures alone (not from verification), so they can be rendered
    while verification still runs: per device (per layer, roofline, FPGA resources, savings) and the
    latency/energy plot. The Pareto plot is coloured by fidelity and is drawn afterwards."""

    latency_energy: str | None
    devices: Mapping[str, Mapping[str, Any]]


def simulation_plots(result: ResultLike) -> SimulationPlots:
    """Every plot that does not depend on verification (see ``SimulationPlots``)."""
    return SimulationPlots(
        latency_energy=plots.latency_energy_svg(result.comparison,
                                                [d.name for d in result.devices if d.outcome.ok]),
        devices={d.name: _device_plots(result, d) for d in result.devices if d.outcome.ok})


def _device_plots(result: ResultLike, dev: Any) -> dict[str, Any]:
    comparison = result.comparison
    name = dev.name
    section: dict[str, Any] = {}
    base = next((m for m in result.methods if m.method == comparison.baseline), None)
    focus = next((m for m in result.methods if m.method == result.focus), None)
    rows = layer_rows(base, focus, name) if base and focus else []
    section["per_layer"] = (plots.per_layer_svg(_per_layer_bars(rows), base.method, focus.method, name)
                            if base and focus else None)
    roof = _roof(dev.peaks, dev.kind)
    section["roofline"] = None
    if roof:
        pts = []
        for mr in (base, focus):
            if mr is None:
                continue
            for p in layer_points(mr, name):
                if p.perf_ops_per_s:
                    pts.append(plots.RooflinePoint(p.layer, mr.method, p.intensity_ops_per_byte or math.inf,
                                                   p.perf_ops_per_s))
        section["roofline"] = plots.roofline_svg(name, roof[0], roof[1], pts, roof[2], roof[3])
        section["roofline_note"] = (dev.peaks.get("no_path") or {}).get("fp32", "")
        section["roofline_missing"] = "" if section["roofline"] else "no layer has both arithmetic and DRAM traffic"
    else:
        section["roofline_missing"] = "the device's derived peaks are unavailable"
    section["fpga"] = plots.fpga_resources_svg(comparison, name) if dev.kind == "fpga" else None
    extra = (result.extras or {}).get("devices", {}).get(name, {}).get("adder_savings")
    section["savings"] = None
    if extra and extra.get("status") == "ok":
        bars, title = _savings_bars(extra)
        section["savings"] = plots.adder_savings_svg(bars, title)
    return section


def device_section(result: ResultLike, dev: Any, drawn: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything the page shows for one device; ``drawn``: its plots already rendered (``simulation_plots``)."""
    comparison = result.comparison
    name = dev.name
    section: dict[str, Any] = {"name": name, "kind": dev.kind, "status": dev.outcome.status,
                               "message": dev.outcome.message, "description": dev.description}
    if not dev.outcome.ok:
        return section
    policy = ranking_policy(result)
    section["findings"] = findings(comparison, name, policy)
    section["accuracy_cost"] = accuracy_cost_rows(comparison, name, policy)
    section["accuracy_plot"] = accuracy_cost_svg(comparison, name, policy) if section["accuracy_cost"] else None
    section["uncertainty"] = _uncertainty(name, dev.kind)
    section["energy_scope"] = energy_scope(dev)
    section["table"] = summary_table(comparison, name, dev.kind, layer_names(result))
    section["pareto"] = plots.pareto_svg(comparison, name)
    base = next((m for m in result.methods if m.method == comparison.baseline), None)
    focus = next((m for m in result.methods if m.method == result.focus), None)
    section["layers"] = layer_rows(base, focus, name) if base and focus else []
    section.update(drawn if drawn is not None else _device_plots(result, dev))
    extra = (result.extras or {}).get("devices", {}).get(name, {}).get("adder_savings")
    section["savings_missing"] = "not an FPGA device" if dev.kind != "fpga" else "unavailable"
    section["savings_rows"] = []
    if extra:
        if extra.get("status") == "ok":
            section["savings_rows"] = _savings_rows(extra)
        elif extra.get("status") == "none":
            section["savings_missing"] = extra.get("message", "")
        else:
            section["savings_missing"] = f"unavailable: {extra.get('message', '')}"
    section["profile"] = _flatten(dev.profile)
    section["peaks"] = _flatten(dev.peaks)
    return section


def _flatten(doc: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested profile as (dotted key, value) rows: the keys ``--set`` and ``--vary`` accept."""
    out: list[tuple[str, str]] = []
    if isinstance(doc, Mapping):
        for k, v in doc.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(doc, list) and doc and all(isinstance(x, Mapping) for x in doc):
        for i, v in enumerate(doc):
            key = v.get("name", i) if isinstance(v, Mapping) else i
            out += _flatten(v, f"{prefix}[{key}]")
    else:
        if isinstance(doc, float):
            text = f"{doc:.6g}"
        else:
            text = str(jsonable(doc))
        out.append((prefix, text))
    return out


def _accuracy_text(m: MethodRun) -> str | None:
    """The measured task accuracy of a method in words (None when it was not measured)."""
    acc = getattr(m, "accuracy", None)
    if acc is None or getattr(acc, "final", None) is None:
        return None
    post = acc.post_training
    text = f"{100 * acc.final.top1:.1f}% top-1 on {acc.final.n} test images"
    if acc.retrained is not None and post is not None:
        text += f" after retraining ({100 * post.top1:.1f}% before)"
    return text + f", {0.0 - acc.drop_points + 0.0:+.1f} pt vs fp32"


def _method_details(result: ResultLike) -> list[dict[str, Any]]:
    out = []
    layers = layer_names(result)
    for m in result.methods:
        changes = sum(len(p.get("changes", ())) for p in m.passes)
        out.append({
            "method": m.method, "description": m.description, "compress": m.compress, "verify": m.verify,
            "needs_training": m.needs_training, "notes": list(m.notes), "accuracy": _accuracy_text(m),
            "passes": [p.get("pass", "") for p in m.passes], "changes": changes,
            "runs": [(r.device, r.outcome.status, r.outcome.message) for r in m.runs],
            "verify_summary": _verify_summary(m),
            "device_notes": [(r.device, group_notes(r.run.notes, layers)) for r in m.runs if r.run and r.run.notes],
        })
    return out


def _verify_summary(m: MethodRun) -> str:
    from hwsim.analysis.metrics import fidelity_of

    f = fidelity_of(m.verify, m.verify_result)
    if f.kernel_status in ("unavailable", "error"):
        return f"{f.kernel_status}: {f.detail}" if f.detail else f.kernel_status
    parts = [f.kernel_status if f.kernel_status.startswith("no ") else f"kernels {f.kernel_status}"]
    if f.sqnr_db is not None:
        parts.append("SQNR " + ("∞ (exact)" if math.isinf(f.sqnr_db) else f"{f.sqnr_db:.1f} dB"))
    if f.cosine is not None:
        parts.append(f"cosine {f.cosine:.4f}")
    if f.top1_agreement is not None and (f.inputs or 0) >= MIN_AGREEMENT_INPUTS:
        parts.append(f"top-1 agreement {100 * f.top1_agreement:.0f}%")
    if f.inputs:
        parts.append(f"{f.inputs} seeded input(s)")
    return ", ".join(parts)


def build_context(result: ResultLike, drawn: SimulationPlots | None = None) -> dict[str, Any]:
    """The template's context; ``drawn``: the simulation plots rendered earlier (while verification ran)."""
    comparison = result.comparison
    drawn = drawn if drawn is not None else simulation_plots(result)
    devices = [device_section(result, d, drawn.devices.get(d.name)) for d in result.devices]
    cfg = result.config
    return {
        "title": f"hwsim report: {result.model.name} on {', '.join(d.name for d in result.devices)}",
        "model": result.model,
        "version": __version__,
        "command": result.command,
        "config_json": json.dumps(jsonable(cfg.model_dump()), indent=1, sort_keys=True),
        "baseline": comparison.baseline,
        "focus": result.focus,
        "methods": list(comparison.methods),
        "devices": devices,
        "ncols": max(1, min(len(devices), 3)),
        "latency_energy": drawn.latency_energy,
        "cross": cross_device_table(comparison) if len(devices) > 1 else None,
        "details": _method_details(result),
        "timings": {k: f"{v:.2f} s" for k, v in sorted(result.timings_s.items())},
        "verify_cfg": cfg.verify,
        "verification_note": (result.extras or {}).get("verification", ""),
        "weights_note": (result.extras or {}).get("weights", ""),
        "weights_label": (result.extras or {}).get("weights_label", ""),
        "accuracy": (result.extras or {}).get("accuracy") or {"data": None},
    }


def render_report(result: ResultLike, drawn: SimulationPlots | None = None) -> str:
    return render("report.html.j2", build_context(result, drawn))


def write_report(result: ResultLike, path: str) -> None:
    atomic_write(path, render_report(result))
