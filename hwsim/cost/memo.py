"""Reuse of per-op costs inside one ``cost_graph`` call.

Large graphs repeat the same op many times (a transformer's layers, a ResNet stage's blocks). A cost
rule is a pure function of the op's work and the device, and the node name only labels the result, so
an op whose work equals an earlier one's (all fields but the node's own name and its fusion partner's
name) gets that op's cost relabelled instead of being costed again. Fused ops are not reused: their
notes name the producer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace

from hwsim.cost.types import OpCost
from hwsim.cost.work import OpWork

_LABELS = frozenset({"node", "fuse_into"})
_KEY_FIELDS = tuple(f.name for f in fields(OpWork) if f.name not in _LABELS)


def work_signature(work: OpWork) -> str:
    """Everything a cost rule may read from ``work``, without the names that only label it."""
    return repr(tuple(getattr(work, name) for name in _KEY_FIELDS))


class CostMemo:
    """Costs already computed in this pass over a graph, by work signature."""

    def __init__(self, rule: Callable[[OpWork], OpCost]) -> None:
        self._rule = rule
        self._seen: dict[str, OpCost] = {}

    def __call__(self, work: OpWork) -> OpCost:
        key = work_signature(work)
        hit = self._seen.get(key)
        if hit is None:
            hit = self._seen[key] = self._rule(work)
            return hit
        return replace(hit, node=work.node)
