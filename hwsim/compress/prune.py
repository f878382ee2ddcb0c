"""Pruning: unstructured magnitude and random pruning, structured filter / channel pruning that really
shrinks tensors, and removal of redundant layers.

* ``prune`` (Han et al. 2015; Deep Compression's first stage): zero the smallest-magnitude weights of
  each conv / linear layer, to an exact per-layer sparsity (``scope: layer``) or with one magnitude
  threshold over all selected layers (``scope: global``); per-layer overrides win over both.
* ``prune_random``: the same, choosing the zeroed weights at random (seeded): the baseline criterion
  against which Mittal et al. (2018) show magnitude is not always better.
* ``prune_filters`` (Li et al., ICLR 2017): remove the filters of smallest L1 norm from each conv and
  their feature maps, with the matching input channels of every consumer; as in the paper, channels
  tied through residual additions are left alone unless ``residual: true``.
* ``prune_channels``: the same surgery with a choice of criterion (own-filter L1 / L2, L1 of the
  consumers' input-channel kernels, random), and residual / concat constraints honoured by default
  (see ``hwsim.compress._channels``).
* ``remove_layers``: drop layers that compute nothing at inference (identity, dropout), fold
  batchnorm into the preceding conv / linear (exact), and remove named shape-preserving layers.

Pruned weights are stored dense with zeros (density annotated) until ``sparse_format`` picks a format.
Task accuracy after pruning needs fine-tuning the tool does not do: every result says so.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal

import numpy as np
from pydantic import Field

from hwsim.compress import _channels
from hwsim.compress._encoded import (
    FORMULA_NOTE, WEIGHTED_OPS, change, formula_spec, is_materialized, overridden_keys, real_spec,
    reencode, split_encodable, stored_as, value_repr,
)
from hwsim.compress.base import LayerChange, PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.errors import CompressionError
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec

FINETUNE_NOTE = "task accuracy after pruning needs fine-tuning the tool does not do: accuracy unknown"


class PruneParams(PassParams):
    sparsity: float = Field(default=0.5, ge=0.0, lt=1.0, description="fraction of weights set to zero")
    conv_sparsity: float | None = Field(default=None, ge=0.0, lt=1.0, description="for conv layers (default: sparsity)")
    linear_sparsity: float | None = Field(default=None, ge=0.0, lt=1.0, description="for linear layers")
    scope: Literal["layer", "global"] = "layer"


class PruneRandomParams(PassParams):
    sparsity: float = Field(default=0.5, ge=0.0, lt=1.0)
    conv_sparsity: float | None = Field(default=None, ge=0.0, lt=1.0)
    linear_sparsity: float | None = Field(default=None, ge=0.0, lt=1.0)
    seed: int = 0


def _sparsity(p: Any, op: str, overridden: set[str] = frozenset()) -> float:
    """The layer's sparsity: an op-kind value (conv_sparsity / linear_sparsity) beats the general one,
    unless a per-layer override set the general one and not the op-kind one."""
    key = "conv_sparsity" if op == "conv2d" else "linear_sparsity"
    specific = getattr(p, key)
    if specific is None or ("sparsity" in overridden and key not in overridden):
        return float(p.sparsity)
    return float(specific)


def _keep_top(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Exactly round(n (1 - sparsity)) largest-magnitude weights kept (ties by position, deterministic)."""
    flat = np.abs(w).ravel()
    keep = int(round(flat.size * (1.0 - sparsity)))
    if keep >= flat.size:
        return np.ones(w.shape, bool)
    if keep <= 0:
        return np.zeros(w.shape, bool)
    flat.partition(flat.size - keep)  # in place: np.partition's copy was a second full-size array
    threshold = flat[flat.size - keep]  # the keep-th largest magnitude
    del flat  # freed before the magnitudes are taken again in flat order
    flat = np.abs(w).ravel()
    mask = flat > threshold
    short = keep - int(np.count_nonzero(mask))
    if short > 0:  # ties at the threshold: the first ones in flat order
        mask[np.flatnonzero(flat == threshold)[:short]] = True
    return mask.reshape(w.shape)


