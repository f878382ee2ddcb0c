"""A retrainable view of an OpGraph: its chain of layers, the trainable parameter of every weight
(through its projection) and one forward/backward step.

Only chains (each node consumes the previous node's output) of conv2d, linear, relu, sign, maxpool
(non-overlapping), global_avgpool, flatten / reshape / identity / dropout are retrainable; a trailing
softmax is dropped (the loss takes logits). Anything else raises ``NotRetrainable`` with the reason,
and the method's accuracy stays as measured without retraining.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from hwsim.analysis.retrain import layers as L
from hwsim.analysis.retrain.projections import Plain, Projection
from hwsim.ir.graph import Node, OpGraph
from hwsim.registry import Registry


class NotRetrainable(Exception):
    """The model holds something the NumPy trainer cannot differentiate (the message says what)."""


LayerBuilder = Callable[[Node, OpGraph], L.Layer]
LAYERS: Registry[str, LayerBuilder] = Registry("retrainable op")


def _first(node: Node, g: OpGraph) -> bool:
    return list(node.inputs) == list(g.inputs)


def _conv(node: Node, g: OpGraph) -> L.Layer:
    a = node.attrs
    return L.Conv2d(tuple(a["stride"]), tuple(a["padding"]), tuple(a["dilation"]), int(a["groups"]),
                    "bias" in node.params, not _first(node, g))


def _maxpool(node: Node, g: OpGraph) -> L.Layer:
    a = node.attrs
    if tuple(a["kernel"]) != tuple(a["stride"]) or any(a["padding"]) or a.get("ceil_mode"):
        raise NotRetrainable(f"maxpool {node.name!r}: only non-overlapping pools without padding are retrainable")
    return L.MaxPool(tuple(a["kernel"]))


def _view(node: Node, g: OpGraph) -> L.Layer:
    return L.Reshape(tuple(g.tensor(node.outputs[0]).shape[1:]))


for _op, _fn in (("conv2d", _conv), ("linear", lambda n, g: L.Linear("bias" in n.params, not _first(n, g))),
                 ("relu", lambda n, g: L.ReLU()), ("sign", lambda n, g: L.Sign()), ("maxpool", _maxpool),
                 ("global_avgpool", lambda n, g: L.GlobalAvgPool()), ("flatten", _view), ("reshape", _view),
                 ("identity", _view), ("dropout", _view)):
    LAYERS.register(_op, _fn)


@dataclass
class Step:
    node: str
    layer: L.Layer
    params: dict[str, str]  # slot -> weight tensor name


class TrainableNet:
    """Layers of ``graph`` in order; ``params[tensor]`` trainable through ``projections[tensor]``."""

    def __init__(self, graph: OpGraph, params: Mapping[str, np.ndarray], projections: Mapping[str, Projection]):
        self.graph = graph
        self.steps: list[Step] = []
        nodes = list(graph.nodes)
        if nodes and nodes[-1].op == "softmax":
            nodes = nodes[:-1]
        prev = graph.inputs[0] if len(graph.inputs) == 1 else None
        if prev is None:
            raise NotRetrainable(f"{graph.name!r} has {len(graph.inputs)} inputs; only single-input chains retrain")
        for node in nodes:
            if node.op not in LAYERS:
                raise NotRetrainable(f"op {node.op!r} (node {node.name!r}) has no NumPy backward pass")
            if list(node.inputs) != [prev] or len(node.outputs) != 1:
                raise NotRetrainable(f"node {node.name!r} is not part of a single chain (branches or skips)")
            self.steps.append(Step(node.name, LAYERS.get(node.op)(node, graph), dict(node.params)))
            prev = node.outputs[0]
        self.params = {k: np.asarray(v, np.float32) for k, v in params.items()}
        self.projections = {k: projections.get(k, Plain()) for k in self.params}

    def effective(self) -> dict[str, np.ndarray]:
        return {k: self.projections[k].effective(p) for k, p in self.params.items()}

    def forward(self, x: np.ndarray, eff: Mapping[str, np.ndarray] | None = None) -> tuple[np.ndarray, list]:
        eff = eff if eff is not None else self.effective()
        caches = []
        for s in self.steps:
            x, cache = s.layer.forward(x, {slot: eff[t] for slot, t in s.params.items()})
            caches.append(cache)
        return x, caches

    def backward(self, dy: np.ndarray, caches: list, eff: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        grads: dict[str, np.ndarray] = {}
        for s, cache in zip(reversed(self.steps), reversed(caches)):
            if dy is None:  # nothing before this layer needs gradients
                break
            dy, g = s.layer.backward(dy, cache, {slot: eff[t] for slot, t in s.params.items()})
            for slot, v in g.items():
                t = s.params[slot]
                grads[t] = self.projections[t].grad(self.params[t], v.astype(np.float32))
        return grads

    def predict(self, x: np.ndarray, batch: int = 500) -> np.ndarray:
        eff = self.effective()
        return np.concatenate([self.forward(x[i:i + batch], eff)[0] for i in range(0, len(x), batch)])

    def final_weights(self) -> dict[str, np.ndarray]:
        return {k: self.projections[k].final(p).astype(np.float32) for k, p in self.params.items()}
