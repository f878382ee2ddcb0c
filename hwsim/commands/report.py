"""hwsim report: compare compression methods on one or more devices in one self-contained HTML page."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from hwsim.errors import UsageError


def split_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise UsageError(f"expected a comma-separated list of names, got {text!r}", where=what)
    if len(set(items)) != len(items):
        raise UsageError(f"a name is repeated in {text!r}", where=what)
    return items


def methods_option(value: str | None) -> tuple[list[str] | None, str | None]:
    """``--methods``: an existing file is a methods file, anything else a comma-separated list of names."""
    if value is None:
        return None, None
    p = Path(value)
    if p.is_file() or value.endswith((".yaml", ".yml", ".json")):
        if not p.is_file():
            raise UsageError("no such methods file", source=value)
        return None, str(p)
    return split_list(value, "--methods"), None


def default_output(model: str, devices: list[str]) -> Path:
    dev = "-".join(Path(d).stem for d in devices)
    return Path("reports") / f"{Path(model).stem}-{dev}.html"


def command_line(model: str, device: str, methods: str | None, output: str | None, json_path: str | None,
                 extra: list[str]) -> str:
    """The command as a user would retype it (recorded in the report)."""
    parts = ["hwsim", "report", model, "--device", device]
    if methods:
        parts += ["--methods", methods]
    parts += extra
    if output:
        parts += ["-o", output]
    if json_path:
        parts += ["--json", json_path]
    return shlex.join(parts)


@click.command("report")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--device", "device", required=True, metavar="NAME[,NAME...]",
              help="Device names (hwsim devices) or YAML paths; several compare side by side.")
@click.option("--methods", metavar="LIST|FILE", default=None,
              help="Comma-separated method names, or a methods YAML file. Default: the methods marked * in "
                   "`hwsim methods` (with --data also binaryconnect and bnn).")
@click.option("-o", "--output", metavar="PATH", default=None, help="HTML file (default reports/<model>-<device>.html).")
@click.option("--json", "json_path", metavar="PATH", default=None, help="Also write every figure as JSON.")
@click.option("--engine", default="analytic", show_default=True, help="Simulation engine (analytic, event).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a device profile key (all devices).")
@click.option("--baseline", default=None, help="Reference method (default: baseline / the first).")
@click.option("--focus", default=None, help="Method shown per layer (default: the fastest).")
@click.option("--verify", "verify_mode", type=click.Choice(["auto", "full", "reduced", "off"]), default="auto",
              show_default=True, help="Kernel exactness + fidelity: full, reduced (one 64-px input, for speed), off; auto = full "
              "up to 2M parameters, reduced up to 15M, off above.")
@click.option("--inputs", type=click.IntRange(1, 10_000), default=2, show_default=True,
              help="Seeded inputs for fidelity (full verification).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Seed of the verification inputs.")
@click.option("--materialize", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Compress real (seeded or shipped) weights so encoded sizes are real: auto = models up to 2M params.")
@click.option("--workers", type=click.IntRange(0, 64), default=2, show_default=True,
              help="Processes verifying in parallel with simulation (0: none).")
@click.option("--data", default=None, metavar="NAME|FILE|DIR",
              help="Labelled data for real task accuracy: digits, mnist (bundled), FILE.npz (x, y) or a folder of "
                   "class sub-folders of images. Methods that need retraining are retrained on its train split.")
@click.option("--preprocess", default=None, help="Image folders: KEY=VALUE,... or a YAML file (resize, crop, scale, "
              "mean, std, channels).")
@click.option("--weights", "weights_file", default=None, type=click.Path(dir_okay=False),
              help="Trained weights by tensor name: .npz, or a PyTorch state_dict .pt/.pth (needs torch).")
@click.option("--max-drop", type=click.FloatRange(0, 100), default=1.0, show_default=True, metavar="PT",
              help="Findings rank only methods within this many points of fp32 top-1.")
@click.option("--retrain/--no-retrain", default=True, show_default=True,
              help="With --data: retrain the methods that need it (NumPy; chain models such as the LeNets).")
@click.option("--retrain-epochs", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Multiplies every retraining recipe's epochs.")
@click.option("--retrain-budget", type=click.FloatRange(min=1), default=None, metavar="S",
              help="Wall-clock seconds of retraining per method.")
@click.option("--strict", is_flag=True, help="Stop at the first failing method instead of reporting it.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(model: str, device: str, methods: str | None, output: str | None, json_path: str | None, engine: str,
            sets: tuple[str, ...], baseline: str | None, focus: str | None, verify_mode: str, inputs: int, seed: int,
            materialize: str, workers: int, data: str | None, preprocess: str | None, weights_file: str | None,
            max_drop: float, retrain: bool, retrain_epochs: float, retrain_budget: float | None, strict: bool,
            quiet: bool) -> None:
    """Compare compression methods for MODEL on one or more devices: one HTML report."""
    from hwsim.hardware import parse_set_option
    from hwsim.pipeline.accuracy import AccuracyConfig
    from hwsim.pipeline.report import PipelineConfig
    from hwsim.pipeline.verification import VerifyConfig
    from hwsim.report.html import atomic_write, check_writable
    from hwsim.report.report import render_report

    devices = split_list(device, "--device")
    method_names, methods_file = methods_option(methods)
    out = Path(output) if output else default_output(model, devices)
    check_writable(out, "report")
    if json_path:
        check_writable(json_path, "JSON")
    if not Path(model).is_file():
        raise UsageError("no such model file", source=model)
    from hwsim.frontends.llm_config import is_llm_config

    if is_llm_config(Path(model)):  # a decoder LLM: generation figures (docs/llm.md)
        from hwsim.commands.llm_generation import run_llm_report

        cmd = command_line(model, device, methods, output, json_path, [f"--set={s}" for s in sets])
        run_llm_report(model, devices, method_names, methods_file, list(sets), out, json_path, cmd, quiet)
        return
    extra: list[str] = []
    for s in sets:
        extra += ["--set", s]
    for flag, value in (("--engine", engine if engine != "analytic" else None), ("--baseline", baseline),
                        ("--focus", focus), ("--seed", str(seed) if seed else None)):
        if value:
            extra += [flag, value]
    if verify_mode != "auto":
        extra += ["--verify", verify_mode]
    if inputs != 2:
        extra += ["--inputs", str(inputs)]
    if materialize != "auto":
        extra += ["--materialize", materialize]
    for flag, value in (("--data", data), ("--preprocess", preprocess), ("--weights", weights_file),
                        ("--max-drop", f"{max_drop:g}" if max_drop != 1.0 else None),
                        ("--retrain-epochs", f"{retrain_epochs:g}" if retrain_epochs != 1.0 else None),
                        ("--retrain-budget", f"{retrain_budget:g}" if retrain_budget else None)):
        if value:
            extra += [flag, value]
    if not retrain:
        extra += ["--no-retrain"]
    if preprocess and not data:
        raise UsageError("--preprocess applies to --data", where="--preprocess")
    cfg = PipelineConfig(
        model=model, devices=devices, methods=method_names, methods_file=methods_file, engine=engine,
        materialize=materialize, device_overrides=parse_set_option(list(sets)),
        verify=VerifyConfig(mode=verify_mode, inputs=inputs, seed=seed, workers=workers),
        baseline=baseline, focus=focus, strict=strict, weights=weights_file,
        accuracy=AccuracyConfig(data=data, preprocess=preprocess, max_drop=max_drop, retrain=retrain,
                                retrain_epochs=retrain_epochs, retrain_budget_s=retrain_budget),
    )
    cmd = command_line(model, device, methods, output, json_path, extra)
    result, html = _run_with_progress(cfg, cmd, quiet, render_report)
    atomic_write(out, html)
    if json_path:
        atomic_write(json_path, result.result_json())
    _print_summary(result, out, json_path)


def _run_with_progress(cfg, cmd: str, quiet: bool, render):
    """Run the pipeline and render the page, with a progress bar on a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hwsim.pipeline.report import run_pipeline
    from hwsim.report.report import simulation_plots

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        quiet_drawn = []
        result = run_pipeline(cfg, command=cmd, while_verifying=lambda r: quiet_drawn.append(simulation_plots(r)))
        return result, render(result, quiet_drawn[0] if quiet_drawn else None)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[step]}"), console=console, transient=False) as bar:
        task = bar.add_task("hwsim report", total=None, step="loading")

        def on_plan(total: int) -> None:
            bar.update(task, total=total + 1)  # + rendering the page

        def progress(step: str, advance: int = 1) -> None:
            bar.update(task, advance=advance, step=step)

        drawn = []

        def draw(provisional) -> None:  # the simulation plots, while the verifications run
            bar.update(task, step="drawing the plots while verification runs")
            drawn.append(simulation_plots(provisional))
            bar.update(task, step="waiting for verification")

        result = run_pipeline(cfg, progress=progress, on_plan=on_plan, command=cmd, while_verifying=draw)
        bar.update(task, step="rendering the report (Pareto plots, tables)")
        html = render(result, drawn[0] if drawn else None)
        bar.update(task, advance=1, step="done")
        return result, html


def _print_summary(result, out: Path, json_path: str | None) -> None:
    rows = result.comparison.rows
    bad = [r for r in rows if r.status != "ok"]
    click.echo(f"wrote {out} ({len(result.comparison.methods)} methods x {len(result.comparison.devices)} "
               f"device(s); {len(bad)} row(s) without figures) in {result.timings_s.get('total', 0):.1f} s")
    if json_path:
        click.echo(f"wrote {json_path}")