def _keep_random(w: np.ndarray, sparsity: float, seed: int, layer: str) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(layer.encode())])
    keep = int(round(w.size * (1.0 - sparsity)))
    mask = np.zeros(w.size, bool)
    mask[rng.permutation(w.size)[:keep]] = True
    return mask.reshape(w.shape)


def _apply_masks(graph: OpGraph, nodes: list[Node], masks: dict[str, np.ndarray | float], criterion: str,
                 name: str, skipped: list[str]) -> PassResult:
    """Zero the masked weights (or annotate the target density when not materialized)."""
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    notes = [FINETUNE_NOTE, *skipped]
    details: dict[str, dict[str, Any]] = {}
    for node in nodes:
        t = node.params["weight"]
        spec = graph.tensor(t)
        mask = masks[node.name]
        if isinstance(mask, float):  # formula only: the target density
            density = min(spec.density, mask)
            meta = {"pruned_density": density, "pruned_by": criterion}
            if spec.encoding == "dense" and spec.meta_dict().get("value_format") in (None, "float"):
                specs[t] = spec.with_(density=density, meta={**spec.meta_dict(), **meta})
            else:
                specs[t] = formula_spec(spec, spec.meta_dict().get("structure", "dense"), value_repr(spec), density,
                                        extra_meta=meta, **({"index_bits": spec.meta_dict()["index_bits"]}
                                                            if spec.encoding == "relative_index" else {}))
            details[node.name] = {"sparsity": round(1.0 - density, 6), "density": density, "criterion": criterion,
                                  "materialized": False}
            continue
        original = graph.weight(t)
        w = graph.dense_weight(t).astype(np.float32, copy=False)  # read only: no copy of a float32 weight
        pruned = np.where(mask, w, np.float32(0))
        new = reencode(original, pruned, f"pass {name!r}, layer {node.name!r}")
        weights[t] = new
        density = float(np.count_nonzero(pruned)) / pruned.size
        specs[t] = real_spec(spec, new, {"pruned_density": density, "pruned_by": criterion})
        details[node.name] = {"sparsity": round(1.0 - density, 6), "density": round(density, 6),
                              "criterion": criterion, "materialized": True}
    if any(not d["materialized"] for d in details.values()):
        notes.append(FORMULA_NOTE)
    out = graph.with_specs(specs, weights)
    changes = [change(graph, out, n, "pruned", **details[n.name]) for n in nodes]
    return PassResult(out, bool(nodes), tuple(changes), tuple(notes))


@register_pass("prune", PruneParams, family="prune")
def prune(graph: OpGraph, params: PruneParams) -> PassResult:
    """Unstructured magnitude pruning of conv / linear weights, per layer or with a global threshold."""
    nodes, skipped = split_encodable(graph, select_layers(graph, params, WEIGHTED_OPS, "prune"), "prune")
    masks: dict[str, np.ndarray | float] = {}
    global_nodes: list[Node] = []
    for node in nodes:
        p = layer_params(params, node.name)
        s = _sparsity(p, node.op, overridden_keys(params, node.name))
        overridden = p is not params
        if not is_materialized(graph, [node.params["weight"]]):
            masks[node.name] = 1.0 - s
        elif params.scope == "global" and not overridden:
            global_nodes.append(node)
        else:
            masks[node.name] = _keep_top(graph.dense_weight(node.params["weight"]), s)
    if global_nodes:
        s = float(params.sparsity)
        mags = np.concatenate([np.abs(graph.dense_weight(n.params["weight"])).ravel() for n in global_nodes])
        keep = int(round(mags.size * (1.0 - s)))
        threshold = np.inf if keep == 0 else float(np.partition(mags, mags.size - keep)[mags.size - keep])
        for node in global_nodes:
            masks[node.name] = np.abs(graph.dense_weight(node.params["weight"])) >= threshold
    return _apply_masks(graph, nodes, masks, "magnitude", "prune", skipped)


