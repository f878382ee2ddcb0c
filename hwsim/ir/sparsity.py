"""Sparsity-aware MAC counts: the multiply-accumulates left after weight pruning and activation zeros.

Han, Pool, Tran, Dally, "Learning both Weights and Connections for Efficient Neural Networks" (NIPS
2015, Tables 2-5) count the floating-point operations a layer still needs as its dense count x the
layer's weight density x the density of the activations it reads (the previous layer's fraction of
non-zero activations). A MAC is needed only when both operands are non-zero; the product of the two
densities is exact when the zero positions of weights and activations are independent, and that is
the assumption behind the count (``effective`` MACs here). It is an algorithmic count: what a
zero-skipping engine would have to do. Whether a device really skips zeros is the cost model's business.

Where the densities come from, always said with the number:

* weight density: the weight tensor's ``density`` annotation (``annotated``: a pruning pass measures it
  on the real pruned array, or sets the target density when it runs on formulas; a model file may
  state it), else the zeros ``counted`` in the weights the model file ships (a model pruned and
  retrained elsewhere), else ``dense`` (seeded weights have no zeros);
* activation density: ``measured`` (``with_activation_densities``: fractions of non-zeros counted
  while the executor ran calibration data; the data set and the number of images are recorded),
  ``annotated`` (a ``density`` below 1 on an activation tensor in the model file), ``assumed`` (a
  value the user states, ``assume_activation_density``) or, with nothing said, ``assumed`` 1.0 (dense).
  Views (reshape, flatten, identity, dropout) keep every value, so a view's output has its input's
  density, with the same source.

Products that are not computed element by element in the weight's domain are not reduced: Winograd
and FFT convolutions multiply transformed tiles (a zero pixel or weight is not a zero product there)
and structured (circulant, Fastfood) layers multiply in a transformed domain too; their effective
count is the dense count and ``rule`` says why.

Cost models read ``effective_macs(graph, node)``; ``effective_counts(graph)`` gives the whole graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hwsim.ir.counting import op_counts
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.ops import MAC_GROUPS, OpGroup

DensitySource = Literal["measured", "annotated", "assumed", "counted", "dense"]

#: TensorSpec.meta keys written on activation tensors whose density was measured or assumed.
SOURCE_KEY = "density_source"
DETAIL_KEY = "density_detail"

#: The assumption when nothing is known about an activation tensor.
DEFAULT_ACTIVATION_DENSITY = 1.0

RULE_PRODUCT = "weight density x activation density (Han et al. 2015; zero positions independent)"
_NOT_REDUCED = {
    "winograd": "dense: Winograd multiplies transformed tiles, where zeros are not zero products",
    "fft": "dense: FFT convolution multiplies in the frequency domain, where zeros are not zero products",
    "structured": "dense: a structured layer multiplies in a transformed domain, where zeros are not zero products",
}


@dataclass(frozen=True)
class OperandDensity:
    """The non-zero fraction of one activation operand and where that number comes from."""

    tensor: str
    density: float
    source: DensitySource
    detail: str = ""

    @property
    def label(self) -> str:
        text = f"{self.source} {self.density:.3g}"
        return f"{text} ({self.detail})" if self.detail else text

    def as_dict(self) -> dict[str, Any]:
        return {"tensor": self.tensor, "density": self.density, "source": self.source, "detail": self.detail}


@dataclass(frozen=True)
class EffectiveMacs:
    """One node's dense MACs and the MACs left with its weight and activation zeros skipped."""

    node: str
    op: str
    dense_macs: int
    weight: OperandDensity | None  # None for ops without a weight (matmul of two activations)
    activations: tuple[OperandDensity, ...]
    effective_macs: float
    rule: str

    @property
    def weight_density(self) -> float:
        return self.weight.density if self.weight is not None else 1.0

    @property
    def activation_density(self) -> float:
        """Product of the activation operands' densities (one operand for conv / linear)."""
        out = 1.0
        for a in self.activations:
            out *= a.density
        return out

    @property
    def fraction(self) -> float:
        """Effective / dense (1.0 for an op without MACs)."""
        return self.effective_macs / self.dense_macs if self.dense_macs else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "op": self.op, "dense_macs": self.dense_macs,
                "effective_macs": int(round(self.effective_macs)), "effective_fraction": round(self.fraction, 6),
                "weight_density": self.weight_density,
                "weight": self.weight.as_dict() if self.weight is not None else None,
                "activation_density": round(self.activation_density, 6),
                "activations": [a.as_dict() for a in self.activations], "rule": self.rule}


@dataclass(frozen=True)
class EffectiveTotals:
    """Whole-graph dense and effective MACs, and how the activation densities were obtained."""

    dense_macs: int
    effective_macs: float
    sources: tuple[str, ...]  # how the activation densities used were obtained (distinct source labels)

    @property
    def fraction(self) -> float:
        return self.effective_macs / self.dense_macs if self.dense_macs else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"dense_macs": self.dense_macs, "effective_macs": int(round(self.effective_macs)),
                "effective_fraction": round(self.fraction, 6), "activation_density_sources": list(self.sources)}


