"""``hwsim simulate CONFIG.yaml --prefill N --context L --new-tokens T``: one text generation with a
decoder-only model (time to first token, tokens/s, energy per token, memory against the device's RAM)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hwsim.commands.simulate import apply_named_method
from hwsim.errors import UsageError
from hwsim.hardware.profile import DeviceProfile
from hwsim.units import format_bytes


def run_generation(model: str, dev: DeviceProfile, method: str, engine: str, prefill: int | None,
                   context: int | None, new_tokens: int | None, as_json: bool) -> None:
    from hwsim.analysis.llm import generate
    from hwsim.frontends.llm_config import load_llm_config

    path = Path(model)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError("--prefill / --context / --new-tokens need an LLM config (workloads/llm/*.yaml, "
                         "format: hwsim-llm)", source=model)
    cfg = load_llm_config(path)
    d = cfg.defaults
    r = generate(cfg, dev, prefill_tokens=prefill or d.prefill_tokens, new_tokens=new_tokens or d.new_tokens,
                 context=context, engine=engine, method=method,
                 compress=None if method == "baseline" else (lambda g: apply_named_method(g, method)),
                 source=model)
    if as_json:
        click.echo(json.dumps(r.as_dict(), indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    m = r.memory
    t = Table(title=f"{r.model} [{r.method}] on {r.device}: prompt {r.prefill_tokens}, {r.new_tokens} new tokens "
                    f"({r.engine})")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_row("time to first token (prefill)", f"{r.ttft_s * 1e3:.2f} ms ({r.prefill_tokens_per_s:,.1f} tokens/s)")
    t.add_row(f"decode step at context {r.context}", f"{r.decode_step_s * 1e3:.2f} ms ({r.decode_tokens_per_s:.2f} tokens/s)")
    t.add_row("  bound", f"{r.decode_bound} ({100 * r.decode_memory_bound_share:.1f} % of the time memory-bound)")
    t.add_row("  energy per token", f"{r.decode_energy_j * 1e3:.2f} mJ")
    t.add_row("whole generation", f"{r.generation_s:.3f} s, {r.generation_energy_j:.3f} J "
                                  f"(decode {r.generation_tokens_per_s:.2f} tokens/s)")
    t.add_row("memory: weights", format_bytes(m.weight_bytes))
    t.add_row(f"memory: KV cache at {m.kv_tokens} tokens", format_bytes(m.kv_cache_bytes))
    t.add_row("memory: activations (peak)", format_bytes(m.activation_bytes))
    t.add_row("memory: total / device", f"{format_bytes(m.total_bytes)} / {format_bytes(m.capacity_bytes)} "
                                        f"({'fits' if m.fits else 'does NOT fit'})")
    Console().print(t)
    for n in r.notes:
        click.echo(f"note: {n}")


def run_generation_sweep(model: str, device: str, vary: list[str], methods: list[str] | None,
                         methods_file: str | None, fixed: dict[str, str], out: Path) -> None:
    """``hwsim sweep CONFIG.yaml --vary context=...``: one CSV row per (method, grid point)."""
    import pandas as pd

    from hwsim.analysis.llm_sweep import COLUMNS, llm_sweep
    from hwsim.fileio import atomic_write
    from hwsim.frontends.llm_config import load_llm_config

    path = Path(model)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError("--vary context / prefill / new_tokens needs an LLM config (workloads/llm/*.yaml)",
                         source=model)
    if methods_file:
        raise UsageError("an LLM sweep takes catalogue method names, not a methods file", where="--methods")
    cfg = load_llm_config(path)
    rows = []
    for method in methods or ["baseline"]:
        compress = None if method == "baseline" else (lambda g, m=method: apply_named_method(g, m))
        specs, part = llm_sweep(cfg, device, vary, fixed=fixed, method=method, compress=compress)
        rows += [{"method": method, **r} for r in part]
    df = pd.DataFrame(rows, columns=["method", *[s.key for s in specs], *COLUMNS])
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "results.csv", df.to_csv(index=False))
    click.echo(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(f"wrote {out / 'results.csv'}")


def run_llm_report(model: str, devices: list[str], methods: list[str] | None, methods_file: str | None,
                   sets: list[str], out: Path, json_path: str | None, command: str, quiet: bool) -> None:
    """``hwsim report CONFIG.yaml``: every method on every device, one HTML page (and JSON)."""
    from hwsim.analysis.llm_compare import DEFAULT_LLM_METHODS, compare_llm
    from hwsim.frontends.llm_config import load_llm_config
    from hwsim.hardware import load_device, parse_set_option
    from hwsim.report.html import atomic_write
    from hwsim.report.llm_report import render_llm_report

    if methods_file:
        raise UsageError("an LLM report takes catalogue method names, not a methods file", where="--methods")
    cfg = load_llm_config(model)
    overrides = parse_set_option(sets)
    devs = [load_device(d, overrides) for d in devices]
    names = methods or list(DEFAULT_LLM_METHODS)
    from hwsim.compress.catalogue import get_method

    for m in names:
        get_method(m)  # an unknown name fails here, before any simulation
    d = cfg.defaults

    def progress(step: str) -> None:
        if not quiet:
            click.echo(f"  {step}", err=True)

    comp = compare_llm(cfg, model, names, devs, prefill_tokens=d.prefill_tokens, new_tokens=d.new_tokens,
                       context=d.context, compressor=lambda m: (lambda g: apply_named_method(g, m)),
                       progress=progress)
    atomic_write(out, render_llm_report(comp, command))
    if json_path:
        atomic_write(json_path, json.dumps(comp.as_dict(), indent=1))
    bad = sum(1 for r in comp.rows if r.error)
    click.echo(f"wrote {out} ({len(names)} methods x {len(devs)} device(s); {bad} row(s) without figures)")
    if json_path:
        click.echo(f"wrote {json_path}")
