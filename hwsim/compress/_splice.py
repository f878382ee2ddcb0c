"""Graph surgery shared by the structural passes (low-rank, compact, structured, early-exit, binary):
replace a node by a chain of nodes, insert nodes, rewire tensors, and account bytes.

Everything returns new graphs (``OpGraph.rebuild``); nothing here mutates its input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from hwsim.errors import CompressionError
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec


def materialized(graph: OpGraph, node: Node) -> bool:
    """True if every weight of ``node`` has a real value (given by a file or a previous pass).

    Passes decompose or encode real arrays only then; on cost-only graphs they rewrite structure and
    annotate sizes by formula, leaving what needs the values (errors, scales) unknown (None)."""
    return bool(node.params) and all(graph.weights.provided(t) for t in node.params.values())


def dense(graph: OpGraph, node: Node, slot: str = "weight") -> np.ndarray:
    return np.asarray(graph.dense_weight(node.params[slot]), dtype=np.float64)


def node_weight_bytes(graph: OpGraph, nodes: Iterable[Node]) -> int:
    return sum(graph.tensor(t).size_bytes for n in nodes for t in n.params.values())


def splice(graph: OpGraph, replacements: Mapping[str, Sequence[Node]], *,
           weights: Mapping[str, Any] | None = None, annotations: Mapping[str, TensorSpec] | None = None,
           meta: Mapping[str, Any] | None = None, insert_after: Mapping[str, Sequence[Node]] | None = None,
           rename: Mapping[str, str] | None = None, drop: Iterable[str] = (),
           outputs: Sequence[str] | None = None) -> OpGraph:
    """A new graph where each node named in ``replacements`` is replaced by its node list, nodes of
    ``insert_after`` follow the named node, nodes in ``drop`` disappear, and every input tensor name
    found in ``rename`` is redirected. Shapes are re-inferred by ``rebuild``."""
    rename = dict(rename or {})
    dropped = set(drop)
    nodes: list[Node] = []
    for node in graph.nodes:
        if node.name in dropped:
            continue
        group = list(replacements.get(node.name, [node]))
        group += list((insert_after or {}).get(node.name, ()))
        for n in group:
            if rename and any(t in rename for t in n.inputs):
                n = Node(n.name, n.op, tuple(rename.get(t, t) for t in n.inputs), n.outputs, n.attrs, n.params)
            nodes.append(n)
    outs = [rename.get(t, t) for t in (outputs if outputs is not None else graph.outputs)]
    return graph.rebuild(nodes, annotations=annotations, weights=weights, meta=meta, outputs=outs)


def unique_name(graph: OpGraph, base: str, taken: set[str] | None = None) -> str:
    """``base`` or ``base_2``, ``base_3``... so that no node or tensor of the graph has that name and
    no stored weight array (left by an earlier pass) sits under ``<name>.weight`` or ``<name>.bias``."""
    taken = taken if taken is not None else set()
    name, i = base, 1
    while (graph.has_node(name) or name in graph.tensors or name in taken
           or any(graph.weights.provided(f"{name}.{slot}") for slot in ("weight", "bias"))):
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


def check_ratio(value: float, what: str, layer: str, pass_name: str) -> None:
    if not 0.0 < value <= 1.0:
        raise CompressionError(f"pass {pass_name!r}: {what} must be in (0, 1], got {value}", where=f"layer {layer!r}")


def rel_error(original: np.ndarray, approx: np.ndarray) -> float:
    """Relative Frobenius reconstruction error ||W - W'|| / ||W|| (0 for an all-zero W reproduced)."""
    a, b = np.asarray(original).reshape(-1), np.asarray(approx).reshape(-1)
    num2 = den2 = 0.0
    for start in range(0, a.size, _CHUNK):  # float64 a chunk at a time: no float64 copies of a whole layer
        x = a[start:start + _CHUNK].astype(np.float64)
        d = x - b[start:start + _CHUNK]
        num2 += float(np.dot(d, d))
        den2 += float(np.dot(x, x))
    num, den = num2 ** 0.5, den2 ** 0.5
    return num / den if den > 0 else (0.0 if num == 0 else float("inf"))


def squared_norm(a: np.ndarray) -> float:
    """||a||_F^2 summed in float64 a chunk at a time."""
    flat = np.asarray(a).reshape(-1)
    total = 0.0
    for start in range(0, flat.size, _CHUNK):
        x = flat[start:start + _CHUNK].astype(np.float64)
        total += float(np.dot(x, x))
    return total


def factored_rel_error(original: np.ndarray, left: np.ndarray, right: np.ndarray) -> float:
    """``rel_error(original, left @ right)`` with the product formed in float64 a block of rows at a time
    (the whole float64 product was twice the layer's float32 size)."""
    a = np.asarray(original).reshape(left.shape[0], right.shape[1])
    rows = max(1, _CHUNK // max(right.shape[1], 1))
    num2 = den2 = 0.0
    for start in range(0, a.shape[0], rows):
        x = a[start:start + rows].astype(np.float64)
        d = x - left[start:start + rows].astype(np.float64) @ right
        num2 += float(np.vdot(d, d))
        den2 += float(np.vdot(x, x))
    num, den = num2 ** 0.5, den2 ** 0.5
    return num / den if den > 0 else (0.0 if num == 0 else float("inf"))


_CHUNK = 1 << 20


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the enclosed decompositions with one BLAS thread.

    The matrices of per-layer decompositions (kernel unfoldings, Gram matrices of a few hundred
    rows) gain little from threads, but OpenBLAS's spinning threads lose 10x or more as soon as the
    cores are shared (measured: ResNet-50 cp-lowrank 11 s with one thread, 180 s with the default
    two on a loaded 2-core machine). Without threadpoolctl (a scikit-learn dependency) it does
    nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield
