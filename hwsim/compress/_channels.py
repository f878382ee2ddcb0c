"""Channel bookkeeping for structured pruning: which channels of which tensors are the same channel.

Every channel of every tensor gets a slot id. A conv / linear creates fresh slots for its outputs;
ops that keep channels (activations, batchnorm, pools, depthwise convs, resize) pass their input's
slots through; an addition or multiplication *unifies* its operands' slots position by position (a
residual connection forces the same channel to go from every branch); a concatenation along the
channel axis lays its inputs' slots end to end; flatten repeats each channel's slot over its H x W
features, so the linear layer after it loses exactly that channel's columns. Ops without a channel
rule (reshape, transpose, split, shuffle, matmul, grouped convs...) and the graph's inputs and
outputs *freeze* the slots they touch: those channels cannot be removed.

A component (a set of unified slots) is what pruning removes: one filter from each producer in it,
the matching input channel of every consumer, and the entry of every batchnorm / depthwise conv on
the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.ops import OpGroup

_PASS_THROUGH_GROUPS = {OpGroup.ACTIVATION, OpGroup.POOL}
_PASS_THROUGH_OPS = {"dropout", "identity", "resize", "batchnorm"}


class UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []

    def new(self, n: int) -> np.ndarray:
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        return np.arange(start, start + n, dtype=np.int64)

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def roots(self, ids: np.ndarray) -> np.ndarray:
        return np.fromiter((self.find(int(i)) for i in ids), np.int64, count=len(ids))


def channel_axis(shape: tuple[int, ...]) -> int:
    return 1 if len(shape) == 4 else len(shape) - 1


@dataclass
class ChannelMap:
    """Slots of every tensor's channel axis, the union-find over slots and the frozen slots."""

    uf: UnionFind = field(default_factory=UnionFind)
    ids: dict[str, np.ndarray] = field(default_factory=dict)
    axis: dict[str, int] = field(default_factory=dict)
    frozen: set[int] = field(default_factory=set)  # slot ids (resolve with uf.find at the end)
    producers: dict[str, np.ndarray] = field(default_factory=dict)  # node -> its fresh output slots
    frozen_reasons: dict[int, str] = field(default_factory=dict)

    def freeze(self, tensor: str, why: str) -> None:
        for i in self.ids.get(tensor, ()):
            self.frozen.add(int(i))
            self.frozen_reasons.setdefault(int(i), why)

    def fresh(self, tensor: str, n: int, axis: int, frozen: str | None = None) -> np.ndarray:
        ids = self.uf.new(n)
        self.ids[tensor], self.axis[tensor] = ids, axis
        if frozen:
            self.freeze(tensor, frozen)
        return ids

    def frozen_roots(self) -> set[int]:
        return {self.uf.find(i) for i in self.frozen}


def analyse(graph: OpGraph) -> ChannelMap:
    cm = ChannelMap()
    for t in graph.inputs:
        shape = graph.tensor(t).shape
        cm.fresh(t, shape[channel_axis(shape)], channel_axis(shape), frozen="graph input")
    for node in graph.nodes:
        _visit(graph, cm, node)
    for t in graph.outputs:
        cm.freeze(t, "graph output")
    return cm


def _same(cm: ChannelMap, src: str, dst: str) -> None:
    cm.ids[dst], cm.axis[dst] = cm.ids[src], cm.axis[src]


def _block(graph: OpGraph, cm: ChannelMap, node: Node, why: str) -> None:
    for t in node.inputs:
        cm.freeze(t, why)
    for t in node.outputs:
        shape = graph.tensor(t).shape
        cm.fresh(t, shape[channel_axis(shape)], channel_axis(shape), frozen=why)


