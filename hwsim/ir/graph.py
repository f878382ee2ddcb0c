"""OpGraph: a validated, shape-inferred operator graph (a typed facade over a private adjacency map).

Build one with ``OpGraph.build``: it checks names (duplicate, dangling), finds cycles, orders nodes
topologically (keeping the author's order where it is valid), normalizes each node's attributes,
infers every tensor's shape and creates the weight tensors each op owns. Graphs are immutable;
passes return new graphs via ``rebuild``, ``with_specs`` and ``with_weights``.
"""

from __future__ import annotations

import graphlib
import heapq
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hwsim.errors import HwsimError, ModelFormatError, ShapeError
from hwsim.ir.dtypes import FP32, dtype
from hwsim.ir.ops import OpDef, op_def
from hwsim.ir.tensor import TensorSpec
from hwsim.ir.weights import WeightStore, WithheldWeights

if TYPE_CHECKING:
    import numpy as np

MAX_ELEMENTS = 2**40  # larger tensors are absurd input, not a model


@dataclass(frozen=True)
class Node:
    """One op application. ``inputs`` are activation tensors; ``params`` maps the op's weight slots to
    tensor names (filled with ``<node>.<slot>`` by ``build`` when not given)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def opdef(self) -> OpDef:
        return op_def(self.op)

    def param_tensor(self, slot: str) -> str | None:
        return self.params.get(slot)


@dataclass(frozen=True)
class Dag:
    """Node-to-node edges (a producer feeds a consumer), each side in first-seen order.

    The standard library's ``graphlib`` finds cycles and hands out ready nodes; networkx is not needed
    for this and costs a quarter of a CLI call's start-up to import."""

    succ: Mapping[str, tuple[str, ...]]
    pred: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, nodes: Sequence[Node], producer: Mapping[str, str], graph_inputs: Mapping[str, TensorSpec]) -> "Dag":
        succ: dict[str, dict[str, None]] = {n.name: {} for n in nodes}
        pred: dict[str, dict[str, None]] = {n.name: {} for n in nodes}
        for node in nodes:
            for t in node.inputs:
                if t in producer:
                    succ[producer[t]][node.name] = None
                    pred[node.name][producer[t]] = None
                elif t not in graph_inputs:
                    raise ModelFormatError(f"input tensor {t!r} is produced by no node and is not a graph input",
                                           where=f"node {node.name!r}")
        return cls({k: tuple(v) for k, v in succ.items()}, {k: tuple(v) for k, v in pred.items()})

    def ordered_topologically(self, order: Mapping[str, int]) -> list[str]:
        """A topological order that keeps the author's ``order`` wherever it is valid (the smallest
        ready node first); a cycle raises ``ModelFormatError`` naming it."""
        sorter = graphlib.TopologicalSorter(self.pred)
        try:
            sorter.prepare()
        except graphlib.CycleError as e:
            raise ModelFormatError("the graph has a cycle: " + " -> ".join(e.args[1]), where="nodes") from None
        ready: list[tuple[int, str]] = []
        topo: list[str] = []
        while sorter.is_active():
            for name in sorter.get_ready():
                heapq.heappush(ready, (order[name], name))
            name = heapq.heappop(ready)[1]
            topo.append(name)
            sorter.done(name)
        return topo


