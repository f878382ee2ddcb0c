"""An execution plan bound to one set of weight values: what ``execute`` loops over when no hook
watches each node.

Each step of the plan (``hwsim.kernels.plan``) becomes a ``BoundStep``: a closure holding the step's
resolved weights (decoded for the dense forms, as ``executor.node_call`` gives them) and its folded
nodes' calls, so a run only feeds it the input arrays; kernels that can prepare more at bind time
(the dense conv2d forms: reordered weight, epilogue program, geometry per input shape) register a
binder in ``STEP_BINDERS``, and their bound step calls the very same conv function the unbound kernel
calls (same bits). Every node's bookkeeping is precomputed too: its output names, declared shapes and
snappers, and which tensors no later node reads (freed right after it, as the executor's reference
counting did, for the given pinned tensors).

A program is made once per graph, fusion setting, kept tensors and weight arrays (by identity: stored
weights are never modified in place, the assumption ``conv_common.weight_layout`` already makes) and
reused by later runs; a few are kept per graph.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.ir.graph import Node, OpGraph
from hwsim.kernels.epilogue import run_folded
from hwsim.kernels.forms import MAIN_SLOT, dense_value
from hwsim.kernels.plan import ExecutionPlan, Step
from hwsim.kernels.registry import KernelCall
from hwsim.registry import Registry

StepFn = Callable[[tuple[np.ndarray, ...]], tuple[np.ndarray, ...]]
#: (op, form) -> binder(call without inputs, folded nodes' calls) -> the step's function of its inputs,
#: computing exactly what ``run_folded`` (or the kernel, with nothing folded) computes.
STEP_BINDERS: Registry[tuple[str, str], Callable[[KernelCall, Sequence[KernelCall]], StepFn]] = \
    Registry("bound-step binder")


@dataclass(frozen=True)
class BoundNode:
    """A node whose outputs the step produces (the producer, then each folded node, sharing them)."""

    name: str
    outputs: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]  # declared (at the declared batch)
    snappers: tuple[Callable[[np.ndarray], np.ndarray] | None, ...]
    frees: tuple[str, ...]  # tensors no later node reads (and not pinned): dropped after this node


@dataclass(frozen=True)
class BoundStep:
    run: StepFn
    inputs: tuple[str, ...]
    nodes: tuple[BoundNode, ...]
    label: str  # "(op, form)" of the producer's kernel, for messages


@dataclass(frozen=True)
class Program:
    steps: tuple[BoundStep, ...]
    weights: tuple[Any, ...]  # the bound weight values, held so that their ids stay theirs


def dense_form(form: str) -> bool:
    """Forms whose kernels see decoded (dense) weights in every slot."""
    return form in ("dense", "direct", "im2col", "fft") or form.startswith("winograd")


def slot_values(node: Node, form: str, weights: Mapping[str, Any]) -> dict[str, Any]:
    """The node's weights by slot: compressed forms see their main weight exactly as stored (the
    encoded payload), every other slot decoded."""
    dense = dense_form(form)
    return {slot: (weights[t] if (slot == MAIN_SLOT and not dense) else dense_value(weights[t]))
            for slot, t in node.params.items()}


def _frees(plan: ExecutionPlan, pinned: frozenset[str], graph_inputs: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """node -> the tensors freed right after it: every input whose last reader it is, and outputs
    nobody reads (an unused split piece), unless pinned."""
    remaining = dict(plan.uses)
    live = set(graph_inputs)
    out: dict[str, tuple[str, ...]] = {}
    for step in plan.steps:
        for node in (step.node, *step.folded):
            live.update(node.outputs)
            freed: list[str] = []
            for t in node.inputs:
                remaining[t] -= 1
                if remaining[t] == 0 and t not in pinned and t in live:
                    live.discard(t)
                    freed.append(t)
            for t in node.outputs:
                if remaining.get(t, 0) == 0 and t not in pinned and t in live:
                    live.discard(t)
                    freed.append(t)
            out[node.name] = tuple(freed)
    return out


def _bind_step(graph: OpGraph, plan: ExecutionPlan, step: Step, weights: Mapping[str, Any]) -> StepFn:
    def call_of(node: Node, form: str) -> KernelCall:
        frame = plan.frames[node.name]
        return KernelCall(node, (), slot_values(node, form, weights), frame.param_specs, frame.in_specs,
                          frame.out_specs)

    call = call_of(step.node, step.form)
    folded = tuple(call_of(f, "dense") for f in step.folded)
    key = (step.kernel.op, step.kernel.form)
    if key in STEP_BINDERS:
        return STEP_BINDERS.get(key)(call, folded)
    kdef = step.kernel
    if folded:
        return lambda ins: run_folded(kdef, call.with_inputs(ins), folded)
    fn = kdef.fn
    return lambda ins: fn(call.with_inputs(ins))


def _build(graph: OpGraph, plan: ExecutionPlan, weights: Mapping[str, Any], pinned: frozenset[str]) -> Program:
    frees = _frees(plan, pinned, graph.inputs)
    steps: list[BoundStep] = []
    for step in plan.steps:
        nodes = tuple(BoundNode(n.name, n.outputs, tuple(tuple(s.shape) for s in plan.frames[n.name].out_specs),
                                plan.frames[n.name].snappers, frees[n.name]) for n in (step.node, *step.folded))
        steps.append(BoundStep(_bind_step(graph, plan, step, weights), step.node.inputs, nodes,
                               f"({step.kernel.op}, {step.kernel.form})"))
    names = sorted({t for n in graph.nodes for t in n.params.values()})
    return Program(tuple(steps), tuple(weights[t] for t in names))


#: Programs kept per graph (distinct weight sets, kept tensors or fusion settings beyond this are rebuilt).
MAX_PROGRAMS_PER_GRAPH = 4


@dataclass
class _GraphPrograms:
    weight_names: tuple[str, ...]  # every weight tensor the nodes read, in a fixed order
    programs: dict[Any, Program]


_PROGRAMS: "weakref.WeakKeyDictionary[OpGraph, _GraphPrograms]" = weakref.WeakKeyDictionary()


def program_for(graph: OpGraph, plan: ExecutionPlan, weights: Mapping[str, Any], keep: Sequence[str]) -> Program:
    """The plan bound to ``weights`` (made on first use, then reused while the same arrays are passed)."""
    entry = _PROGRAMS.get(graph)
    if entry is None:
        names = tuple(sorted({t for n in graph.nodes for t in n.params.values()}))
        entry = _PROGRAMS[graph] = _GraphPrograms(names, {})
    pinned = frozenset(graph.outputs) | frozenset(keep)
    key = (id(plan), pinned, tuple(map(id, map(weights.__getitem__, entry.weight_names))))
    program = entry.programs.get(key)
    if program is None:
        if len(entry.programs) >= MAX_PROGRAMS_PER_GRAPH:
            entry.programs.clear()
        program = entry.programs[key] = _build(graph, plan, weights, pinned)
    return program