def _visit(graph: OpGraph, cm: ChannelMap, node: Node) -> None:
    in_shapes = [graph.tensor(t).shape for t in node.inputs]
    out = node.outputs[0]
    out_shape = graph.tensor(out).shape
    x = node.inputs[0] if node.inputs else None
    ax_in = cm.axis.get(x) if x is not None else None
    if node.op == "conv2d":
        g, c_in, c_out = node.attrs["groups"], in_shapes[0][1], node.attrs["out_channels"]
        if ax_in != 1:
            cm.freeze(x, f"{node.name}: channels not on axis 1")
        if g == 1:
            cm.producers[node.name] = cm.fresh(out, c_out, 1)
        elif g == c_in == c_out and ax_in == 1:
            _same(cm, x, out)  # depthwise: channel i in, channel i out
        else:
            _block(graph, cm, node, f"{node.name}: grouped convolution")
        return
    if node.op == "linear":
        if ax_in != len(in_shapes[0]) - 1:
            cm.freeze(x, f"{node.name}: features not on the last axis")
        cm.producers[node.name] = cm.fresh(out, out_shape[-1], len(out_shape) - 1)
        return
    if node.op == "flatten":
        shape = in_shapes[0]
        if node.attrs.get("axis", 1) == 1 and ax_in == 1:
            per = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
            cm.ids[out], cm.axis[out] = np.repeat(cm.ids[x], per), 1
        else:
            _block(graph, cm, node, f"{node.name}: flatten across channels")
        return
    if node.op in ("add", "mul"):
        ax = channel_axis(out_shape)
        full = [t for t, s in zip(node.inputs, in_shapes)
                if len(s) == len(out_shape) and s[ax] == out_shape[ax] and cm.axis.get(t) == ax]
        other = [t for t, s in zip(node.inputs, in_shapes) if t not in full and len(s) == len(out_shape)
                 and s[ax] == out_shape[ax]]
        if not full or other:
            _block(graph, cm, node, f"{node.name}: operands with unknown channel layout")
            return
        first = cm.ids[full[0]]
        for t in full[1:]:
            for a, b in zip(first, cm.ids[t]):
                cm.uf.union(int(a), int(b))
        _same(cm, full[0], out)
        return
    if node.op == "concat":
        axes = {cm.axis.get(t) for t in node.inputs}
        if len(axes) != 1 or None in axes:
            _block(graph, cm, node, f"{node.name}: concat of unknown channel layout")
            return
        ax = axes.pop()
        if node.attrs["axis"] % len(out_shape) == ax:
            cm.ids[out], cm.axis[out] = np.concatenate([cm.ids[t] for t in node.inputs]), ax
        else:
            first = cm.ids[node.inputs[0]]
            for t in node.inputs[1:]:
                for a, b in zip(first, cm.ids[t]):
                    cm.uf.union(int(a), int(b))
            _same(cm, node.inputs[0], out)
        return
    if node.op == "pad":
        pads = node.attrs.get("pads", [])
        rank = len(in_shapes[0])
        if ax_in is None or (len(pads) == 2 * rank and (pads[ax_in] or pads[ax_in + rank])):
            _block(graph, cm, node, f"{node.name}: pads the channel axis")
        else:
            _same(cm, x, out)
        return
    if node.op == "softmax":
        if ax_in is None or node.attrs["axis"] % len(in_shapes[0]) == ax_in:
            _block(graph, cm, node, f"{node.name}: softmax across channels")
        else:
            _same(cm, x, out)
        return
    group = node.opdef.group
    keeps_channels = (len(node.inputs) == 1 and len(node.outputs) == 1 and x in cm.ids
                      and len(out_shape) == len(in_shapes[0]) and out_shape[ax_in] == in_shapes[0][ax_in])
    if keeps_channels and (node.op in _PASS_THROUGH_OPS or group in _PASS_THROUGH_GROUPS):
        if node.op in ("batchnorm", "maxpool", "avgpool", "global_avgpool", "resize") and ax_in != 1:
            _block(graph, cm, node, f"{node.name}: channels not on axis 1")
        else:
            _same(cm, x, out)
        return
    _block(graph, cm, node, f"{node.name}: op {node.op} has no channel rule")
