"""The pass contract (after qonnx's Transformation): a pass is a pure function
``(graph, params) -> PassResult``. It never mutates its input graph (OpGraph is immutable; passes
build new graphs with ``rebuild`` / ``with_specs`` / ``with_weights``), it reports whether it changed
anything, and it records, per layer, what it did (sparsity, bits, rank, format, bytes before/after).

Parameters are pydantic models with ``extra="forbid"``, so an unknown parameter or a value out of
range is a clear ``CompressionError`` naming the pass and the key.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from hwsim.errors import CompressionError, quoted_value_hint
from hwsim.ir.graph import Node, OpGraph
from hwsim.registry import Registry


class PassParams(BaseModel):
    """Base of every pass's parameters: which layers it touches and per-layer overrides.

    ``layers``/``exclude`` are node names or globs; ``overrides`` maps a name or glob to parameter
    values for the matching layers. A glob that matches no layer is an error (a typo must not
    silently compress nothing)."""

    # strict: a quoted number (bits: '8') or a string boolean is an error naming the key, not coerced
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    layers: list[str] | None = None
    exclude: list[str] = []
    overrides: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class LayerChange:
    """What one pass did to one layer (a node of the input graph)."""

    layer: str
    action: str  # pruned, quantized, shared, encoded, factorized, replaced, binarized, ...
    bytes_before: int
    bytes_after: int
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "action": self.action, "bytes_before": self.bytes_before,
                "bytes_after": self.bytes_after, **dict(self.details)}


@dataclass(frozen=True)
class PassResult:
    """A pass's output graph, whether it changed, per-layer records and notes for the reader.

    ``notes`` carry what the tool cannot know, e.g. "task accuracy needs retraining: unknown"."""

    graph: OpGraph
    changed: bool
    changes: tuple[LayerChange, ...] = ()
    notes: tuple[str, ...] = ()
    pass_name: str = ""


PassFn = Callable[[OpGraph, Any], PassResult]


@dataclass(frozen=True)
class PassDef:
    """A registered pass: its function, parameter model, family and whether it is lossless."""

    name: str
    fn: PassFn
    params: type[PassParams]
    family: str
    lossless: bool
    doc: str

    def parse_params(self, raw: Mapping[str, Any] | None, where: str = "") -> PassParams:
        try:
            return self.params.model_validate(dict(raw or {}))
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise CompressionError(f"pass {self.name!r}: parameter {loc!r}: {first['msg']}{quoted_value_hint(first)}",
                                   where=where or None) from None

    def run(self, graph: OpGraph, raw_params: Mapping[str, Any] | None = None, where: str = "") -> PassResult:
        params = self.parse_params(raw_params, where)
        result = self.fn(graph, params)
        return PassResult(result.graph, result.changed, result.changes, result.notes, self.name)


PASSES: Registry[str, PassDef] = Registry("compression pass")


def register_pass(name: str, params: type[PassParams], family: str, lossless: bool = False
                  ) -> Callable[[PassFn], PassFn]:
    """Decorator: register ``fn`` as pass ``name``; its docstring is the pass's documentation."""

    def wrap(fn: PassFn) -> PassFn:
        PASSES.register(name, PassDef(name, fn, params, family, lossless, (fn.__doc__ or "").strip()))
        return fn

    return wrap


def select_layers(graph: OpGraph, params: PassParams, ops: Iterable[str] | None = None,
                  pass_name: str = "") -> list[Node]:
    """Nodes a pass should touch: of the given op kinds, matching ``layers`` (default all) minus ``exclude``.

    Raises if any ``layers``, ``exclude`` or ``overrides`` pattern names no node of the graph."""
    names = [n.name for n in graph.nodes]
    for pattern in [*(params.layers or []), *params.exclude, *params.overrides]:
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            raise CompressionError(f"pass {pass_name!r}: layer pattern {pattern!r} names no layer of "
                                   f"{graph.name!r}", source=graph.source)
    wanted = set(ops) if ops is not None else None
    out = []
    for node in graph.nodes:
        if wanted is not None and node.op not in wanted:
            continue
        if params.layers is not None and not any(fnmatch.fnmatchcase(node.name, p) for p in params.layers):
            continue
        if any(fnmatch.fnmatchcase(node.name, p) for p in params.exclude):
            continue
        out.append(node)
    return out


def layer_params(params: PassParams, layer: str) -> PassParams:
    """``params`` with the overrides of every pattern matching ``layer`` applied (later patterns win)."""
    merged: dict[str, Any] = {}
    for pattern, values in params.overrides.items():
        if fnmatch.fnmatchcase(layer, pattern):
            merged.update(values)
    if not merged:
        return params
    data = params.model_dump()
    data.update(merged)
    try:
        return type(params).model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        raise CompressionError(f"override for layer {layer!r}: {'.'.join(map(str, first['loc']))}: {first['msg']}"
                               ) from None


def weight_bytes(graph: OpGraph, node: Node) -> int:
    return sum(graph.tensor(t).size_bytes for t in node.params.values())


def run_passes(graph: OpGraph, steps: Sequence[tuple[str, Mapping[str, Any]]]) -> list[PassResult]:
    """Apply passes in order; each sees the previous one's graph. Returns every PassResult."""
    results = []
    for i, (name, raw) in enumerate(steps):
        result = PASSES.get(name).run(graph, raw, where=f"step {i + 1} ({name})")
        results.append(result)
        graph = result.graph
    return results
