"""Early termination (BranchyNet, Teerapittayanon et al., ICPR 2016): classifier branches after chosen
layers, each ending in an ``exit`` op that stops inference for the inputs it is confident about.

Each branch is global average pooling (4-D activations), flatten, an optional hidden linear layer
with ReLU, and a linear classifier to ``num_classes`` (default: the model output's last dimension),
then the ``exit`` op; its logits become an extra graph output (after the model's own outputs).

``probability`` of an exit is the fraction of *all* inputs that leave there (as BranchyNet reports
"% of samples exited" per branch); the probabilities must sum to at most 1, the rest run the whole
network. They are design assumptions about data the tool never sees, so the result states them.
Graph meta records ``early_exits`` (exit node, layer it follows, probability, threshold, in trunk
order) and ``early_exit_main_outputs`` (the model's own outputs), which is all
:func:`expected_and_worst_case` needs: a sample leaving at exit i has run every ancestor of exit i
plus the branches of the exits before it (it was tested there and stayed); a sample reaching the end
has run everything. Expected cost = sum_i p_i cost_i + (1 - sum_i p_i) cost_all; worst case =
cost_all. Branch nodes are found from the graph's structure (nodes that feed no main output), so the
function stays right after later passes rewrite the branches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hwsim.compress._splice import node_weight_bytes, splice, unique_name
from hwsim.compress.base import LayerChange, PassParams, PassResult, register_pass
from hwsim.errors import CompressionError
from hwsim.ir.counting import count_graph
from hwsim.ir.graph import Node, OpGraph


class ExitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # a quoted number is an error

    after: str = Field(min_length=1, description="node whose output the branch reads")
    probability: float = Field(ge=0.0, le=1.0, description="fraction of all inputs leaving here")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="top softmax probability to exit")
    hidden: int | None = Field(default=None, ge=1, description="width of an optional hidden layer")


class EarlyExitParams(PassParams):
    exits: list[ExitSpec] = Field(min_length=1)
    num_classes: int | None = Field(default=None, ge=1)


def _branch(graph: OpGraph, src: str, index: int, num_classes: int, spec: ExitSpec, taken: set[str]) -> list[Node]:
    shape = graph.tensor(src).shape
    nodes: list[Node] = []
    cur = src

    def add(suffix: str, op: str, attrs: dict[str, Any] | None = None) -> None:
        nonlocal cur
        name = unique_name(graph, f"exit{index}.{suffix}", taken)
        nodes.append(Node(name, op, (cur,), (name,), attrs or {}))
        cur = name

    if len(shape) == 4:
        add("pool", "global_avgpool")
        add("flatten", "flatten")
    if spec.hidden:
        add("hidden", "linear", {"out_features": spec.hidden})
        add("relu", "relu")
    add("fc", "linear", {"out_features": num_classes})
    name = unique_name(graph, f"exit{index}", taken)
    attrs = {"probability": spec.probability, "threshold": spec.threshold, "index": index}
    nodes.append(Node(name, "exit", (cur,), (name,), attrs))
    return nodes


@register_pass("early_exit", EarlyExitParams, family="early_exit")
def early_exit(graph: OpGraph, params: EarlyExitParams) -> PassResult:
    """Add early-exit classifier branches after chosen layers; record exit probabilities so the
    expected and the worst-case cost can be reported."""
    if params.layers or params.exclude or params.overrides:
        raise CompressionError("pass 'early_exit': choose the layers with exits[].after (layers, exclude and "
                               "overrides do not apply)")
    if "early_exits" in graph.meta:
        raise CompressionError("pass 'early_exit': the model already has early exits; apply the pass once, listing "
                               "every exit", source=graph.source)
    total = sum(e.probability for e in params.exits)
    if total > 1.0 + 1e-12:
        raise CompressionError(f"pass 'early_exit': exit probabilities sum to {total:g} > 1", where="exits")
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    for i, e in enumerate(params.exits):
        if e.after not in order:
            raise CompressionError(f"pass 'early_exit': exit {i + 1} follows layer {e.after!r}, which names no layer "
                                   f"of {graph.name!r}", source=graph.source, where=f"exits[{i}].after")
    afters = [e.after for e in params.exits]
    if len(set(afters)) != len(afters):
        raise CompressionError("pass 'early_exit': two exits follow the same layer", where="exits")
    main_out = graph.tensor(graph.outputs[0]).shape
    num_classes = params.num_classes or main_out[-1]
    taken: set[str] = set()
    insert: dict[str, list[Node]] = {}
    exits_meta = []
    changes = []
    for index, spec in enumerate(sorted(params.exits, key=lambda e: order[e.after]), start=1):
        after = graph.node(spec.after)
        nodes = _branch(graph, after.outputs[0], index, num_classes, spec, taken)
        insert[after.name] = nodes
        exits_meta.append({"exit": nodes[-1].name, "after": after.name, "probability": spec.probability,
                           "threshold": spec.threshold, "branch": [n.name for n in nodes]})
    outputs = list(graph.outputs) + [m["exit"] for m in exits_meta]
    meta = {"early_exits": exits_meta, "early_exit_main_outputs": list(graph.outputs)}
    new = splice(graph, {}, insert_after=insert, meta=meta, outputs=outputs)
    per_node = {n.name: float(n.macs) for n in count_graph(new).nodes}
    exp, worst = expected_and_worst_case(per_node, new)
    base_macs = count_graph(graph).macs
    costs = exit_costs(per_node, new)
    for m, c in zip(exits_meta, costs):
        branch = [new.node(n) for n in m["branch"]]
        changes.append(LayerChange(m["after"], "early_exit", 0, node_weight_bytes(new, branch),
                                   {"exit": m["exit"], "probability": m["probability"], "threshold": m["threshold"],
                                    "macs_if_exit_here": c}))
    notes = (f"MACs: baseline {base_macs}, expected {exp:.0f}, worst case {worst:.0f} (exit probabilities "
             f"{[m['probability'] for m in exits_meta]} are stated assumptions, not measured)",
             "exit branches need training for task accuracy; the tool does not train: accuracy unknown")
    return PassResult(new, True, tuple(changes), notes)


def _ancestors(graph: OpGraph, names: list[str]) -> set[str]:
    seen = set(names)
    stack = list(names)
    while stack:
        for p in graph.predecessors(stack.pop()):
            if p.name not in seen:
                seen.add(p.name)
                stack.append(p.name)
    return seen


def _structure(graph: OpGraph) -> tuple[list[dict[str, Any]], set[str], list[set[str]]]:
    """Exits in trunk order, trunk nodes (feeding a main output), and each exit's branch nodes."""
    exits = list(graph.meta.get("early_exits", ()))
    mains = [graph.producer(t) for t in graph.meta.get("early_exit_main_outputs", graph.outputs)]
    trunk = _ancestors(graph, [p.name for p in mains if p is not None])
    branches: list[set[str]] = []
    claimed: set[str] = set()
    for e in exits:
        own = _ancestors(graph, [e["exit"]]) - trunk - claimed
        claimed |= own
        branches.append(own)
    return exits, trunk, branches


