"""The methods of a run: resolved from names, a methods file or the default catalogue; compressed; recorded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hwsim.compress.base import PassResult
from hwsim.compress.catalogue import DEFAULT_METHODS, get_method
from hwsim.compress.method import CompressedModel, Method, apply_method
from hwsim.compress.recipes import load_methods_file
from hwsim.errors import UsageError
from hwsim.ir.graph import OpGraph

#: A method as the run shows it: (display name, definition).
NamedMethod = tuple[str, Method]


#: With labelled data (``--data``) the methods that need training are retrained and measured, so the
#: default comparison adds the training-based methods of issue 9's list that the cost-only default leaves
#: out (BinaryConnect's binary weights with real activations, BNN's binary weights and activations).
WITH_DATA_METHODS = ("binaryconnect", "bnn")


def default_method_names(with_data: bool = False) -> list[str]:
    """The methods a report compares when none are named (``with_data``: accuracy is measured)."""
    names = list(DEFAULT_METHODS)
    return names + [m for m in WITH_DATA_METHODS if m not in names] if with_data else names


def resolve_methods(names: Sequence[str] | None, methods_file: str | None, baseline: str | None = None,
                    add_baseline: bool = True, with_data: bool = False) -> list[NamedMethod]:
    """(name, method) pairs from a methods file, the given names, or the default catalogue (``names`` None).

    A method from a file (``file.yaml#name``) is shown by its own name, unless that name is taken."""
    if methods_file:
        return with_baseline(list(load_methods_file(methods_file).items()), baseline, add_baseline)
    chosen = list(names) if names is not None else default_method_names(with_data)
    if not chosen:
        raise UsageError("no methods to compare", where="--methods")
    resolved = [(n, get_method(n)) for n in chosen]
    short = [m.name for _, m in resolved]
    return with_baseline([(s if short.count(s) == 1 else n, m) for (n, m), s in zip(resolved, short)],
                         baseline, add_baseline)


def with_baseline(methods: list[NamedMethod], baseline: str | None, add_baseline: bool) -> list[NamedMethod]:
    """The reference first: a comparison without the uncompressed model has nothing to compare against
    (unless ``baseline`` names another method of the list, or ``add_baseline`` is off)."""
    names = [n for n, _ in methods]
    if baseline is not None:
        if baseline not in names:
            raise UsageError(f"baseline {baseline!r} is not among the methods ({', '.join(names)})",
                             where="--baseline")
        return methods
    if not add_baseline or "baseline" in names:
        return methods
    return [("baseline", get_method("baseline")), *methods]


def compress(graph: OpGraph, method: Method) -> CompressedModel:
    return apply_method(graph, method)


def method_notes(compressed: CompressedModel) -> tuple[str, ...]:
    """The method's notes, then any pass note not already among them, in order."""
    notes = tuple(compressed.notes)
    for r in compressed.results:
        notes += tuple(n for n in r.notes if n not in notes)
    return notes


def pass_docs(results: Sequence[PassResult]) -> tuple[dict[str, Any], ...]:
    """Per pass: its name, whether it changed the graph, its per-layer changes and notes (JSON data)."""
    return tuple({"pass": r.pass_name, "changed": bool(r.changed), "changes": [c.as_dict() for c in r.changes],
                  "notes": list(r.notes)} for r in results)


__all__ = ["NamedMethod", "compress", "default_method_names", "method_notes", "pass_docs", "resolve_methods",
           "with_baseline"]
