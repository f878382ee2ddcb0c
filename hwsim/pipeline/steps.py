"""What every pipeline shares: how one step's failure becomes an outcome, model counts, materialization.

A step that fails with bad input becomes an ``error`` outcome carrying the message (one failing
method must not hide the others' figures); ``strict`` re-raises instead, for debugging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, TypeVar

from hwsim.analysis.metrics import ModelSummary, Outcome
from hwsim.compress.early_exit import expected_and_worst_case
from hwsim.errors import HwsimError
from hwsim.ir.counting import count_graph
from hwsim.ir.graph import OpGraph
from hwsim.ir.sparsity import effective_counts, effective_totals

T = TypeVar("T")

class Progress(Protocol):
    """A progress callback: one call per finished unit of work, with what finished; ``advance=0`` only
    says what is running (the epochs of a long retraining) without finishing a unit."""

    def __call__(self, step: str, advance: int = 1) -> None: ...

Materialize = Literal["auto", "always", "never"]

#: Models up to this many parameters are verified on their full input (and compressed with real
#: weights) by default; ``materialize="always"`` encodes real weights of larger ones too.
AUTO_MAX_PARAMS = 2_000_000


def no_progress(_: str, advance: int = 1) -> None:
    return None


def guard(strict: bool, fn: Callable[[], T]) -> tuple[T | None, Outcome]:
    """Run one step: (value, ok) or (None, error with the message); ``strict`` re-raises."""
    try:
        return fn(), Outcome()
    except HwsimError as e:
        if strict:
            raise
        return None, Outcome("error", str(e))
    except Exception as e:  # noqa: BLE001 - one failing method must not hide the others' figures
        if strict:
            raise
        return None, Outcome("error", f"internal error: {type(e).__name__}: {e}")


def summarize(graph: OpGraph) -> ModelSummary:
    """Device-independent counts of ``graph``, in total and per layer."""
    counts = count_graph(graph)
    batch = 1
    if graph.inputs:
        shape = graph.tensor(graph.inputs[0]).shape
        batch = int(shape[0]) if shape else 1
    layer_ops = {n.name: int(2 * n.macs + sum(n.arith.values())) for n in counts.nodes}
    effective = effective_counts(graph)
    per_node = {n.name: 0.0 for n in graph.nodes} | {r.node: r.effective_macs for r in effective}
    return ModelSummary(
        name=graph.name, nodes=len(graph.nodes), params=counts.params, macs=counts.macs,
        other_ops=int(sum(sum(n.arith.values()) for n in counts.nodes)),
        weight_bytes=counts.weight_bytes, batch=max(1, batch),
        layer_ops=layer_ops,
        layer_weight_bytes={n.name: n.weight_bytes for n in counts.nodes},
        layer_macs={n.name: n.macs for n in counts.nodes},
        layer_op={n.name: n.op for n in counts.nodes},
        effective_macs=expected_and_worst_case(per_node, graph)[0],
        activation_density_sources=effective_totals(effective).sources,
    )


def should_materialize(mode: Materialize, params: int) -> bool:
    """Whether passes encode real (seeded or shipped) weights rather than estimate encoded sizes."""
    return mode == "always" or (mode == "auto" and params <= AUTO_MAX_PARAMS)


def source_graph(graph: OpGraph, mode: Materialize, params: int) -> OpGraph:
    """The graph compression starts from: ``graph`` with its weights materialized when asked."""
    return graph.materialize() if should_materialize(mode, params) else graph


__all__ = ["AUTO_MAX_PARAMS", "Materialize", "Progress", "guard", "no_progress", "should_materialize",
           "source_graph", "summarize"]
