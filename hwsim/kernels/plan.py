"""An execution plan: every node with its form and kernel, decided once per graph (not on every call),
and which batchnorms and activations run inside, or in place after, their producer's kernel.

Fusion (onnxruntime fuses conv + batchnorm + activation the same way, minus folding the batchnorm
into the weights): the batchnorm / relu / relu6 / sigmoid / SiLU nodes right after a producer are
*folded* into its kernel's epilogue (``hwsim.kernels.epilogue``: inside the depthwise loop, or one
compiled pass over a GEMM's output). A node joins its producer's step when

- the producer is a conv2d in a dense form (``direct``, ``im2col``), a dense linear, an add, or a node
  already fused this way (their kernels return a new array of their own);
- the tensor between them is read by that node alone, is no graph output nor kept, is float32 and not
  snapped to a reduced-precision grid (an int8 / fp16 activation must be snapped before it is read);
- the node reads that tensor alone, in the dense form, and its op is in ``FOLDABLE``.

Folded epilogues compute exactly what the nodes' kernels compute, so a fused run is bit-identical to
an unfused one; the executor still books every node's output as a tensor of its own (the measured
``peak_tensor_bytes`` is unchanged; ``peak_activation_bytes`` counts the shared buffer once).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec
from hwsim.kernels.actquant import snapper
from hwsim.kernels.epilogue import FOLDABLE
from hwsim.kernels.forms import node_form
from hwsim.kernels.registry import KernelDef

#: (op, form) of producers whose kernel returns a fresh array it alone owns (safe to overwrite).
FRESH_OUTPUT = frozenset({("conv2d", "direct"), ("conv2d", "im2col"), ("linear", "dense"), ("add", "dense")})


@dataclass(frozen=True)
class Step:
    """One kernel call with the nodes ``folded`` into its epilogue (in order)."""

    node: Node
    form: str
    kernel: KernelDef
    folded: tuple[Node, ...] = ()
    folded_kernels: tuple[KernelDef, ...] = ()  # each folded node's own kernel (what it stands for)

    @property
    def last(self) -> Node:
        """The node whose output the step finally produces."""
        return (self.folded or (self.node,))[-1]


@dataclass(frozen=True)
class NodeFrame:
    """What a node's calls need of the graph, looked up once: its tensors' specs and how each output
    is snapped to its value grid (None for plain float32)."""

    param_specs: Mapping[str, TensorSpec]
    in_specs: tuple[TensorSpec, ...]
    out_specs: tuple[TensorSpec, ...]
    snappers: tuple[Callable[[np.ndarray], np.ndarray] | None, ...]


@dataclass(frozen=True)
class ExecutionPlan:
    steps: tuple[Step, ...]
    forms: Mapping[str, str]  # node -> form, every node (fused ones included)
    uses: Mapping[str, int]  # tensor -> how many node inputs read it
    frames: Mapping[str, NodeFrame]  # node -> its specs


_PLANS: "weakref.WeakKeyDictionary[OpGraph, dict[bool, ExecutionPlan]]" = weakref.WeakKeyDictionary()


def plan_for(graph: OpGraph, fuse: bool, kernel_for) -> ExecutionPlan:  # type: ignore[no-untyped-def]
    """The graph's plan (built once per graph and fusion setting; ``kernel_for(op, form, where)``
    resolves kernels and raises for a missing one)."""
    cached = _PLANS.setdefault(graph, {})
    if fuse not in cached:
        cached[fuse] = _build(graph, fuse, kernel_for)
    return cached[fuse]


def _build(graph: OpGraph, fuse: bool, kernel_for) -> ExecutionPlan:  # type: ignore[no-untyped-def]
    specs = graph.tensors
    forms = {node.name: node_form(node, specs) for node in graph.nodes}
    uses: dict[str, int] = {}
    for node in graph.nodes:
        for t in node.inputs:
            uses[t] = uses.get(t, 0) + 1
    outputs = set(graph.outputs)
    steps: list[Step] = []
    for node in graph.nodes:
        form = forms[node.name]
        kdef = kernel_for(node.op, form, f"node {node.name!r}")
        last = steps[-1] if steps else None
        if fuse and last is not None and _fusable(last, node, form, uses, outputs, graph):
            steps[-1] = Step(last.node, last.form, last.kernel, (*last.folded, node), (*last.folded_kernels, kdef))
            continue
        steps.append(Step(node, form, kdef))
    frames = {node.name: NodeFrame(graph.param_specs(node), tuple(specs[t] for t in node.inputs),
                                   tuple(specs[t] for t in node.outputs),
                                   tuple(snapper(specs[t]) for t in node.outputs)) for node in graph.nodes}
    return ExecutionPlan(tuple(steps), forms, uses, frames)


def _fusable(step: Step, node: Node, form: str, uses: Mapping[str, int], outputs: set[str],
             graph: OpGraph) -> bool:
    producer = step.last
    if (step.node.op, step.form) not in FRESH_OUTPUT or form != "dense" or len(producer.outputs) != 1:
        return False
    if node.op not in FOLDABLE:
        return False
    t = producer.outputs[0]
    if node.inputs != (t,) or uses.get(t, 0) != 1 or t in outputs:
        return False
    spec = graph.tensor(t)
    return (spec.dtype.kind == "float" and spec.dtype.bits == 32 and snapper(spec) is None
            and len(spec.shape) >= 2)