@register_pass("prune_random", PruneRandomParams, family="prune")
def prune_random(graph: OpGraph, params: PruneRandomParams) -> PassResult:
    """Random unstructured pruning (seeded): the baseline criterion of Mittal et al. (2018)."""
    nodes, skipped = split_encodable(graph, select_layers(graph, params, WEIGHTED_OPS, "prune_random"),
                                     "prune_random")
    masks: dict[str, np.ndarray | float] = {}
    for node in nodes:
        p = layer_params(params, node.name)
        s = _sparsity(p, node.op, overridden_keys(params, node.name))
        t = node.params["weight"]
        if not is_materialized(graph, [t]):
            masks[node.name] = 1.0 - s
        else:
            masks[node.name] = _keep_random(graph.dense_weight(t), s, p.seed, node.name)
    return _apply_masks(graph, nodes, masks, "random", "prune_random", skipped)


# --- structured pruning -----------------------------------------------------------------------------

class PruneFiltersParams(PassParams):
    ratio: float = Field(default=0.3, ge=0.0, lt=1.0, description="fraction of each layer's filters removed")
    residual: bool = Field(default=False, description="also prune channels tied through residual additions")


class PruneChannelsParams(PassParams):
    ratio: float = Field(default=0.3, ge=0.0, lt=1.0, description="fraction of each channel group removed")
    criterion: Literal["l1", "l2", "consumer_l1", "random"] = "l1"
    residual: bool = True
    seed: int = 0


def _importance(graph: OpGraph, cm: _channels.ChannelMap, comp_members: dict[int, list[tuple[str, int]]],
                comps: list[int], criterion: str, seed: int, materialized: bool, lead: str) -> np.ndarray:
    """Importance of each component (a channel of a group); the lowest are removed. Without weights the
    later channels rank lowest (structure only); ``random`` is seeded per group (by its lead layer)."""
    if not materialized:
        return -np.arange(len(comps), dtype=np.float64)
    if criterion == "random":
        return np.random.default_rng([seed, zlib.crc32(lead.encode())]).random(len(comps))
    if criterion == "consumer_l1":
        score = np.zeros(len(comps))
        index = {c: i for i, c in enumerate(comps)}
        for node in graph.nodes:
            if node.op not in WEIGHTED_OPS or (node.op == "conv2d" and node.attrs["groups"] != 1):
                continue
            x = node.inputs[0]
            if x not in cm.ids or cm.axis[x] != (1 if node.op == "conv2d" else len(graph.tensor(x).shape) - 1):
                continue
            w = np.abs(graph.dense_weight(node.params["weight"]))
            per_in = w.sum(axis=(0, 2, 3)) if w.ndim == 4 else w.sum(axis=0)
            roots = cm.uf.roots(cm.ids[x])
            for r, v in zip(roots, per_in):
                if int(r) in index:
                    score[index[int(r)]] += float(v)
        return score
    score = np.zeros(len(comps))
    cache: dict[str, np.ndarray] = {}
    for i, c in enumerate(comps):
        for producer, k in comp_members[c]:
            if producer not in cache:
                w = graph.dense_weight(graph.node(producer).params["weight"]).astype(np.float64)
                flat = w.reshape(w.shape[0], -1)
                cache[producer] = np.abs(flat).sum(1) if criterion == "l1" else np.sqrt((flat**2).sum(1))
            score[i] += float(cache[producer][k])
    return score


