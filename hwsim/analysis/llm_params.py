"""Parameter count of an LLM phase graph: every weight tensor once (a tied lm_head's copy of the
embedding table is not counted again)."""

from __future__ import annotations

from hwsim.ir.graph import OpGraph


def parameter_count(graph: OpGraph) -> int:
    tied = set((graph.meta.get("tied_weights") or {}).keys())
    return sum(graph.tensor(t).numel for t in graph.weight_names() if t not in tied)
