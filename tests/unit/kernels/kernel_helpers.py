"""Small graph builders for kernel tests: one node with given (provided) weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwsim.ir import Node, OpGraph, TensorSpec
from hwsim.kernels.reference import run_reference


def one_node(op: str, in_shapes: list[tuple[int, ...]], attrs: dict[str, Any] | None = None,
             seed: int = 0, weights: dict[str, np.ndarray] | None = None, outputs: int = 1) -> OpGraph:
    """A graph of one node named 'n' whose weights are random normals (or ``weights``), all provided."""
    inputs = [TensorSpec(f"x{i}", s, role="input") for i, s in enumerate(in_shapes)]
    outs = tuple(f"y{i}" for i in range(outputs))
    g = OpGraph.build("t", inputs, [Node("n", op, tuple(s.name for s in inputs), outs, attrs or {})], list(outs))
    rng = np.random.default_rng(seed)
    arrays = {}
    for slot, t in g.node("n").params.items():
        shape = g.tensor(t).shape
        if weights and slot in weights:
            arrays[t] = np.asarray(weights[slot], np.float32)
        elif slot == "var":
            arrays[t] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            arrays[t] = rng.standard_normal(shape).astype(np.float32)
    return g.with_weights(arrays)


def random_inputs(g: OpGraph, seed: int = 1, batch: int | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in g.inputs:
        shape = g.tensor(name).shape
        if batch is not None:
            shape = (batch,) + tuple(shape[1:])
        out[name] = rng.standard_normal(shape).astype(np.float32)
    return out


def reference_outputs(g: OpGraph, inputs: dict[str, np.ndarray], dtype=np.float64) -> list[np.ndarray]:
    node = g.nodes[0]
    params = {s: np.asarray(g.dense_weight(t), dtype) for s, t in node.params.items()}
    return run_reference(node.op, node.attrs, [inputs[i].astype(dtype) for i in node.inputs], params)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.abs(b).max()) or 1.0
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()) / scale
