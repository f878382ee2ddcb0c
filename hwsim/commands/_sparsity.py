"""The options every command that shows effective MACs takes: where activation densities come from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hwsim.ir import OpGraph

ACT_DENSITY_HELP = ("Assumed non-zero fraction of the activations each conv/linear/matmul reads, where nothing is "
                    "measured or annotated (default: dense, 1.0). Labelled 'assumed' wherever it is shown.")


def density_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--data NAME``, ``--images N``, ``--act-density D``."""
    fn = click.option("--act-density", "act_density", type=click.FloatRange(0.0, 1.0), default=None,
                      help=ACT_DENSITY_HELP)(fn)
    fn = click.option("--images", "images", type=click.IntRange(min=1), default=256, show_default=True,
                      help="Calibration images for --data.")(fn)
    fn = click.option("--data", "data", default=None, metavar="NAME",
                      help="Measure activation densities by running the model on this bundled data set's "
                           "training split (e.g. digits; the model must ship trained weights).")(fn)
    return fn


def apply_density_options(graph: OpGraph, data: str | None, images: int, act_density: float | None) -> OpGraph:
    if data is None and act_density is None:
        return graph
    from hwsim.analysis.act_density import with_density_options  # lazy: runs the executor

    return with_density_options(graph, data, images, act_density)


def attach_effective_macs(doc: dict[str, Any], graph: OpGraph) -> dict[str, Any]:
    """``doc["sparsity"]``: dense and effective MAC totals with the activation densities' sources; every
    entry of ``doc["ops"]`` (if present) whose node performs MACs gets its own ``sparsity`` record."""
    from hwsim.ir.sparsity import effective_counts, effective_totals

    rows = {r.node: r for r in effective_counts(graph)}
    doc["sparsity"] = effective_totals(tuple(rows.values())).as_dict()
    for op in doc.get("ops", ()):
        if op.get("node") in rows:
            op["sparsity"] = rows[op["node"]].as_dict()
    return doc