def _structured(graph: OpGraph, params: Any, name: str, criterion: str, residual: bool, seed: int) -> PassResult:
    selected = {n.name for n in select_layers(graph, params, WEIGHTED_OPS, name)}
    cm = _channels.analyse(graph)
    frozen = cm.frozen_roots()
    members: dict[int, list[tuple[str, int]]] = {}
    for producer, ids in cm.producers.items():
        for k, r in enumerate(cm.uf.roots(ids)):
            members.setdefault(int(r), []).append((producer, k))
    groups: dict[frozenset[str], list[int]] = {}
    for root, mem in members.items():
        if root in frozen:
            continue
        owners = frozenset(p for p, _ in mem)
        if not owners <= selected or (len(owners) > 1 and not residual):
            continue
        groups.setdefault(owners, []).append(root)
    materialized = is_materialized(graph, [t for n in graph.nodes for t in n.params.values()])
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    pruned: set[int] = set()
    group_info: dict[str, dict[str, Any]] = {}
    for owners, comps in groups.items():
        lead = min(owners, key=order.__getitem__)
        ratio = float(layer_params(params, lead).ratio)
        n_prune = min(int(np.floor(ratio * len(comps))), len(comps) - 1)
        if n_prune <= 0:
            continue
        score = _importance(graph, cm, members, sorted(comps), criterion, seed, materialized, lead)
        drop = np.argsort(score, kind="stable")[:n_prune]
        chosen = [sorted(comps)[i] for i in drop]
        pruned.update(chosen)
        for o in owners:
            group_info[o] = {"channels_removed": n_prune, "channel_group": sorted(owners, key=order.__getitem__),
                             "group_channels": len(comps)}
    if not pruned:
        return PassResult(graph, False, (), ("no prunable channels (all frozen by graph inputs/outputs, residual "
                                             "ties or ops without a channel rule, or ratios too small)",))
    keep: dict[str, np.ndarray] = {t: np.fromiter((cm.uf.find(int(i)) not in pruned for i in ids), bool, len(ids))
                                   for t, ids in cm.ids.items()}
    return _shrink(graph, cm, keep, group_info, name, criterion, materialized)


def _rename(tname: str, shape: tuple[int, ...]) -> str:
    return f"{tname.split('@')[0]}@{'x'.join(map(str, shape))}"


def _shrink(graph: OpGraph, cm: _channels.ChannelMap, keep: dict[str, np.ndarray], info: dict[str, dict[str, Any]],
            name: str, criterion: str, materialized: bool) -> PassResult:
    nodes: list[Node] = []
    weights: dict[str, Any] = {}
    changed: list[Node] = []
    details: dict[str, dict[str, Any]] = {}
    for node in graph.nodes:
        x = node.inputs[0] if node.inputs else None
        k_in = keep.get(x) if x is not None else None
        k_out = keep.get(node.outputs[0])
        attrs = dict(node.attrs)
        slices: dict[str, tuple[Any, ...]] = {}
        if node.op == "conv2d" and node.attrs["groups"] == 1 or node.op == "linear":
            out_sl = k_out if node.name in cm.producers and not k_out.all() else slice(None)
            in_sl = k_in if (k_in is not None and not k_in.all() and cm.axis.get(x) ==
                             (1 if node.op == "conv2d" else len(graph.tensor(x).shape) - 1)) else slice(None)
            if isinstance(out_sl, np.ndarray) or isinstance(in_sl, np.ndarray):
                slices = {"weight": (out_sl, in_sl), "bias": (out_sl,)}
                if isinstance(out_sl, np.ndarray):
                    attrs["out_channels" if node.op == "conv2d" else "out_features"] = int(out_sl.sum())
        elif node.op == "conv2d" and k_in is not None and not k_in.all():  # depthwise
            slices = {"weight": (k_in,), "bias": (k_in,)}
            attrs["out_channels"] = attrs["groups"] = int(k_in.sum())
        elif node.op == "batchnorm" and k_in is not None and not k_in.all():
            slices = {s: (k_in,) for s in ("gamma", "beta", "mean", "var")}
        if not slices:
            nodes.append(node)
            continue
        params = dict(node.params)
        for slot, sl in slices.items():
            t = node.params.get(slot)
            if t is None:
                continue
            old = graph.tensor(t).shape
            idx = tuple(sl) + (slice(None),) * (len(old) - len(sl))
            new_shape = tuple(int(np.arange(d)[s].size) for d, s in zip(old, idx))
            new_name = _rename(t, new_shape)
            params[slot] = new_name
            if materialized:
                arr = graph.weight(t)
                if not isinstance(arr, np.ndarray):
                    raise CompressionError(f"pass {name!r}: weight {t!r} is already encoded "
                                           f"({stored_as(graph.tensor(t))}); run structured pruning before "
                                           "quantize / share / sparse_format", where=f"layer {node.name!r}")
                for axis, s in enumerate(idx):
                    if isinstance(s, np.ndarray):
                        arr = np.compress(s, arr, axis=axis)
                weights[new_name] = np.ascontiguousarray(arr)
        nodes.append(Node(node.name, node.op, node.inputs, node.outputs, attrs, params))
        changed.append(node)
        d = dict(info.get(node.name, {}))
        if node.name in cm.producers and k_out is not None:
            d.setdefault("channels_removed", int((~k_out).sum()))
            d["channels_kept"] = int(k_out.sum())
        if k_in is not None and not k_in.all():
            d["inputs_removed"] = int((~k_in).sum())
        d["criterion"] = criterion
        d["materialized"] = materialized
        details[node.name] = d
    reshaped = {t: graph.tensor(t).with_(shape=()) for t, k in keep.items()
                if not k.all() and t in graph.annotations()}
    out = graph.rebuild(nodes, annotations=reshaped, weights=weights)
    notes = [FINETUNE_NOTE]
    if not materialized:
        notes.append("weights not materialized: the channels removed are the last ones of each group (which "
                     "ones a criterion would pick needs the weights); counts and shapes are exact")
    changes = [change(graph, out, n, "channels_pruned", **details[n.name]) for n in changed]
    return PassResult(out, True, tuple(changes), tuple(notes))


