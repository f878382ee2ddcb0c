"""Exact per-node and whole-graph counts: MACs, other arithmetic by kind, parameters, bytes.

Conventions (DESIGN.md): a MAC is one multiply-accumulate; MAC totals count conv, linear, matmul and
structured products (what published model tables count); batchnorm, pooling and activations are
counted separately, by kind. Parameters are trainable values (batchnorm running statistics are
buffers: stored, so they appear in weight bytes, but not counted as parameters, as in PyTorch).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.ops import MAC_GROUPS, CountInput, OpCounts
from hwsim.ir.tensor import TensorSpec


@dataclass(frozen=True)
class NodeCounts:
    """Everything countable about one node, independent of any device."""

    name: str
    op: str
    group: str
    macs: int
    arith: dict[str, int]
    params: int
    nonzero_params: int
    weight_bits: int
    act_in_bytes: int
    act_out_bytes: int
    out_shape: tuple[int, ...]
    weight_dtype: str | None
    act_dtype: str

    @property
    def weight_bytes(self) -> int:
        return (self.weight_bits + 7) // 8

    @property
    def counts_as_mac_op(self) -> bool:
        from hwsim.ir.ops import OpGroup

        return OpGroup(self.group) in MAC_GROUPS

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "op": self.op, "group": self.group, "macs": self.macs, "arith": dict(self.arith),
            "params": self.params, "nonzero_params": self.nonzero_params, "weight_bytes": self.weight_bytes,
            "act_in_bytes": self.act_in_bytes, "act_out_bytes": self.act_out_bytes,
            "out_shape": list(self.out_shape), "weight_dtype": self.weight_dtype, "act_dtype": self.act_dtype,
        }


@dataclass(frozen=True)
class GraphCounts:
    """Per-node counts in topological order, with totals."""

    model: str
    nodes: tuple[NodeCounts, ...]
    input_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def nonzero_params(self) -> int:
        return sum(n.nonzero_params for n in self.nodes)

    @property
    def weight_bytes(self) -> int:
        return (sum(n.weight_bits for n in self.nodes) + 7) // 8

    @property
    def activation_bytes(self) -> int:
        """Bytes of all activations produced (each written once), plus the graph inputs."""
        return self.input_bytes + sum(n.act_out_bytes for n in self.nodes)

    @property
    def arith(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for n in self.nodes:
            total.update(n.arith)
        return dict(sorted(total.items()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "totals": {"params": self.params, "nonzero_params": self.nonzero_params, "macs": self.macs,
                       "weight_bytes": self.weight_bytes, "activation_bytes": self.activation_bytes,
                       "arith": self.arith},
            "layers": [n.as_dict() for n in self.nodes],
        }


def op_counts(graph: OpGraph, node: Node) -> OpCounts:
    """The op's own arithmetic (its OpDef counting rule applied to inferred shapes)."""
    ci = CountInput(
        attrs=node.attrs,
        in_shapes=[graph.tensor(t).shape for t in node.inputs],
        out_shapes=[graph.tensor(t).shape for t in node.outputs],
        param_shapes={slot: graph.tensor(t).shape for slot, t in node.params.items()},
    )
    return node.opdef.count(ci)


def count_node(graph: OpGraph, node: Node) -> NodeCounts:
    oc = op_counts(graph, node)
    opdef = node.opdef
    slots = {s.name: s for s in opdef.params}
    pspecs: list[tuple[bool, TensorSpec]] = [(slots[s].trainable, graph.tensor(t)) for s, t in node.params.items()]
    params = sum(spec.numel for trainable, spec in pspecs if trainable)
    nonzero = sum(spec.nonzeros for trainable, spec in pspecs if trainable)
    weight_bits = sum(spec.size_bits for _, spec in pspecs)
    in_specs = [graph.tensor(t) for t in node.inputs]
    out_specs = [graph.tensor(t) for t in node.outputs]
    main_w = graph.tensor(node.params["weight"]).dtype.name if "weight" in node.params else None
    return NodeCounts(
        name=node.name, op=node.op, group=opdef.group.value, macs=oc.macs, arith=dict(oc.arith),
        params=params, nonzero_params=nonzero, weight_bits=weight_bits,
        act_in_bytes=sum(s.size_bytes for s in in_specs), act_out_bytes=sum(s.size_bytes for s in out_specs),
        out_shape=out_specs[0].shape, weight_dtype=main_w,
        act_dtype=in_specs[0].dtype.name if in_specs else "fp32",
    )


def count_graph(graph: OpGraph) -> GraphCounts:
    return GraphCounts(
        model=graph.name,
        nodes=tuple(count_node(graph, n) for n in graph.nodes),
        input_bytes=sum(graph.tensor(i).size_bytes for i in graph.inputs),
    )
