"""hwsim verify MODEL [--method M ...] [--inputs N] [--seed S] [--json] [--data digits]
[--reference onnxruntime]: prove that compressed kernels compute what they claim, measure output
fidelity (not task accuracy) and, with labelled data, real task accuracy; or compare hwsim's fp32
executor with onnxruntime on the same ONNX file."""

from __future__ import annotations

import json
import math
from typing import Any

import click

from hwsim.errors import UsageError
from hwsim.frontends import load_model

FIDELITY_FOOTNOTE = ("Fidelity = agreement of outputs with the fp32 model on seeded N(0,1) inputs; it is NOT task "
                     "accuracy. Kernel checks run each compressed kernel against the plain reference on the same "
                     "decoded weights.")


def _methods(values: tuple[str, ...]) -> list[str]:
    names = [m.strip() for v in values for m in v.split(",") if m.strip()]
    if names:
        return names
    from hwsim.compress.catalogue import DEFAULT_METHODS

    return list(DEFAULT_METHODS)


def _fmt(v: float | None, spec: str) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "identical" if v > 0 else "-inf"
    return format(v, spec)


def _print_results(results: list[Any], model: str, inputs: int, seed: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or captured: wide enough that no name or number is cut
        console = Console(width=200)
    has_acc = any(r.accuracy is not None for r in results)
    table = Table(title=f"{model}: verification ({inputs} seeded inputs, seed {seed})")
    cols = ["method", "size", "kernels", "SQNR dB", "cosine", "top-1 agree"]
    if has_acc:
        cols += ["test acc fp32", "test acc", "delta pts"]
    cols.append("needs training")
    for c in cols:
        table.add_column(c, justify="left" if c in ("method", "kernels") else "right", no_wrap=True)
    for r in results:
        f = r.fidelity
        checks = r.kernel_checks
        kern = r.kernel_status if not checks else f"{r.kernel_status} ({sum(c.passed for c in checks)}/{len(checks)})"
        row = [r.method, f"{r.compression_ratio:.1f}x", kern,
               _fmt(f.sqnr_db if f else None, ".1f"), _fmt(f.cosine if f else None, ".4f"),
               _fmt(f.top1_agreement if f else None, ".3f")]
        if has_acc:
            a = r.accuracy
            row += [_fmt(a.baseline * 100 if a else None, ".2f"), _fmt(a.compressed * 100 if a else None, ".2f"),
                    _fmt(a.delta_points if a else None, "+.2f")]
        row.append({True: "yes", False: "no", None: "unknown"}[r.needs_training])
        table.add_row(*row)
    console.print(table)
    failed = [c for r in results for c in r.kernel_checks if not c.passed]
    for c in failed[:10]:
        console.print(f"[red]kernel mismatch[/red] {c.node} ({c.op}, {c.form}): {c.requirement}, got rel error "
                      f"{c.rel_error:.3g}")
    if has_acc:
        a = next(r.accuracy for r in results if r.accuracy is not None)
        console.print(f"Task accuracy: top-1 on {a.description}.")
    console.print(FIDELITY_FOOTNOTE)


@click.command("verify")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--method", "-m", "methods", multiple=True,
              help="Method(s) to verify: catalogue names, comma-separated or repeated, or methods.yaml#name "
                   "(default: the report's default catalogue).")
@click.option("--inputs", "-n", type=click.IntRange(min=1), default=8, show_default=True,
              help="Seeded N(0,1) inputs for fidelity.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Seed of the synthetic inputs.")
@click.option("--data", default=None,
              help="Also measure task accuracy on labelled data: digits, mnist (bundled), FILE.npz (x, y) or a "
                   "folder of class sub-folders of images; reported on its seeded test split.")
@click.option("--preprocess", default=None,
              help="Image folders: KEY=VALUE,... or a YAML file (resize, crop, scale, mean, std, channels).")
@click.option("--weights", "weights_file", default=None, type=click.Path(dir_okay=False),
              help="Trained weights by tensor name: .npz, or a PyTorch state_dict .pt/.pth (needs torch).")
@click.option("--retrain", is_flag=True,
              help="With --data: also retrain every method that needs it on the train split and report accuracy "
                   "before and after (NumPy; chain models such as the LeNets).")
