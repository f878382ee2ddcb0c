"""Weight sharing: ``share_kmeans`` (Deep Compression's trained quantization, without the retraining)
and ``share_hash`` (HashedNets).

``share_kmeans`` clusters each layer's weights into 2^b shared values (per-layer codebooks; Deep
Compression uses 8 bits for conv and 5 for fc, the defaults here) with linear centroid initialization
between the layer's min and max (the paper's best choice; ``density`` and ``random`` are also
offered). Pruned layers keep their zeros exact: code 0 is reserved for 0.0 and 2^b - 1 centroids
are fitted to the non-zero weights (a b-bit code must also express the relative-index format's
filler zeros).

k-means here is exact 1-D Lloyd on sorted values: sort each layer once, then every iteration finds
the cluster boundaries (midpoints between centroids) by binary search and the cluster means from
prefix sums, O(k log n) per iteration instead of O(n k). It reaches the same fixed point as
scikit-learn's Lloyd from the same initial centroids (tested), and clusters ResNet-50's 25M weights in
seconds. ``method: sklearn`` runs scikit-learn's ``KMeans`` instead (optionally on a seeded sample
of ``sample`` weights, all weights then assigned to the nearest centroid).

The paper fine-tunes the shared centroids afterwards; the tool does not train, so task accuracy is
reported as unknown.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal

import numpy as np
from pydantic import Field

from hwsim.compress._encoded import (
    sqnr_db,
    FORMULA_NOTE, WEIGHTED_OPS, ValueRepr, carry_meta, change, default_by_op, formula_spec, is_materialized,
    real_spec, split_encodable, structure_of, structure_options,
)
from hwsim.compress.base import PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.errors import CompressionError
from hwsim.formats import encode, encode_codebook, encode_hashed
from hwsim.formats.dense import floor_float32
from hwsim.formats.values import CENTROID_BITS
from hwsim.ir.graph import OpGraph
from hwsim.ir.tensor import TensorSpec

RETRAIN_NOTE = ("Deep Compression fine-tunes the shared centroids; without that retraining task accuracy is "
                "unknown")
DC_BITS = {"conv2d": 8, "linear": 5}  # Deep Compression, Sections 3 and 5.2


class ShareKmeansParams(PassParams):
    bits: int | None = Field(default=None, ge=1, le=16, description="code width; default 8 for conv, 5 for linear")
    init: Literal["linear", "density", "random"] = "linear"
    max_iter: int = Field(default=100, ge=1)
    tol: float = Field(default=1e-7, ge=0.0, description="stop when no centroid moves more than tol x range")
    method: Literal["sorted", "sklearn"] = "sorted"
    sample: int | None = Field(default=None, ge=16, description="method sklearn: fit on this many sampled weights")
    seed: int = 0


def initial_centroids(sorted_x: np.ndarray, k: int, init: str, rng: np.random.Generator) -> np.ndarray:
    lo, hi = float(sorted_x[0]), float(sorted_x[-1])
    if init == "linear":
        return np.linspace(lo, hi, k)
    if init == "density":  # evenly spaced in the CDF
        return sorted_x[np.linspace(0, sorted_x.size - 1, k).round().astype(np.int64)].astype(np.float64)
    return np.sort(rng.choice(sorted_x, size=k, replace=sorted_x.size < k)).astype(np.float64)


def kmeans_1d(values: np.ndarray, k: int, init: str = "linear", max_iter: int = 100, tol: float = 1e-7,
              seed: int = 0) -> tuple[np.ndarray, int]:
    """Exact Lloyd iterations for 1-D data using the sorted order. Returns (centroids, iterations)."""
    x = np.sort(np.asarray(values, np.float32).ravel())
    if x.size == 0:
        return np.zeros(0), 0
    if int(np.count_nonzero(np.diff(x))) + 1 <= k:  # few distinct values: they are the centroids
        return np.unique(x).astype(np.float64), 0
    prefix = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    c = initial_centroids(x, k, init, np.random.default_rng(seed))
    span = float(x[-1] - x[0]) or 1.0
    it = 0
    for it in range(1, max_iter + 1):
        c = np.sort(c)
        mids = (c[:-1] + c[1:]) / 2.0
        cuts = np.concatenate([[0], np.searchsorted(x, floor_float32(mids), side="right"), [x.size]])
        counts = np.diff(cuts)
        sums = prefix[cuts[1:]] - prefix[cuts[:-1]]
        new = np.where(counts > 0, sums / np.maximum(counts, 1), c)
        moved = float(np.max(np.abs(new - c)))
        c = new
        if moved <= tol * span:
            break
    return np.sort(c), it


def kmeans_sklearn(values: np.ndarray, k: int, init: str, max_iter: int, seed: int, sample: int | None
                   ) -> tuple[np.ndarray, int]:
    from sklearn.cluster import KMeans

    x = np.asarray(values, np.float64).ravel()
    rng = np.random.default_rng(seed)
    fit_on = rng.choice(x, size=sample, replace=False) if sample is not None and sample < x.size else x
    uniq = np.unique(fit_on)
    if uniq.size <= k:
        return uniq, 0
    start = initial_centroids(np.sort(fit_on), k, init, rng).reshape(-1, 1)
    km = KMeans(n_clusters=k, init=start, n_init=1, max_iter=max_iter, tol=0.0, algorithm="lloyd",
                random_state=seed).fit(fit_on.reshape(-1, 1))
    return np.sort(km.cluster_centers_.ravel()), int(km.n_iter_)


@register_pass("share_kmeans", ShareKmeansParams, family="share")
def share_kmeans(graph: OpGraph, params: ShareKmeansParams) -> PassResult:
    """Deep Compression weight sharing: per-layer k-means codebooks of 2^b fp32 centroids + b-bit codes."""
    nodes, skipped = split_encodable(graph, select_layers(graph, params, WEIGHTED_OPS, "share_kmeans"),
                                     "share_kmeans")
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    formula = False
    for node in nodes:
        p = layer_params(params, node.name)
        bits = p.bits if p.bits is not None else default_by_op(node.op, DC_BITS["conv2d"], DC_BITS["linear"])
        t = node.params["weight"]
        spec = graph.tensor(t)
        keep = carry_meta(spec)
        structure = spec.meta_dict().get("structure", "dense") if spec.encoding != "dense" else "dense"
        if not is_materialized(graph, [t]):
            formula = True
            rep = ValueRepr("codebook", bits, 2**bits * CENTROID_BITS,
                            {"codebook_size": 2**bits, "codebook_bits": CENTROID_BITS})
            opts = {"index_bits": spec.meta_dict()["index_bits"]} if structure == "relative_index" else {}
            specs[t] = formula_spec(spec, structure, rep, extra_meta=keep, **opts)
            details[node.name] = {"bits": bits, "codebook_size": 2**bits, "materialized": False}
            continue
        value = graph.weight(t)
        structure = structure_of(value)
        if structure not in ("dense", "csr", "csc", "coo", "bitmap", "relative_index"):
            raise CompressionError(f"pass 'share_kmeans': weights stored as {structure!r} cannot be shared",
                                   where=f"layer {node.name!r}")
        w = np.asarray(graph.dense_weight(t), np.float32)
        flat = w.ravel()
        has_zero = bool(np.any(flat == 0))
        fit = flat[flat != 0] if has_zero else flat
        k = 2**bits - (1 if has_zero else 0)
        seed = p.seed + zlib.crc32(node.name.encode()) if p.init == "random" else p.seed
        if k < 1 or fit.size == 0:
            centroids, iters = np.zeros(0), 0
        elif p.method == "sklearn":
            centroids, iters = kmeans_sklearn(fit, k, p.init, p.max_iter, seed, p.sample)
        else:
            centroids, iters = kmeans_1d(fit, k, p.init, p.max_iter, p.tol, seed)
        shared = encode_codebook(w, centroids=centroids.astype(np.float32), bits=bits, zero_code=has_zero)
        new = shared if structure == "dense" else encode(structure, shared, **structure_options(value))
        weights[t] = new
        specs[t] = real_spec(spec, new, keep)
        details[node.name] = {"bits": bits, "codebook_size": int(shared.centroids.size), "iterations": iters,
                              "sqnr_db": sqnr_db(w, shared.values.decode_range), "zero_code": has_zero,
                              "format": new.format, "materialized": True}
    out = graph.with_specs(specs, weights)
    changes = tuple(change(graph, out, n, "shared", **details[n.name]) for n in nodes)
    if not nodes:
        return PassResult(graph, False, (), ("share_kmeans: no conv2d or linear layer to share; graph unchanged",
                                             *skipped))
    notes = [RETRAIN_NOTE, *skipped] + ([FORMULA_NOTE] if formula else [])
    return PassResult(out, bool(nodes), changes, tuple(notes))


class ShareHashParams(PassParams):
    ratio: float = Field(default=0.125, gt=0.0, le=1.0, description="stored shared weights / virtual weights")
    buckets: int | None = Field(default=None, ge=1, description="shared weights per layer (overrides ratio)")
    ops: list[Literal["conv2d", "linear"]] = Field(default_factory=lambda: ["linear"])
    signed: bool = True
    seed: int = 0


@register_pass("share_hash", ShareHashParams, family="share")
def share_hash(graph: OpGraph, params: ShareHashParams) -> PassResult:
    """HashedNets (Chen et al. 2015): each layer's weights become K shared values picked by a seeded hash."""
    nodes, skipped = split_encodable(graph, select_layers(graph, params, tuple(params.ops), "share_hash"),
                                     "share_hash")
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    formula = False
    for node in nodes:
        p = layer_params(params, node.name)
        t = node.params["weight"]
        spec = graph.tensor(t)
        k = p.buckets if p.buckets is not None else max(1, int(round(spec.numel * p.ratio)))
        if k > spec.numel:
            raise CompressionError(f"pass 'share_hash': {k} buckets for a layer of {spec.numel} weights",
                                   where=f"layer {node.name!r}")
        seed = p.seed + zlib.crc32(node.name.encode())
        if is_materialized(graph, [t]):
            w = graph.dense_weight(t).astype(np.float32)
            payload = encode_hashed(w, k, seed, p.signed)
            weights[t] = payload
            specs[t] = real_spec(spec, payload)
            details[node.name] = {"buckets": k, "sqnr_db": sqnr_db(w, payload.decode()), "materialized": True}
        else:
            formula = True
            from hwsim.formats import FORMATS

            bits = FORMATS["hashed"].estimate(spec.shape, 1.0, 32, buckets=k)
            specs[t] = spec.with_(encoding="hashed", density=1.0, stored_bits=bits,
                                  meta={"structure": "hashed", "buckets": k, "value_format": "float",
                                        "value_bits": 32, "signed": p.signed, "estimated": True})
            details[node.name] = {"buckets": k, "materialized": False}
    out = graph.with_specs(specs, weights)
    changes = tuple(change(graph, out, n, "hashed", **details[n.name]) for n in nodes)
    if not nodes:
        return PassResult(graph, False, (), (f"share_hash: no {' or '.join(params.ops)} layer to hash; graph "
                                             "unchanged", *skipped))
    notes = ["HashedNets trains the shared weights; here they are the least-squares fit of the given weights: "
             "task accuracy unknown", *skipped] + ([FORMULA_NOTE] if formula else [])
    return PassResult(out, bool(nodes), changes, tuple(notes))


__all__ = ["ShareKmeansParams", "ShareHashParams", "share_kmeans", "share_hash", "kmeans_1d", "kmeans_sklearn",
           "DC_BITS"]
