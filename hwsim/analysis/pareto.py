"""Pareto fronts over any number of objectives, each minimized or maximized.

A point with an unknown (None or NaN) objective is never on the front: an unknown number cannot
dominate anything and must not look optimal in a report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Sense = Literal["min", "max"]


def _known(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _oriented(point: Mapping[str, Any], objectives: Sequence[tuple[str, Sense]]) -> tuple[float, ...] | None:
    """The point's objectives as values to minimize, or None when any is unknown."""
    out = []
    for key, sense in objectives:
        v = point.get(key)
        if not _known(v):
            return None
        out.append(float(v) if sense == "min" else -float(v))
    return tuple(out)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` everywhere and strictly better somewhere (all minimized)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(points: Sequence[Mapping[str, Any]], objectives: Sequence[tuple[str, Sense]]) -> list[int]:
    """Indices of the non-dominated points, in input order. Duplicates of a front point are all kept.

    O(n^2) in the number of points, which is fine for method comparisons and for sweeps up to a few
    thousand points; larger sweeps pass the per-method subsets.
    """
    if not objectives:
        raise ValueError("pareto_front needs at least one objective")
    for _, sense in objectives:
        if sense not in ("min", "max"):
            raise ValueError(f"objective sense must be 'min' or 'max', got {sense!r}")
    vals = [_oriented(p, objectives) for p in points]
    known = [(i, v) for i, v in enumerate(vals) if v is not None]
    # Sort by the first objective so a candidate is only compared with points that could dominate it.
    order = sorted(known, key=lambda iv: iv[1])
    front: list[tuple[int, tuple[float, ...]]] = []
    for i, v in order:
        if not any(dominates(f, v) for _, f in front):
            front.append((i, v))
    return sorted(i for i, _ in front)