@click.option("--retrain-epochs", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Multiplies every retraining recipe's epochs.")
@click.option("--retrain-budget", type=click.FloatRange(min=1), default=None,
              help="Wall-clock seconds of retraining per method (stops after the epoch that crosses it).")
@click.option("--reference", type=click.Choice(["onnxruntime"]), default=None,
              help="Compare hwsim's fp32 executor with this engine on the same ONNX file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def command(model: str, methods: tuple[str, ...], inputs: int, seed: int, data: str | None, preprocess: str | None,
            weights_file: str | None, retrain: bool, retrain_epochs: float, retrain_budget: float | None,
            reference: str | None, as_json: bool, quiet: bool) -> None:
    """Check compressed kernels against their references and measure fidelity (not task accuracy).

    With --reference and no --method the default methods are verified too, as without --reference."""
    from hwsim.analysis.accuracy import weights_label, weights_origin
    from hwsim.commands.progress import steps

    graph = load_model(model)
    notes: tuple[str, ...] = ()
    if weights_file:
        from hwsim.frontends.weights_file import attach_weights

        graph, notes = attach_weights(graph, weights_file)
    if retrain and not data:
        raise UsageError("--retrain needs --data (retraining uses the data's train split)", where="--retrain")
    if preprocess and not data:
        raise UsageError("--preprocess applies to --data", where="--preprocess")
    doc: dict[str, Any] = {"model": graph.name, "file": model, "weights": weights_origin(graph),
                           "weights_label": weights_label(graph)}
    names = _methods(methods)
    if not names:
        raise UsageError("no method to verify")
    from hwsim.analysis.verify import verify_method
    from hwsim.compress.catalogue import get_method

    for name in names:  # every name resolves before any work (an unknown one is the only line printed)
        get_method(name)
    splits = None
    if data:
        from hwsim.analysis.data import load_for_model

        splits = load_for_model(data, graph, preprocess)
    results = []
    with steps("hwsim verify", len(names) + (1 if reference else 0), quiet) as step:
        if reference == "onnxruntime":
            from hwsim.analysis.onnx_reference import compare_with_onnxruntime

            step("fp32 executor against onnxruntime", 1)
            cmp = compare_with_onnxruntime(model, inputs=inputs, seed=seed)
            doc["reference"] = cmp.as_dict()
            if not as_json:
                click.echo(f"{graph.name}: hwsim fp32 executor vs onnxruntime {cmp.engine_version} on {inputs} "
                           f"seeded inputs: max |diff| = {cmp.max_abs_diff:.3g}, max |diff| / max |output| = "
                           f"{cmp.max_rel_diff:.3g}")
        for i, name in enumerate(names, 1):
            step(f"method {i}/{len(names)}: {name}", 1)
            results.append(verify_method(graph, name, inputs=inputs, seed=seed,
                                         data=None if splits is None else _as_dataset(splits)))
    doc["results"] = [r.as_dict() for r in results]
    accuracies = _retrain_all(graph, names, splits, retrain_epochs, retrain_budget, as_json) if retrain else []
    if accuracies:
        doc["accuracy"] = {"data": splits.as_dict(), "methods": [a.as_dict() for a in accuracies]}
    if as_json:
        click.echo(json.dumps(doc, indent=1))
    else:
        click.echo(f"Weights: {weights_label(graph)}")
        for n in notes:
            click.echo(n)
        _print_results(results, graph.name, inputs, seed)
        if accuracies:
            _print_accuracy(accuracies, splits)
    if any(not r.kernels_passed for r in results):
        raise SystemExit(1)  # a kernel disagreeing with its reference is a failed verification, not bad input


def _as_dataset(splits: Any) -> Any:
    from hwsim.analysis.data.traintest import TrainTest

    return TrainTest(splits.name, splits.x("train"), splits.y("train"), splits.x("test"), splits.y("test"),
                   splits.data.classes, f"{splits.data.description}, {splits.size('test')} test images "
                   f"(seeded split {splits.seed})")


def _retrain_all(graph: Any, names: list[str], splits: Any, epochs: float, budget: float | None,
                 quiet: bool) -> list[Any]:
    from rich.progress import Progress

    from hwsim.analysis.accuracy import evaluate, measure_method
    from hwsim.analysis.retrain.methods import RetrainOptions
    from hwsim.compress.catalogue import get_method

    original = graph.materialize()
    base = evaluate(original, splits)
    opts = RetrainOptions(epochs_scale=epochs, budget_s=budget)
    out = []
    with Progress(transient=True, disable=quiet) as bar:
        task = bar.add_task("accuracy", total=len(names))
        for name in names:
            bar.update(task, description=f"{name}: measuring")

            def tick(stage: str, epoch: int, total: int, loss: float, name: str = name) -> None:
                bar.update(task, description=f"{name}: retraining after {stage}, epoch {epoch}/{total}, loss {loss:.3f}")

            out.append(measure_method(original, get_method(name), splits, opts, base, tick))
            bar.advance(task)
    return out


def _print_accuracy(accuracies: list[Any], splits: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    table = Table(title=f"task accuracy on the test split ({splits.size('test')} images of {splits.name}); "
                        f"retraining on the train split ({splits.size('train')} images)")
    # "delta pts" as in the verification table: compressed minus fp32 (negative: accuracy lost)
    for c in ("method", "fp32 top-1", "post-training", "retrained", "delta pts", "size ratio", "retraining"):
        table.add_column(c, justify="left" if c in ("method", "retraining") else "right")
    for a in accuracies:
        table.add_row(a.method, f"{100 * a.baseline.top1:.2f}",
                      _fmt(None if a.post_training is None else 100 * a.post_training.top1, ".2f"),
                      _fmt(None if a.retrained is None else 100 * a.retrained.top1, ".2f"),
                      _fmt(None if a.drop_points is None else -a.drop_points, "+.2f"), _fmt(a.final_compression, ".1f"),
                      a.retrain_how or "; ".join(a.notes) or "-")
    console.print(table)
