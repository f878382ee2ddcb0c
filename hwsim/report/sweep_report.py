"""The sweep page: each metric against each varied key per method, the Pareto front, the cheapest
configuration meeting a target, and the best points; self-contained HTML like the report."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any

from hwsim import __version__
from hwsim.analysis.metrics import jsonable
from hwsim.analysis.sweep import METRICS, sweep_front
from hwsim.report import plots
from hwsim.report.format import fmt_value, sort_key
from hwsim.report.html import render

#: Metrics plotted against each key, with their unit kind.
PLOTTED = (("latency_s", "latency", "s"), ("energy_j", "energy per inference", "J"),
           ("dram_bytes", "DRAM traffic", "bytes"))
UNITS = {"latency_s": "s", "throughput_inf_per_s": "inf/s", "energy_j": "J", "dram_bytes": "bytes",
         "peak_memory_bytes": "bytes", "weight_bytes": "bytes", "lut": "resource", "dsp": "resource",
         "bram18": "resource", "fits_memory": "bool", "fits_resources": "bool"}
for _p in ("compute", "onchip", "dram", "static"):
    UNITS[f"energy_{_p}_j"] = "J"
TOP_ROWS = 25


def _metric_plots(run: Any) -> list[str]:
    res = run.result
    by_index = {p.index: dict(p.overrides) for p in res.points}
    methods = list(dict.fromkeys(r["method"] for r in res.rows))
    out = []
    for spec in res.specs:
        for metric, label, unit in PLOTTED:
            series = {}
            for m in methods:
                xs, ys = [], []
                for pos, value in enumerate(spec.values):
                    vals = [r[metric] for r in res.rows if r["method"] == m and r.get("status") == "ok"
                            and r.get(metric) is not None and by_index[r["point"]][spec.key] == value]
                    xs.append(spec.numbers[pos] if spec.numeric else pos)
                    ys.append(statistics.median(vals) if vals else None)
                if any(y is not None for y in ys):
                    series[m] = (xs, ys)
            if unit == "bytes":
                series = {m: (xs, [y / 2**20 if y is not None else None for y in ys]) for m, (xs, ys) in series.items()}
                unit = "MiB"
            svg = plots.sweep_metric_svg(series, spec.label, label, unit, log_x=spec.log,
                                         ticklabels=None if spec.numeric else list(spec.values))
            if svg:
                out.append(svg)
    return out


def _row_cells(row: dict[str, Any], keys: Sequence[str], overrides: dict[str, str]) -> list[dict[str, str]]:
    cells = [{"text": str(row["point"]), "sort": str(row["point"])}, {"text": row["method"], "sort": row["method"]}]
    cells += [{"text": overrides.get(k, ""), "sort": overrides.get(k, "")} for k in keys]
    for m in ("latency_s", "energy_j", "dram_bytes", "fits_memory", "fits_resources"):
        cells.append({"text": fmt_value(row.get(m), UNITS[m], "—"), "sort": sort_key(row.get(m))})
    return cells


def build_sweep_context(run: Any) -> dict[str, Any]:
    res = run.result
    keys = [s.key for s in res.specs]
    by_index = {p.index: dict(p.overrides) for p in res.points}
    front = sweep_front(res)
    ok_rows = [r for r in res.rows if r.get("status") == "ok" and r.get("latency_s") is not None]
    best = sorted(ok_rows, key=lambda r: (r["latency_s"], r["point"], r["method"]))[:TOP_ROWS]
    errors = [r for r in res.rows if r.get("status") != "ok"]
    cheapest = []
    for metric, entry in run.cheapest.items():
        label = "latency" if metric == "latency_s" else "energy per inference"
        target = fmt_value(entry["target"], UNITS[metric])
        for b in entry["best"]:
            cheapest.append({"metric": label, "target": target, "method": b["method"], "point": b["point"],
                             "value": fmt_value(b[metric], UNITS[metric]),
                             "overrides": ", ".join(f"{k}={v}" for k, v in b["overrides"].items())})
        if not entry["best"]:
            cheapest.append({"metric": label, "target": target, "method": "—", "point": "—",
                             "value": "no point meets the target", "overrides": ""})
    front_rows = [res.rows[i] for i in front]
    return {
        "title": f"hwsim sweep: {run.model.name} on {run.device.name}",
        "version": __version__,
        "command": run.command,
        "model": run.model,
        "device": run.device,
        "specs": res.specs,
        "n_points": len(res.points),
        "n_rows": len(res.rows),
        "computed": res.computed,
        "cached": res.cached,
        "scheduler": res.scheduler,
        "seconds": f"{res.seconds:.1f}",
        "errors": len(errors),
        "error_examples": sorted({r.get("message", "") for r in errors})[:5],
        "metric_plots": _metric_plots(run),
        "pareto": plots.sweep_pareto_svg(list(res.rows), "latency_s", "energy_j", "latency", "energy per inference",
                                         front, f"Latency vs energy over {len(res.points)} configurations"),
        "cheapest": cheapest,
        "keys": keys,
        "best_rows": [_row_cells(r, keys, by_index[r["point"]]) for r in best],
        "front_rows": [_row_cells(r, keys, by_index[r["point"]]) for r in sorted(front_rows, key=lambda r: r["latency_s"])],
        "config_json": json.dumps(jsonable(run.config.model_dump()), indent=1, sort_keys=True),
        "timings": {k: f"{v:.2f} s" for k, v in sorted(run.timings_s.items())},
        "metrics": METRICS,
    }


def render_sweep(run: Any) -> str:
    return render("sweep.html.j2", build_sweep_context(run))