class OpGraph:
    """A shape-inferred operator graph. Use ``build`` to make one; all accessors are read-only."""

    def __init__(self, name: str, inputs: tuple[str, ...], outputs: tuple[str, ...], nodes: tuple[Node, ...],
                 tensors: dict[str, TensorSpec], weights: WeightStore, meta: dict[str, Any],
                 dag: "Dag", source: str | None) -> None:
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self._nodes = nodes
        self._by_name = {n.name: n for n in nodes}
        self._tensors = tensors
        self.weights = weights
        self.meta = meta
        self._dag = dag
        self.source = source
        self._producer = {t: n for n in nodes for t in n.outputs}
        #: weight tensor -> (first node that owns it, its slot): weight lookups are O(1), not a scan
        self._param_owner_of: dict[str, tuple[Node, str]] = {}
        for n in nodes:
            for slot, t in n.params.items():
                self._param_owner_of.setdefault(t, (n, slot))
        self._consumers: dict[str, list[Node]] = {}
        for n in nodes:
            for t in n.inputs:
                self._consumers.setdefault(t, []).append(n)

    # --- construction -----------------------------------------------------------------------------
    @classmethod
    def build(cls, name: str, inputs: Sequence[TensorSpec], nodes: Sequence[Node], outputs: Sequence[str],
              weights: WeightStore | None = None, annotations: Mapping[str, TensorSpec] | None = None,
              meta: Mapping[str, Any] | None = None, source: str | None = None) -> "OpGraph":
        """Validate and shape-infer. Errors name ``source`` (the file) and the node or tensor."""
        try:
            return cls._build(name, inputs, nodes, outputs, weights, annotations or {}, dict(meta or {}), source)
        except HwsimError as e:
            raise e.located(source=source) from None

    @classmethod
    def _build(cls, name: str, inputs: Sequence[TensorSpec], nodes: Sequence[Node], outputs: Sequence[str],
               weights: WeightStore | None, annotations: Mapping[str, TensorSpec], meta: dict[str, Any],
               source: str | None) -> "OpGraph":
        if not nodes:
            raise ModelFormatError("the graph has no nodes", where="nodes")
        if not inputs:
            raise ModelFormatError("the graph has no inputs", where="inputs")
        producer: dict[str, str] = {}
        tensors: dict[str, TensorSpec] = {}
        for spec in inputs:
            if spec.name in tensors:
                raise ModelFormatError(f"duplicate input tensor name {spec.name!r}", where="inputs")
            _check_shape(spec.shape, f"input {spec.name!r}")
            tensors[spec.name] = spec.with_(role="input")
        seen_nodes: dict[str, int] = {}
        for i, node in enumerate(nodes):
            if node.name in seen_nodes:
                raise ModelFormatError(f"duplicate node name {node.name!r}", where=f"nodes[{i}]")
            seen_nodes[node.name] = i
            opdef = _opdef(node)
            lo, hi = opdef.arity
            if len(node.inputs) < lo or (hi is not None and len(node.inputs) > hi):
                want = f"{lo}" if lo == hi else f"{lo}..{hi if hi is not None else 'n'}"
                raise ShapeError(f"op {node.op} takes {want} inputs, got {len(node.inputs)}", where=f"node {node.name!r}")
            if not node.outputs:
                raise ModelFormatError("node has no outputs", where=f"node {node.name!r}")
            for t in node.outputs:
                if t in producer or t in tensors:
                    raise ModelFormatError(f"tensor {t!r} is produced twice (also by "
                                           f"{producer.get(t, 'the graph inputs')!r})", where=f"node {node.name!r}")
                producer[t] = node.name
        dag = Dag.of(nodes, producer, tensors)
        topo = dag.ordered_topologically({n.name: i for i, n in enumerate(nodes)})
        by_name = {n.name: n for n in nodes}
        built: list[Node] = []
        for node_name in topo:
            built.append(_infer_node(by_name[node_name], tensors, annotations))
        for out in outputs:
            if out not in tensors:
                raise ModelFormatError(f"graph output {out!r} is not a tensor of the graph", where="outputs")
        for tname, spec in annotations.items():
            if tname not in tensors:
                raise ModelFormatError(f"annotation for unknown tensor {tname!r}", where=f"tensors.{tname}")
        if not outputs:
            raise ModelFormatError("the graph has no outputs", where="outputs")
        return cls(name, tuple(s.name for s in inputs), tuple(outputs), tuple(built), tensors,
                   weights or WeightStore(), meta, dag, source)

    # --- read access ------------------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[Node, ...]:
        """Nodes in topological order."""
        return self._nodes

    def node(self, name: str) -> Node:
        try:
            return self._by_name[name]
        except KeyError:
            raise ModelFormatError(f"no node named {name!r}", source=self.source) from None

    def has_node(self, name: str) -> bool:
        return name in self._by_name

    def tensor(self, name: str) -> TensorSpec:
        try:
            return self._tensors[name]
        except KeyError:
            raise ModelFormatError(f"no tensor named {name!r}", source=self.source) from None

    @property
    def tensors(self) -> Mapping[str, TensorSpec]:
        return self._tensors

    def producer(self, tensor: str) -> Node | None:
        return self._producer.get(tensor)

    def consumers(self, tensor: str) -> list[Node]:
        return list(self._consumers.get(tensor, ()))

    def successors(self, node: str) -> list[Node]:
        return [self._by_name[s] for s in self._dag.succ[node]]

    def predecessors(self, node: str) -> list[Node]:
        return [self._by_name[p] for p in self._dag.pred[node]]

    def param_specs(self, node: Node) -> dict[str, TensorSpec]:
        return {slot: self._tensors[t] for slot, t in node.params.items()}

    def weight_names(self) -> list[str]:
        return [t for n in self._nodes for t in n.params.values()]

    def weight(self, tensor: str) -> Any:
        """The stored value of a weight tensor: an array, or an encoded payload (see hwsim.formats)."""
        spec = self.tensor(tensor)
        node, slot = self._param_owner(tensor)
        return self.weights.get(tensor, spec.shape, node.opdef.slot(slot).init)

    def dense_weight(self, tensor: str) -> np.ndarray:
        """The weight as a float array, decoding an encoded payload if needed."""
        import numpy as np  # values only: building and counting a graph never imports numpy

        value = self.weight(tensor)
        return value.decode() if hasattr(value, "decode") else np.asarray(value)

    def _param_owner(self, tensor: str) -> tuple[Node, str]:
        try:
            return self._param_owner_of[tensor]
        except KeyError:
            raise ModelFormatError(f"{tensor!r} is not a weight tensor", source=self.source) from None

    def __len__(self) -> int:
        return len(self._nodes)

    def __repr__(self) -> str:
        return f"OpGraph({self.name!r}, {len(self._nodes)} nodes)"

    # --- derivation (passes use these) ------------------------------------------------------------
    def annotations(self) -> dict[str, TensorSpec]:
        """Tensor specs that differ from what inference alone gives (dtype, encoding, size, meta)."""
        return {n: s for n, s in self._tensors.items()
                if s.role != "input" and (s.dtype != FP32 or s.encoding != "dense" or s.density != 1.0
                                          or s.stored_bits is not None or s.meta)}

    def rebuild(self, nodes: Sequence[Node] | None = None, *, inputs: Sequence[TensorSpec] | None = None,
                outputs: Sequence[str] | None = None, annotations: Mapping[str, TensorSpec] | None = None,
                weights: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None,
                name: str | None = None) -> "OpGraph":
        """A new graph with replaced nodes/annotations/weights; shapes re-inferred.

        ``annotations`` default to this graph's annotations for tensors that still exist."""
        nodes = list(self._nodes if nodes is None else nodes)
        new_inputs = list(inputs) if inputs is not None else [self._tensors[i] for i in self.inputs]
        keep = set(self._tensors)
        ann = {k: v for k, v in self.annotations().items() if k in keep}
        if annotations is not None:
            ann.update(annotations)
        produced = {t for n in nodes for t in n.outputs} | {t for n in nodes for t in n.params.values()} \
            | {s.name for s in new_inputs}
        ann = {k: v for k, v in ann.items() if k in produced}
        store = self.weights.with_arrays(weights) if weights else self.weights
        return OpGraph.build(name or self.name, new_inputs, nodes, list(outputs or self.outputs), store, ann,
                             {**self.meta, **(meta or {})}, self.source)

    def with_specs(self, specs: Mapping[str, TensorSpec], weights: Mapping[str, Any] | None = None) -> "OpGraph":
        """Re-annotate tensors (dtype, encoding, density, stored size) without changing shapes."""
        tensors = dict(self._tensors)
        for name, spec in specs.items():
            old = self.tensor(name)
            if tuple(spec.shape) != tuple(old.shape):
                raise ValueError(f"with_specs may not change the shape of {name!r}: {old.shape} -> {spec.shape}")
            tensors[name] = spec
        store = self.weights.with_arrays(weights) if weights else self.weights
        return OpGraph(self.name, self.inputs, self.outputs, self._nodes, tensors, store, dict(self.meta),
                       self._dag, self.source)

    def with_weights(self, weights: Mapping[str, Any]) -> "OpGraph":
        return self.with_specs({}, weights)

    def with_meta(self, **meta: Any) -> "OpGraph":
        return OpGraph(self.name, self.inputs, self.outputs, self._nodes, dict(self._tensors), self.weights,
                       {**self.meta, **meta}, self._dag, self.source)

    def without_weight_values(self) -> "OpGraph":
        """The same graph (nodes, tensor specs, meta) with its weight values dropped: what a caller needs
        to read sizes and encodings after the values have gone (see ``WithheldWeights``)."""
        return OpGraph(self.name, self.inputs, self.outputs, self._nodes, dict(self._tensors),
                       WithheldWeights(self.weights.seed), dict(self.meta), self._dag, self.source)

    def materialize(self) -> "OpGraph":
        """Every weight materialized (generated or loaded); a graph whose weights are all provided."""
        arrays = {t: self.weight(t) for t in self.weight_names()}
        return self.with_weights(arrays)