@register_pass("prune_filters", PruneFiltersParams, family="prune")
def prune_filters(graph: OpGraph, params: PruneFiltersParams) -> PassResult:
    """Li et al. (2017): remove each layer's smallest-L1 filters and the matching consumer input channels."""
    return _structured(graph, params, "prune_filters", "l1", params.residual, 0)


@register_pass("prune_channels", PruneChannelsParams, family="prune")
def prune_channels(graph: OpGraph, params: PruneChannelsParams) -> PassResult:
    """Channel pruning with residual / concat constraints: tensors really shrink, consumers follow."""
    return _structured(graph, params, "prune_channels", params.criterion, params.residual, params.seed)


# --- layer removal ----------------------------------------------------------------------------------

class RemoveLayersParams(PassParams):
    ops: list[str] = Field(default_factory=lambda: ["identity", "dropout"],
                           description="op kinds that compute nothing at inference")
    fold_batchnorm: bool = True


def _bypass(nodes: list[Node], removed: Node) -> list[Node]:
    src, dst = removed.inputs[0], removed.outputs[0]
    out = []
    for n in nodes:
        if n is removed:
            continue
        if dst in n.inputs:
            n = Node(n.name, n.op, tuple(src if t == dst else t for t in n.inputs), n.outputs, n.attrs, n.params)
        out.append(n)
    return out


