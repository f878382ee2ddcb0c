"""hwsim sweep: what-if exploration of device profile keys, in parallel, cached and resumable."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import click

from hwsim.errors import UsageError

#: The file that says which sweep a folder's outputs belong to (written with them, atomically).
MANIFEST = "sweep.json"
OUTPUTS = ("results.csv", "results.parquet", "sweep.html", MANIFEST)
#: What must match for a folder's outputs to be replaced by a new run (its grid may differ: a resumed or
#: extended sweep); a different model, device, method list, fixed override or engine is refused.
SAME_SWEEP_KEYS = ("model_sha256", "device", "methods", "methods_file", "set", "engine")


def _target(value: str | None, dimension: str, option: str) -> float | None:
    from hwsim.units import UnitError, parse_quantity

    if value is None:
        return None
    try:
        v = parse_quantity(value, dimension)
    except UnitError as e:
        raise UsageError(str(e), where=option) from None
    if v <= 0:
        raise UsageError(f"the target must be positive, got {value!r}", where=option)
    return v * 1e-12 if dimension == "pj" else v


@click.command("sweep")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--device", required=True, metavar="NAME", help="Device name or YAML path to vary.")
@click.option("--vary", "vary", multiple=True, required=True, metavar="KEY=VALUES",
              help="Profile key and values: a,b,c | lo:hi:step | log:lo:hi:n, units allowed (repeatable).")
@click.option("--methods", metavar="LIST|FILE", default=None, help="Methods to sweep (default: baseline).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Fixed profile override at every point.")
@click.option("--samples", type=int, default=None, help="Seeded random sample of N grid points (default: the grid).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Seed of --samples.")
@click.option("--scheduler", default="local", show_default=True, metavar="ADDRESS",
              help="'local' (Dask on this machine's cores), 'serial', or a Dask scheduler address.")
@click.option("--workers", type=click.IntRange(1, 512), default=None, help="Local Dask workers (default: cores).")
@click.option("--engine", default="analytic", show_default=True, help="Simulation engine.")
@click.option("--target-latency", default=None, metavar="TIME", help="Find the cheapest point under it, e.g. 5ms.")
@click.option("--target-energy", default=None, metavar="ENERGY", help="Find the cheapest point under it, e.g. 2mJ.")
@click.option("-o", "--output", metavar="DIR", default=None, help="Output directory (default reports/sweep-<model>-<device>).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(model: str, device: str, vary: tuple[str, ...], methods: str | None, sets: tuple[str, ...],
            samples: int | None, seed: int, scheduler: str, workers: int | None, engine: str,
            target_latency: str | None, target_energy: str | None, output: str | None, quiet: bool) -> None:
    """Vary device profile keys for MODEL: CSV, Parquet and an HTML page of plots."""
    from hwsim.commands.report import methods_option
    from hwsim.hardware import parse_set_option
    from hwsim.pipeline.sweep import SweepConfig, prepare_sweep, write_sweep_outputs
    from hwsim.report.html import check_writable

    if not Path(model).is_file():
        raise UsageError("no such model file", source=model)
    method_names, methods_file = methods_option(methods)
    out = Path(output) if output else Path("reports") / f"sweep-{Path(model).stem}-{Path(device).stem}"
    if out.exists() and not out.is_dir():
        raise UsageError("output must be a directory", source=str(out))
    from hwsim.analysis.llm_sweep import is_generation_sweep

    for name in OUTPUTS:
        check_writable(out / name, "sweep output")
    cfg = SweepConfig(model=model, device=device, vary=list(vary), methods=method_names, methods_file=methods_file,
                      fixed=parse_set_option(list(sets)), samples=samples, seed=seed, engine=engine,
                      scheduler=scheduler, workers=workers, output=str(out),
                      target_latency_s=_target(target_latency, "s", "--target-latency"),
                      target_energy_j=_target(target_energy, "pj", "--target-energy"))
    identity = sweep_identity(cfg)
    check_same_sweep(out, identity)
    if is_generation_sweep(vary):  # context / prefill / new_tokens of a decoder LLM (docs/llm.md)
        from hwsim.commands.llm_generation import run_generation_sweep

        run_generation_sweep(cfg, identity, quiet)
        return
    prepared = prepare_sweep(cfg)  # every bad input fails here, before any file is written
    parts = ["hwsim", "sweep", model, "--device", device]
    for v in vary:
        parts += ["--vary", v]
    for flag, value in (("--methods", methods), ("--samples", samples), ("--seed", seed if samples else None),
                        ("--target-latency", target_latency), ("--target-energy", target_energy),
                        ("-o", output)):
        if value is not None:
            parts += [flag, str(value)]
    for s in sets:
        parts += ["--set", s]
    cmd = shlex.join(parts)
    run = _run(cfg, cmd, prepared, quiet)
    paths = write_sweep_outputs(run, {"sweep": identity, "outputs": list(OUTPUTS[:3])})
    res = run.result
    click.echo(f"{len(res.points)} points x {len(res.rows) // max(1, len(res.points))} method(s): "
               f"{res.computed} computed, {res.cached} cached, in {res.seconds:.1f} s ({res.scheduler})")
    for kind, p in paths.items():
        click.echo(f"wrote {p}")


def sweep_identity(cfg: Any) -> dict[str, Any]:
    """What makes two sweeps the same sweep: the model's content, the device, what varies, the methods,
    the fixed overrides, the sampling and the engine (not where or how fast it runs)."""
    from hwsim.analysis.cache import file_digest

    return {"model": Path(cfg.model).name, "model_sha256": file_digest(cfg.model), "device": cfg.device,
            "vary": list(cfg.vary), "methods": cfg.methods, "methods_file": cfg.methods_file,
            "set": dict(cfg.fixed), "samples": cfg.samples, "seed": cfg.seed if cfg.samples else None,
            "engine": cfg.engine}


def check_same_sweep(out: Path, identity: dict[str, Any]) -> None:
    """Refuse to write a sweep's outputs over those of a sweep of another model, device, methods, fixed
    overrides or engine (their points would mix in one folder's cache and outputs)."""
    manifest = out / MANIFEST
    if not manifest.is_file():
        return
    try:
        previous = json.loads(manifest.read_text(encoding="utf-8")).get("sweep")
    except (OSError, ValueError, AttributeError):
        previous = None
    # the same model, device, methods, fixed overrides and engine may grow or change its grid (the point
    # cache is shared, the outputs are replaced as a whole); anything else is another sweep
    diff = sorted(k for k in SAME_SWEEP_KEYS if not isinstance(previous, dict) or previous.get(k) != identity[k])
    if diff:
        raise UsageError(f"the folder holds the outputs of a different sweep (differs in: {', '.join(diff)}); "
                         "choose another -o or remove the folder", source=str(out))


def _run(cfg, cmd: str, prepared, quiet: bool):
    from hwsim.pipeline.sweep import run_sweep_config

    return with_progress(lambda **kw: run_sweep_config(cfg, command=cmd, prepared=prepared, **kw), quiet)


def with_progress(run, quiet: bool):
    """``run(progress=..., on_plan=...)`` under a progress bar on a terminal (plain otherwise)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        return run()
    with Progress(TextColumn("[bold]hwsim sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("sweep", total=None)
        return run(progress=lambda n: bar.update(task, advance=n), on_plan=lambda total: bar.update(task, total=total))
