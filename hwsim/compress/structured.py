"""Structured matrices for FC layers: ``circulant`` and ``fastfood`` replace ``linear`` ops by the op
kinds of the same names (``hwsim.ir.opdefs.structured``: O(n) parameters, O(n log n) work).

With real weights:

* ``circulant`` projects W onto the matrices the layer can represent, R D with R circulant and D the
  layer's fixed sign diagonal: r_k is the mean of W[i, j] D[j] over the entries with (i - j) mod d = k
  (the least-squares circulant fit over the [out, in] block that is used);
* ``fastfood`` draws B (random signs) and G (Gaussian) from the pass ``seed`` as the Fastfood
  construction does, and fits S by least squares row by row (V's rows are S times the rows of
  H G Pi H B, so each s_i has a closed form). Adaptive Fastfood learns all three diagonals by
  training; without it the layer is a random projection and its reconstruction error is large,
  which the result records.

The reconstruction error ||W - W'|| / ||W|| against the dense equivalent is recorded per layer; the
task accuracy needs (re)training: unknown.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from hwsim.compress._splice import (
    dense, materialized, node_weight_bytes, one_blas_thread, rel_error, splice, unique_name,
)
from hwsim.compress.base import LayerChange, PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.ir.counting import count_node
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.opdefs.structured import (
    circulant_matrix, circulant_signs, fastfood_matrix, fastfood_permutations, fwht, hadamard, next_pow2,
)

_NOTE = ("structured-matrix layers need (re)training for task accuracy: the tool does not train; accuracy unknown",)


class CirculantParams(PassParams):
    seed: int = Field(default=0, ge=0)


class FastfoodParams(PassParams):
    seed: int = Field(default=0, ge=0)


def fit_circulant(w: np.ndarray, d: int, seed: int) -> np.ndarray:
    """Least-squares r of length d with R D ~ W over W's [out, in] block (R circulant, D the sign diagonal)."""
    out_f, in_f = w.shape
    wd = w * circulant_signs(seed, d)[None, :in_f]
    sums = np.zeros(d)
    counts = np.zeros(d)
    cols = np.arange(in_f)
    for i in range(out_f):
        k = (i - cols) % d
        sums += np.bincount(k, weights=wd[i], minlength=d)
        counts += np.bincount(k, minlength=d)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


def fit_fastfood(w: np.ndarray, attrs: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, g, b) [blocks, d]: B random signs, G Gaussian (from ``seed``), S fitted row by row."""
    out_f, in_f = w.shape
    d, k = attrs["size"], -(-out_f // attrs["size"])
    rng = np.random.default_rng([seed, 0xFA57])
    b = np.where(rng.random((k, d)) < 0.5, -1.0, 1.0)
    g = rng.standard_normal((k, d))
    s = np.zeros((k, d))
    h = hadamard(d)
    perms = fastfood_permutations(attrs["seed"], k, d)
    for blk in range(k):
        m = fwht(g[blk][:, None] * (h * b[blk][None, :])[perms[blk]])  # H G Pi H B, [d, d]
        rows = slice(blk * d, min((blk + 1) * d, out_f))
        target = w[rows]
        mm = m[: target.shape[0], :in_f]
        den = (mm * mm).sum(axis=1)
        s[blk, : target.shape[0]] = np.where(den > 0, (mm * target).sum(axis=1) / np.maximum(den, 1e-300), 0.0)
    return s, g, b


def _replace(graph: OpGraph, params: PassParams, kind: str, seed_of: Any) -> PassResult:
    with one_blas_thread():
        return _replace_layers(graph, params, kind, seed_of)


def _replace_layers(graph: OpGraph, params: PassParams, kind: str, seed_of: Any) -> PassResult:
    taken: set[str] = set()
    replacements: dict[str, list[Node]] = {}
    weights: dict[str, Any] = {}
    plans: list[tuple[Node, Node, dict[str, Any]]] = []
    for node in select_layers(graph, params, ("linear",), kind):
        p = layer_params(params, node.name)
        seed = seed_of(p)
        out_f, in_f = graph.tensor(node.params["weight"]).shape
        attrs = {"out_features": out_f, "bias": "bias" in node.params, "seed": seed}
        new_params: dict[str, str] = {}
        if "bias" in node.params:
            new_params["bias"] = node.params["bias"]
        base = unique_name(graph, f"{node.name}.{kind}", taken)
        slots = ("weight",) if kind == "circulant" else ("s", "g", "b")
        new_params.update({slot: f"{base}.{slot}" for slot in slots})
        new = Node(node.name, kind, node.inputs, node.outputs, attrs, new_params)
        d = max(in_f, out_f) if kind == "circulant" else next_pow2(in_f)
        full_attrs = {**attrs, "size": d}
        details: dict[str, Any] = {"size": d, "materialized": materialized(graph, node), "seed": seed}
        if kind == "fastfood":
            details["blocks"] = -(-out_f // d)
        if details["materialized"]:
            w = dense(graph, node)
            if kind == "circulant":
                r = fit_circulant(w, d, seed)
                weights[new_params["weight"]] = r.astype(np.float32)
                approx = circulant_matrix(r, full_attrs, in_f)
            else:
                s, g, b = fit_fastfood(w, full_attrs, seed)
                for slot, arr in (("s", s), ("g", g), ("b", b)):
                    weights[new_params[slot]] = arr.astype(np.float32)
                approx = fastfood_matrix(s, g, b, full_attrs, in_f)
            details["reconstruction_error"] = rel_error(w, approx)
        else:
            details["reconstruction_error"] = None
        replacements[node.name] = [new]
        plans.append((node, new, details))
    if not replacements:
        return PassResult(graph, False, (), (f"{kind}: no linear layer selected",))
    new_graph = splice(graph, replacements, weights=weights)
    changes = []
    for node, new, details in plans:
        before, after = count_node(graph, node), count_node(new_graph, new_graph.node(node.name))
        details.update(params_before=before.params, params_after=after.params, macs_before=before.macs,
                       macs_after=after.macs, arith_after=dict(after.arith))
        changes.append(LayerChange(node.name, "structured", node_weight_bytes(graph, [node]),
                                   node_weight_bytes(new_graph, [new_graph.node(node.name)]), details))
    return PassResult(new_graph, True, tuple(changes), _NOTE)


@register_pass("circulant", CirculantParams, family="structured")
def circulant(graph: OpGraph, params: CirculantParams) -> PassResult:
    """Replace linear layers by circulant projections (Cheng et al. 2015): d parameters, FFT products."""
    return _replace(graph, params, "circulant", lambda p: p.seed)


@register_pass("fastfood", FastfoodParams, family="structured")
def fastfood(graph: OpGraph, params: FastfoodParams) -> PassResult:
    """Replace linear layers by Adaptive Fastfood transforms S H G Pi H B (Yang et al. 2015)."""
    return _replace(graph, params, "fastfood", lambda p: p.seed)