def _opdef(node: Node) -> OpDef:
    try:
        return op_def(node.op)
    except HwsimError as e:
        raise e.located(where=f"node {node.name!r}") from None


def _check_shape(shape: Sequence[int], what: str) -> None:
    if not shape or any((not isinstance(d, numbers.Integral)) or d < 1 for d in shape):
        raise ShapeError(f"{what} has invalid shape {list(shape)}: dimensions must be positive integers")
    n = 1
    for d in shape:
        n *= int(d)
    if n > MAX_ELEMENTS:
        raise ShapeError(f"{what} has shape {list(shape)}: {n} elements is absurdly large (limit {MAX_ELEMENTS})")


def _infer_node(node: Node, tensors: dict[str, TensorSpec], annotations: Mapping[str, TensorSpec]) -> Node:
    opdef = node.opdef
    in_specs = [tensors[t] for t in node.inputs]
    in_shapes = [s.shape for s in in_specs]
    where = f"node {node.name!r} ({node.op})"
    try:
        attrs = opdef.normalize(dict(node.attrs), in_shapes)
        out_shapes = opdef.infer(attrs, in_shapes)
        param_shapes = opdef.param_shapes(attrs, in_shapes)
    except HwsimError as e:
        raise e.located(where=where) from None
    if len(out_shapes) != len(node.outputs):
        raise ShapeError(f"op {node.op} produces {len(out_shapes)} outputs but the node names {len(node.outputs)}",
                         where=where)
    act_dtype = in_specs[0].dtype if in_specs else FP32
    if opdef.output_dtype is not None:
        act_dtype = dtype(opdef.output_dtype)
    for tname, shape in zip(node.outputs, out_shapes):
        _check_shape(shape, f"output {tname!r} of {where}")
        spec = TensorSpec(tname, tuple(int(d) for d in shape), act_dtype, "activation")
        tensors[tname] = _annotate(spec, annotations.get(tname), where)
    params: dict[str, str] = {}
    unknown = set(node.params) - {s.name for s in opdef.params}
    if unknown:
        raise ModelFormatError(f"unknown parameter slot(s) {sorted(unknown)}; op {node.op} has "
                               f"{[s.name for s in opdef.params] or 'none'}", where=where)
    for slot in opdef.active_slots(attrs):
        tname = node.params.get(slot.name, f"{node.name}.{slot.name}")
        if tname in tensors:
            raise ModelFormatError(f"weight tensor {tname!r} already exists (weights may not be shared)", where=where)
        spec = TensorSpec(tname, tuple(int(d) for d in param_shapes[slot.name]), FP32, "weight")
        tensors[tname] = _annotate(spec, annotations.get(tname), where)
        params[slot.name] = tname
    return Node(node.name, node.op, tuple(node.inputs), tuple(node.outputs), attrs, params)


def _annotate(spec: TensorSpec, ann: TensorSpec | None, where: str) -> TensorSpec:
    if ann is None:
        return spec
    if ann.shape and tuple(ann.shape) != spec.shape:
        raise ShapeError(f"tensor {spec.name!r} is annotated with shape {list(ann.shape)} but inference gives "
                         f"{list(spec.shape)}", where=where)
    return spec.with_(role=spec.role, dtype=ann.dtype, encoding=ann.encoding, density=ann.density, stored_bits=ann.stored_bits,
                      meta=ann.meta)


def iter_weight_nodes(graph: OpGraph) -> Iterable[Node]:
    return (n for n in graph.nodes if n.params)