@register_pass("remove_layers", RemoveLayersParams, family="prune")
def remove_layers(graph: OpGraph, params: RemoveLayersParams) -> PassResult:
    """Remove redundant layers: no-ops (identity, dropout), batchnorm folded into its conv / linear
    (exact), and layers named in ``layers`` if they keep their input's shape."""
    explicit = params.layers is not None
    candidates = select_layers(graph, params, None, "remove_layers")
    outputs = set(graph.outputs)
    nodes = list(graph.nodes)
    weights: dict[str, Any] = {}
    changes: list[LayerChange] = []
    notes: list[str] = []
    folded_into: dict[str, str] = {}
    replace: dict[str, Node] = {}
    materialized = True
    for node in candidates:
        single = len(node.inputs) == 1 and len(node.outputs) == 1 and node.outputs[0] not in outputs
        same_shape = single and graph.tensor(node.inputs[0]).shape == graph.tensor(node.outputs[0]).shape
        if node.op in params.ops and same_shape:
            nodes = _bypass(nodes, next(n for n in nodes if n.name == node.name))
            changes.append(LayerChange(node.name, "removed", 0, 0, {"reason": f"{node.op} is a no-op at inference"}))
            continue
        if node.op == "batchnorm" and params.fold_batchnorm and single:
            prev = graph.producer(node.inputs[0])
            if prev is not None and prev.op in WEIGHTED_OPS and len(graph.consumers(node.inputs[0])) == 1 \
                    and prev.name not in folded_into.values() and node.inputs[0] not in outputs \
                    and (prev.op == "conv2d" or len(graph.tensor(node.inputs[0]).shape) == 2):
                bn_t = [node.params[s] for s in ("gamma", "beta", "mean", "var")]
                w_t = prev.params["weight"]
                mat = is_materialized(graph, [*bn_t, w_t, *([prev.params["bias"]] if "bias" in prev.params else [])])
                materialized &= mat
                new_prev = replace.get(prev.name, prev)
                attrs = dict(new_prev.attrs)
                attrs["bias"] = True
                new_params = dict(new_prev.params)
                new_params["weight"] = f"{w_t.split('@')[0]}@bnfold"
                new_params["bias"] = f"{prev.name}.bias@bnfold"
                if mat:
                    g, b, m, v = (np.asarray(graph.weight(t), np.float64) for t in bn_t)
                    s = g / np.sqrt(v + node.attrs["eps"])
                    w = np.asarray(graph.dense_weight(w_t), np.float64)
                    bias = np.asarray(graph.weight(prev.params["bias"]), np.float64) if "bias" in prev.params \
                        else np.zeros(w.shape[0])
                    weights[new_params["weight"]] = (w * s.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
                    weights[new_params["bias"]] = ((bias - m) * s + b).astype(np.float32)
                else:
                    new_params["weight"] = w_t  # structure only: the weight is unchanged in shape and size
                replace[prev.name] = Node(prev.name, prev.op, prev.inputs, prev.outputs, attrs, new_params)
                folded_into[node.name] = prev.name
                nodes = _bypass(nodes, next(n for n in nodes if n.name == node.name))
                changes.append(LayerChange(node.name, "folded", sum(graph.tensor(t).size_bytes for t in bn_t), 0,
                                           {"into": prev.name, "materialized": mat}))
                continue
        if explicit and node.name in (params.layers or []):
            if not same_shape:
                raise CompressionError(f"pass 'remove_layers': layer {node.name!r} ({node.op}) cannot be removed: "
                                       "only single-input layers whose output has the input's shape can be")
            nodes = _bypass(nodes, next(n for n in nodes if n.name == node.name))
            changes.append(LayerChange(node.name, "removed", sum(graph.tensor(t).size_bytes
                                                                 for t in node.params.values()), 0,
                                       {"reason": "named in layers"}))
            notes.append(f"removed {node.name!r}: the network's function changes; task accuracy unknown")
    if not changes:
        return PassResult(graph, False, (), ("no redundant layers found",))
    # Keep each folded-into layer's *current* inputs: an earlier bypass may have rewired them (a conv that
    # reads a folded batchnorm's output, as in MobileNetV2's linear bottlenecks).
    nodes = [Node(n.name, n.op, n.inputs, n.outputs, replace[n.name].attrs, replace[n.name].params)
             if n.name in replace else n for n in nodes]
    out = graph.rebuild(nodes, weights=weights)
    if folded_into and not materialized:
        notes.append(FORMULA_NOTE)
    return PassResult(out, True, tuple(changes), tuple(notes))


__all__ = ["PruneParams", "PruneRandomParams", "PruneFiltersParams", "PruneChannelsParams", "RemoveLayersParams",
           "prune", "prune_random", "prune_filters", "prune_channels", "remove_layers"]