def activation_density(graph: OpGraph, tensor: str) -> OperandDensity:
    """The density of an activation tensor, following views back to the tensor they show."""
    spec = graph.tensor(tensor)
    meta = spec.meta_dict()
    if SOURCE_KEY in meta:
        return OperandDensity(tensor, spec.density, meta[SOURCE_KEY], str(meta.get(DETAIL_KEY, "")))
    if spec.density != 1.0:
        return OperandDensity(tensor, spec.density, "annotated", "model file")
    producer = graph.producer(tensor)
    if producer is not None and producer.opdef.group is OpGroup.VIEW and producer.inputs:
        seen = activation_density(graph, producer.inputs[0])
        return OperandDensity(tensor, seen.density, seen.source, seen.detail)
    return OperandDensity(tensor, DEFAULT_ACTIVATION_DENSITY, "assumed", "dense, nothing measured or stated")


def weight_density(graph: OpGraph, node: Node) -> OperandDensity | None:
    """The density of the node's main weight: its annotation (a pass or the model file set it), else
    the non-zeros counted in the weights the model file ships, else dense (seeded weights have no zeros)."""
    name = node.params.get("weight")
    if name is None:
        return None
    spec = graph.tensor(name)
    if spec.density != 1.0 or spec.encoding != "dense":
        return OperandDensity(name, spec.density, "annotated", "compression pass or model file")
    if graph.weights.provided(name):
        import numpy as np  # only shipped weights are counted; a seeded model never imports numpy here

        arr = np.asarray(graph.dense_weight(name))
        return OperandDensity(name, float(np.count_nonzero(arr)) / arr.size if arr.size else 1.0, "counted",
                              "zeros of the shipped weights")
    return OperandDensity(name, 1.0, "dense", "no pruning annotated")


def _not_reduced_reason(node: Node) -> str | None:
    if node.opdef.group is OpGroup.STRUCTURED:
        return _NOT_REDUCED["structured"]
    algorithm = str(node.attrs.get("algorithm", "direct"))
    if algorithm.startswith("winograd"):
        return _NOT_REDUCED["winograd"]
    if algorithm == "fft":
        return _NOT_REDUCED["fft"]
    return None


def effective_macs(graph: OpGraph, node: Node) -> EffectiveMacs:
    """Dense and effective MACs of one node (0 / 0 for ops outside the MAC groups)."""
    dense = op_counts(graph, node).macs if node.opdef.group in MAC_GROUPS else 0
    if node.opdef.group is OpGroup.MATMUL:
        operands = tuple(activation_density(graph, t) for t in node.inputs)
    elif node.inputs:
        operands = (activation_density(graph, node.inputs[0]),)
    else:
        operands = ()
    w = weight_density(graph, node) if dense else None
    reason = _not_reduced_reason(node)
    if reason is not None or dense == 0:
        return EffectiveMacs(node.name, node.op, dense, w, operands, float(dense), reason or "no MACs")
    effective = float(dense) * (w.density if w is not None else 1.0)
    for a in operands:
        effective *= a.density
    return EffectiveMacs(node.name, node.op, dense, w, operands, effective, RULE_PRODUCT)


def effective_counts(graph: OpGraph) -> tuple[EffectiveMacs, ...]:
    """Every node that performs MACs, in topological order."""
    return tuple(e for e in (effective_macs(graph, n) for n in graph.nodes) if e.dense_macs)


def effective_totals(rows: tuple[EffectiveMacs, ...]) -> EffectiveTotals:
    sources = sorted({f"{a.source} ({a.detail})" if a.detail else a.source
                      for r in rows if r.rule == RULE_PRODUCT for a in r.activations})
    return EffectiveTotals(sum(r.dense_macs for r in rows), sum(r.effective_macs for r in rows), tuple(sources))


def with_activation_densities(graph: OpGraph, densities: Mapping[str, float], source: DensitySource,
                              detail: str) -> OpGraph:
    """The graph with the given activation tensors' densities set and their source recorded."""
    specs = {}
    for name, value in densities.items():
        spec = graph.tensor(name)
        if spec.is_weight:
            raise ValueError(f"{name!r} is a weight tensor; activation densities only")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"density of {name!r} must lie in [0, 1], got {value}")
        specs[name] = spec.with_(density=float(value),
                                 meta={**spec.meta_dict(), SOURCE_KEY: source, DETAIL_KEY: detail})
    return graph.with_specs(specs)


def assume_activation_density(graph: OpGraph, value: float, detail: str = "user value") -> OpGraph:
    """Every activation a MAC op reads, except the graph inputs and tensors measured or annotated,
    assumed to have ``value`` density (a stated assumption, labelled as such)."""
    targets: dict[str, float] = {}
    for node in graph.nodes:
        if node.opdef.group not in MAC_GROUPS:
            continue
        for t in (node.inputs if node.opdef.group is OpGroup.MATMUL else node.inputs[:1]):
            producer = graph.producer(t)
            if (t in graph.inputs or (producer is not None and not producer.inputs)  # a constant operand
                    or activation_density(graph, t).source != "assumed"):
                continue
            targets[t] = value
    return with_activation_densities(graph, targets, "assumed", detail)
