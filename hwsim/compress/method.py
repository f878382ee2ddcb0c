"""A compression method (a named pipeline of passes) and its result on a model.

``Method`` is what the catalogue and methods files define; ``apply_method`` validates every step's
pass name and parameters before running anything (a typo fails fast, naming the method, the step and
the key), then runs the passes in order. ``CompressedModel`` keeps the final graph, every pass's
``PassResult`` and the notes a reader must see (above all, whether task accuracy needs training the
tool does not do).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hwsim.compress.base import PASSES, PassParams, PassResult
from hwsim.errors import CompressionError, HwsimError
from hwsim.ir.graph import OpGraph

Step = tuple[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Method:
    """A named pipeline. ``needs_training``: True when the method's task accuracy depends on
    (re)training the tool does not do (reported as unknown), False when it is lossless or known to hold
    without training, None when not known."""

    name: str
    description: str
    steps: tuple[Step, ...] = ()
    needs_training: bool | None = None
    notes: tuple[str, ...] = ()
    family: str = ""
    source: str = "catalogue"

    def where(self, i: int) -> str:
        return f"method {self.name!r} step {i + 1} ({self.steps[i][0]})"

    def parsed(self) -> list[tuple[str, PassParams]]:
        """Every step's pass and validated parameters (raises on an unknown pass or parameter)."""
        out = []
        for i, (name, raw) in enumerate(self.steps):
            if name not in PASSES:
                known = ", ".join(sorted(PASSES.keys()))
                raise CompressionError(f"unknown pass {name!r}; known: {known}",
                                       source=None if self.source == "catalogue" else self.source,
                                       where=self.where(i))
            try:
                out.append((name, PASSES.get(name).parse_params(raw)))
            except HwsimError as e:
                raise CompressionError(e.message, source=None if self.source == "catalogue" else self.source,
                                       where=self.where(i)) from None
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "steps": [{"pass": n, "params": dict(p)} for n, p in self.steps],
                "needs_training": self.needs_training, "notes": list(self.notes), "family": self.family}


@dataclass(frozen=True)
class CompressedModel:
    method: Method
    graph: OpGraph
    results: tuple[PassResult, ...]
    notes: tuple[str, ...]
    needs_training: bool | None
    original: OpGraph | None = field(default=None, compare=False)

    def layer_rows(self) -> list[dict[str, Any]]:
        """One row per (pass, layer) change: what each pass did to each layer."""
        rows = []
        for r in self.results:
            for c in r.changes:
                d = dict(c.details)
                rows.append({"pass": r.pass_name, "layer": c.layer, "action": c.action,
                             "sparsity": d.get("sparsity"), "bits": d.get("bits"),
                             "rank": d.get("rank", d.get("ranks")), "format": d.get("format"),
                             "bytes_before": c.bytes_before, "bytes_after": c.bytes_after})
        return rows


def apply_method(graph: OpGraph, method: Method | str, *, keep_intermediate: bool = False) -> CompressedModel:
    """Run ``method`` (a Method, a catalogue name or a methods-file path) on ``graph``.

    Each pass's result stays in ``results`` with its changes and notes; an intermediate pass's graph keeps
    its specs but, unless ``keep_intermediate``, not its weight values (they are dropped as soon as the
    next pass has run: a multi-pass method on a large model held every intermediate weight set)."""
    if isinstance(method, str):
        from hwsim.compress.catalogue import get_method

        method = get_method(method)
    steps = method.parsed()
    results: list[PassResult] = []
    g = graph
    for i, (name, params) in enumerate(steps):
        pdef = PASSES.get(name)
        try:
            result = pdef.fn(g, params)
        except HwsimError as e:
            where = method.where(i) + (f": {e.where}" if e.where else "")
            if method.source != "catalogue":  # name the methods file; the model file goes in the message
                message = e.message + (f" (model {e.source})" if e.source and e.source != method.source else "")
                raise type(e)(message, source=method.source, where=where) from None
            raise type(e)(e.message, source=e.source, where=where) from None
        if results and not keep_intermediate:
            results[-1] = dataclasses.replace(results[-1], graph=results[-1].graph.without_weight_values())
        results.append(PassResult(result.graph, result.changed, result.changes, result.notes, name))
        g = result.graph
    notes: list[str] = list(method.notes)
    for r in results:
        for n in r.notes:
            if n not in notes:
                notes.append(n)
    return CompressedModel(method, g, tuple(results), tuple(notes), method.needs_training, graph)


def steps_of(raw: Sequence[Any]) -> tuple[Step, ...]:
    return tuple((str(n), dict(p)) for n, p in raw)


__all__ = ["Method", "CompressedModel", "apply_method", "Step", "steps_of"]
