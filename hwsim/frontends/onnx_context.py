"""Shared state of one ONNX read: constants, static shapes, the hwsim nodes being built and their weights.

Converters (``onnx_ops``) emit ``ProtoNode``s, mutable until ``onnx_constants`` has folded constant
operands into them; ``onnx_reader`` then freezes them into ``Node``s and builds the graph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwsim.errors import ModelFormatError
from hwsim.frontends.onnx_fold import MAX_FOLDED_ELEMENTS, OnnxNode
from hwsim.ir.weights import LazyArray

Shape = tuple[int, ...]
#: pending "add / multiply by a constant" nodes, folded away by onnx_constants.resolve_constant_operands
ADD_CONST, MUL_CONST = "<add constant>", "<mul constant>"


@dataclass
class ProtoNode:
    """An hwsim node under construction (mutable until constant operands are folded)."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    params: dict[str, str]
    origin: OnnxNode


@dataclass
class ReadContext:
    source: str
    consts: dict[str, np.ndarray]
    shapes: Mapping[str, Shape]
    graph_inputs: frozenset[str]
    graph_outputs: Sequence[str]
    nodes: list[ProtoNode] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    node_names: set[str] = field(default_factory=set)
    tensor_names: set[str] = field(default_factory=set)
    #: ONNX constant name -> the output tensor of the ``constant`` node that holds it
    constant_nodes: dict[str, str] = field(default_factory=dict)

    # --- errors and inputs ----------------------------------------------------------------------
    def error(self, node: OnnxNode, message: str) -> ModelFormatError:
        return ModelFormatError(message, source=self.source, where=node.label)

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name) if name else None

    def need_const(self, node: OnnxNode, i: int, what: str) -> np.ndarray:
        value = self.const(node.input(i))
        if value is None:
            raise self.error(node, f"{what} (input {i}, {node.input(i) or 'absent'!r}) must be a constant "
                                   "(initializer or foldable subgraph)")
        return value

    def need_values(self, node: OnnxNode, i: int, what: str) -> np.ndarray:
        """A constant the reader uses as values (indices, axes, shapes, bounds), not as a weight: read now.
        Large initializers are kept lazy (``LazyArray``) until a kernel needs them; these are read here."""
        value = self.need_const(node, i, what)
        size = int(np.prod(np.shape(value)))
        if size > MAX_FOLDED_ELEMENTS:  # the bound of any constant the reader computes with
            raise self.error(node, f"{what} (input {i}) has {size:,} elements; hwsim reads at most "
                                   f"{MAX_FOLDED_ELEMENTS:,} there")
        return np.asarray(value)

    def act(self, node: OnnxNode, i: int) -> str:
        t = node.input(i)
        if not t:
            raise self.error(node, f"input {i} is missing")
        if t in self.consts and t not in self.graph_inputs:
            raise self.error(node, f"input {i} ({t!r}) is a constant; hwsim's op takes an activation there")
        return t

    def is_const(self, tensor: str) -> bool:
        return bool(tensor) and tensor in self.consts and tensor not in self.graph_inputs

    def operand(self, node: OnnxNode, i: int) -> str:
        """Input ``i`` as a tensor of the hwsim graph: an activation as is, a constant as the output of a
        ``constant`` node holding it (one per constant, shared by all its consumers)."""
        t = node.input(i)
        if not t:
            raise self.error(node, f"input {i} is missing")
        if not self.is_const(t):
            return t
        return self.constant(node, t)

    def constant(self, node: OnnxNode, name: str, value: np.ndarray | None = None) -> str:
        """The output tensor of a ``constant`` node holding ONNX constant ``name`` (or ``value``, which
        then gets a node of its own)."""
        if value is None and name in self.constant_nodes:
            return self.constant_nodes[name]
        raw = np.asarray(self.consts[name] if value is None else value)
        if raw.dtype.kind not in "fiub":
            raise self.error(node, f"constant {name!r} has dtype {raw.dtype}; hwsim holds numeric constants only")
        arr = np.ascontiguousarray(raw, dtype=np.float32).reshape(raw.shape or (1,))
        if arr.size == 0:
            raise self.error(node, f"constant {name!r} is empty (shape {list(raw.shape)})")
        out = self.tmp(f"{name}/const")
        base = f"const:{name}"
        weight = self.weight(name if value is None else "", f"{base}.value", arr)
        self.emit(node, "constant", [], [out], {"shape": list(arr.shape)}, {"value": weight},
                  name=self._unique(base, self.node_names))
        if value is None:
            self.constant_nodes[name] = out
        return out

    def shape(self, node: OnnxNode, tensor: str) -> Shape:
        if tensor in self.shapes:
            return self.shapes[tensor]
        raise self.error(node, f"the shape of {tensor!r} is unknown after ONNX shape inference")

    def float_array(self, node: OnnxNode, value: np.ndarray, what: str) -> np.ndarray:
        if not np.issubdtype(value.dtype, np.floating):
            raise self.error(node, f"{what} has dtype {value.dtype}; hwsim reads float ONNX models "
                                   "(quantized ONNX is not supported)")
        if isinstance(value, LazyArray):
            return value.astype(np.float32)  # type: ignore[return-value]
        return np.ascontiguousarray(value, dtype=np.float32)

    # --- naming ---------------------------------------------------------------------------------
    def _unique(self, base: str, taken: set[str]) -> str:
        name, i = base, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        return name

    def node_name(self, node: OnnxNode, suffix: str = "") -> str:
        base = (node.name or f"{node.op_type}_{len(self.nodes)}") + suffix
        return self._unique(base, self.node_names)

    def tmp(self, base: str) -> str:
        return self._unique(base, self.tensor_names)

    def weight(self, preferred: str, fallback: str, array: np.ndarray) -> str:
        """Register a weight array; named after its ONNX initializer unless that name is taken."""
        ok = preferred in self.consts and preferred not in self.weights
        name = preferred if ok else self.tmp(fallback)
        self.tensor_names.add(name)
        self.weights[name] = array.astype(np.float32) if isinstance(array, LazyArray) else \
            np.ascontiguousarray(array, dtype=np.float32)
        return name

    # --- emitting -------------------------------------------------------------------------------
    def emit(self, origin: OnnxNode, op: str, inputs: Sequence[str], outputs: Sequence[str],
             attrs: dict[str, Any] | None = None, params: dict[str, str] | None = None,
             name: str | None = None) -> ProtoNode:
        pn = ProtoNode(name or self.node_name(origin), op, list(inputs), list(outputs), dict(attrs or {}),
                       dict(params or {}), origin)
        self.nodes.append(pn)
        return pn
