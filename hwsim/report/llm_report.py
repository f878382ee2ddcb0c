"""The LLM report page (``hwsim report CONFIG.yaml``): time to first token and decode tokens/s per
method and device, memory (weights + KV cache + activations) against each device's RAM, decode
tokens/s against the context length; self-contained HTML like the other reports."""

from __future__ import annotations

from typing import Any

from hwsim import __version__
from hwsim.analysis.llm_compare import LLMComparison
from hwsim.report.html import render
from hwsim.report.svg import ACCENT, new_figure, plain_log, styled, to_svg

_PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC")


@styled
def context_svg(comp: LLMComparison, device: str) -> str | None:
    """Decode tokens/s against the context length, one line per method, on one device."""
    fig, axes = new_figure(6.2, 3.6)
    ax = axes[0][0]
    drawn = 0
    for i, m in enumerate(comp.methods):
        r = comp.row(m, device)
        if not r.curve:
            continue
        xs, ys = zip(*r.curve)
        ax.plot(xs, ys, marker="o", ms=3, lw=1.4, color=_PALETTE[i % len(_PALETTE)], label=m)
        drawn += 1
    if not drawn:
        return None
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length (tokens in the KV cache)")
    ax.set_ylabel("decode tokens/s")
    ax.set_title(f"{comp.config.name} on {device}: decode rate vs context")
    ax.set_ylim(bottom=0)
    plain_log(ax, "x")
    ax.legend(fontsize=7, ncols=2)
    return to_svg(fig, f"decode tokens per second against context length on {device}")


@styled
def memory_svg(comp: LLMComparison, device: str, capacity: float) -> str | None:
    """Weights + KV cache + activations per method against the device's memory."""
    rows = [(m, comp.row(m, device).result) for m in comp.methods]
    rows = [(m, r) for m, r in rows if r is not None]
    if not rows:
        return None
    fig, axes = new_figure(6.2, 0.45 * len(rows) + 1.4)
    ax = axes[0][0]
    gib = 2**30
    names = [m for m, _ in rows]
    w = [r.memory.weight_bytes / gib for _, r in rows]
    kv = [r.memory.kv_cache_bytes / gib for _, r in rows]
    act = [r.memory.activation_bytes / gib for _, r in rows]
    y = range(len(rows))
    ax.barh(y, w, color=ACCENT, label="weights")
    ax.barh(y, kv, left=w, color="#F58518", label="KV cache")
    ax.barh(y, act, left=[a + b for a, b in zip(w, kv)], color="#BAB0AC", label="activations")
    ax.axvline(capacity / gib, color="#b00020", lw=1.2, ls="--", label=f"device memory {capacity / gib:.1f} GiB")
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xlabel("GiB")
    ax.set_title(f"memory at {rows[0][1].memory.kv_tokens} tokens on {device}")
    ax.legend(fontsize=7, loc="lower right")
    return to_svg(fig, f"memory per method against the memory of {device}")


def _cell(v: float | None, fmt: str) -> dict[str, str]:
    if v is None:
        return {"text": "—", "sort": ""}
    return {"text": format(v, fmt), "sort": repr(float(v))}


def build_llm_context(comp: LLMComparison, command: str) -> dict[str, Any]:
    rows = []
    for r in comp.rows:
        g = r.result
        if g is None:
            rows.append({"method": r.method, "device": r.device, "error": r.error, "cells": []})
            continue
        m = g.memory
        rows.append({"method": r.method, "device": r.device, "error": None, "fits": m.fits, "cells": [
            _cell(g.ttft_s * 1e3, ".1f"), _cell(g.decode_tokens_per_s, ".2f"), _cell(g.decode_energy_j * 1e3, ".1f"),
            _cell(g.generation_s, ".2f"), _cell(m.weight_bytes / 2**30, ".3f"), _cell(m.kv_cache_bytes / 2**20, ".1f"),
            _cell(m.total_bytes / 2**30, ".3f"), _cell(100 * g.decode_memory_bound_share, ".0f"),
        ]})
    per_device = []
    for dev in comp.devices:
        capacity = max(lv.total_bytes for lv in dev.memory)
        per_device.append({"name": dev.name, "kind": dev.kind, "capacity_gib": f"{capacity / 2**30:.1f}",
                           "context_svg": context_svg(comp, dev.name), "memory_svg": memory_svg(comp, dev.name, capacity)})
    c = comp.config
    return {
        "title": f"hwsim LLM report: {c.name}",
        "version": __version__,
        "command": command,
        "cfg": c,
        "comp": comp,
        "rows": rows,
        "per_device": per_device,
        "method_notes": {m: n for m, n in comp.method_notes.items() if n},
        "fidelity": [{"method": m, **_fidelity_cells(f)} for m, f in comp.fidelity.items()],
        "fidelity_note": comp.fidelity_note,
    }


def _fidelity_cells(f: dict[str, Any] | None) -> dict[str, Any]:
    if f is None or "error" in f:
        return {"error": (f or {}).get("error", "not run")}
    sqnr = f["sqnr_db"]
    return {"error": None, "sqnr": "identical" if sqnr == float("inf") else ("—" if sqnr is None else f"{sqnr:.1f}"),
            "cosine": "—" if f["cosine"] is None else f"{f['cosine']:.4f}", "kernels": f["kernels"],
            "passed": f["kernels_passed"]}


def render_llm_report(comp: LLMComparison, command: str) -> str:
    return render("llm.html.j2", build_llm_context(comp, command))
