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
from hwsim.frontends.onnx_fold import OnnxNode

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

    # --- errors and inputs ----------------------------------------------------------------------
    def error(self, node: OnnxNode, message: str) -> ModelFormatError:
        return ModelFormatError(message, source=self.source, where=f"node {node.name!r} ({node.op_type})")

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name) if name else None

    def need_const(self, node: OnnxNode, i: int, what: str) -> np.ndarray:
        value = self.const(node.input(i))
        if value is None:
            raise self.error(node, f"{what} (input {i}, {node.input(i) or 'absent'!r}) must be a constant "
                                   "(initializer or foldable subgraph)")
        return value

    def act(self, node: OnnxNode, i: int) -> str:
        t = node.input(i)
        if not t:
            raise self.error(node, f"input {i} is missing")
        if t in self.consts and t not in self.graph_inputs:
            raise self.error(node, f"input {i} ({t!r}) is a constant; hwsim's op takes an activation there")
        return t

    def shape(self, node: OnnxNode, tensor: str) -> Shape:
        if tensor in self.shapes:
            return self.shapes[tensor]
        raise self.error(node, f"the shape of {tensor!r} is unknown after ONNX shape inference")

    def float_array(self, node: OnnxNode, value: np.ndarray, what: str) -> np.ndarray:
        if not np.issubdtype(value.dtype, np.floating):
            raise self.error(node, f"{what} has dtype {value.dtype}; hwsim reads float ONNX models "
                                   "(quantized ONNX is not supported)")
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
        self.weights[name] = np.ascontiguousarray(array, dtype=np.float32)
        return name

    # --- emitting -------------------------------------------------------------------------------
    def emit(self, origin: OnnxNode, op: str, inputs: Sequence[str], outputs: Sequence[str],
             attrs: dict[str, Any] | None = None, params: dict[str, str] | None = None,
             name: str | None = None) -> ProtoNode:
        pn = ProtoNode(name or self.node_name(origin), op, list(inputs), list(outputs), dict(attrs or {}),
                       dict(params or {}), origin)
        self.nodes.append(pn)
        return pn
