"""The decoder-LLM front of three commands: ``hwsim simulate CONFIG.yaml --prefill N --context L --new-tokens
T`` (one text generation: time to first token, tokens/s, energy per token, memory against the device's
RAM), ``hwsim sweep CONFIG.yaml --vary context=...`` and ``hwsim report CONFIG.yaml`` (both run by
``hwsim.pipeline.generation``)."""

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


def run_generation_sweep(cfg, identity: dict, quiet: bool) -> None:
    """``hwsim sweep CONFIG.yaml --vary context=...``: one row per (method, grid point), through the sweep
    pipeline (Dask or serial, cached, resumable: ``hwsim.pipeline.generation``)."""
    from hwsim.analysis.llm_sweep import COLUMNS
    from hwsim.commands.sweep import OUTPUTS, with_progress
    from hwsim.pipeline.generation import (prepare_generation_sweep, run_generation_sweep as run_sweep,
                                           write_generation_sweep_outputs)

    prepared = prepare_generation_sweep(cfg)  # every bad input fails here, before any file is written
    run = with_progress(lambda **kw: run_sweep(cfg, prepared=prepared, **kw), quiet)
    paths = write_generation_sweep_outputs(run, {"sweep": identity, "outputs": list(OUTPUTS[:2])})
    res = run.result
    df = res.dataframe()
    shown = ["method", *[s.key for s in res.specs], *COLUMNS]
    click.echo(df[shown].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(f"{len(res.points)} points x {len(res.rows) // max(1, len(res.points))} method(s): "
               f"{res.computed} computed, {res.cached} cached, in {res.seconds:.1f} s ({res.scheduler})")
    for p in paths.values():
        click.echo(f"wrote {p}")


def run_llm_report(model: str, devices: list[str], methods: list[str] | None, methods_file: str | None,
                   sets: list[str], out: Path, json_path: str | None, command: str, quiet: bool) -> None:
    """``hwsim report CONFIG.yaml``: every method on every device, one HTML page (and JSON), through the
    generation report pipeline (``hwsim.pipeline.generation``)."""
    from hwsim.hardware import parse_set_option
    from hwsim.pipeline.generation import GenerationReportConfig, run_generation_report
    from hwsim.report.html import atomic_write
    from hwsim.report.llm_report import render_llm_report

    def progress(step: str) -> None:
        if not quiet:
            click.echo(f"  {step}", err=True)

    cfg = GenerationReportConfig(model=model, devices=devices, methods=methods, methods_file=methods_file,
                                 fixed=parse_set_option(sets))
    comp = run_generation_report(cfg, progress=progress)
    atomic_write(out, render_llm_report(comp, command))
    if json_path:
        atomic_write(json_path, json.dumps(comp.as_dict(), indent=1))
    bad = sum(1 for r in comp.rows if r.error)
    click.echo(f"wrote {out} ({len(comp.methods)} methods x {len(comp.devices)} device(s); {bad} row(s) without figures)")
    if json_path:
        click.echo(f"wrote {json_path}")