def _cost(per_node_cost: Mapping[str, float], names: set[str]) -> float:
    missing = sorted(n for n in names if n not in per_node_cost)
    if missing:
        raise KeyError(f"no cost given for node(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return math.fsum(per_node_cost[n] for n in names)  # exact: independent of the set's (hash) order


def exit_costs(per_node_cost: Mapping[str, float], graph: OpGraph) -> list[float]:
    """Cost of an input that leaves at each exit (trunk order): the exit's ancestors plus the branches
    of the earlier exits."""
    exits, trunk, branches = _structure(graph)
    out = []
    for i, e in enumerate(exits):
        needed = (_ancestors(graph, [e["exit"]]) & trunk) | set().union(*branches[: i + 1])
        out.append(_cost(per_node_cost, needed))
    return out


def expected_and_worst_case(per_node_cost: Mapping[str, float], graph: OpGraph) -> tuple[float, float]:
    """(expected, worst-case) cost of one inference given any per-node cost (MACs, cycles, joules).

    Without early exits both are the sum over all nodes. Every node of the graph must have a cost
    (a missing one is a KeyError, never counted as zero)."""
    worst = _cost(per_node_cost, {n.name for n in graph.nodes})
    exits = graph.meta.get("early_exits")
    if not exits:
        return worst, worst
    costs = exit_costs(per_node_cost, graph)
    probs = [float(e["probability"]) for e in exits]
    expected = sum(p * c for p, c in zip(probs, costs)) + (1.0 - sum(probs)) * worst
    return expected, worst
