"""Structured pruning of decoder LLMs that keeps the residual stream intact: whole attention heads
(``prune_heads``) and MLP channels (``prune_mlp``).

The generic channel pruning (``prune_channels``) ties every channel of a transformer's residual stream
together and freezes the heads behind reshapes, so it cannot remove a head. These passes know the
decoder's layout (the graphs of ``hwsim.frontends.llm_config``: per layer ``layers.<i>.attn.{q,k,v,o}``
and ``layers.<i>.mlp.{gate,up,down}`` or ``{fc1,fc2}``) and remove, per layer:

- **a query head** (``unit: query``): its d rows of W_q (and bias) and its d columns of W_o. With
  grouped-query attention the same number of query heads goes from every KV group (the batched GQA
  product needs equal groups) and the K / V heads stay: the KV cache is unchanged. In a model with one
  query head per KV head (GPT-2, Phi-2) a head is its own KV group: removing it removes its K and V too.
- **a KV group** (``unit: kv``): one K head and one V head (their rows of W_k, W_v) with every query head
  that reads them; the KV cache loses that head at every context length.
- **an MLP channel** (``prune_mlp``): row j of W_gate and W_up (SwiGLU) or of W_fc1 (GELU), and column j
  of W_down / W_fc2.

The hidden size (the residual stream: embeddings, norms, every projection's input) is never changed.

Importance (stated in every record): the L2 norm of all the weights that belong to the unit, i.e. a
query head's rows of W_q and columns of W_o; a KV group's rows of W_k and W_v plus those of its query
heads; an MLP channel's row of W_gate / W_up (W_fc1) and column of W_down (W_fc2). The lowest are
removed, the nearest whole number to ``ratio x count`` per layer (halves up; at least one unit stays). Without materialized
weights (cost-only runs of a large model) the last units are removed: counts and shapes are exact,
which units a criterion would pick needs the weights.

A decode step's KV-cache inputs narrowed by ``unit: kv`` are recorded in the graph meta
(``narrowed_inputs``: input -> axis and kept indices) so verification can feed the pruned graph the
kept heads of the same cache (``narrow_feeds``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from hwsim.compress._encoded import is_materialized
from hwsim.compress.base import LayerChange, PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.errors import CompressionError
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec

FINETUNE_NOTE = ("task accuracy after removing heads or MLP channels needs fine-tuning the tool does not do: "
                 "unknown")
CRITERION = "l2 norm of the unit's weights"
STRUCTURE_NOTE = ("weights not materialized: the last heads / channels of each layer are removed (which ones the "
                  "L2 criterion would pick needs the weights); counts, shapes and the KV cache are exact")

_Q = re.compile(r"(layers\.\d+\.attn)\.q")
_MLP_IN = re.compile(r"(layers\.\d+\.mlp)\.(gate|fc1)")
NARROWED = "narrowed_inputs"
#: activations that act on each channel alone (what may sit between an MLP's two projections)
_POINTWISE = frozenset({"silu", "gelu", "relu", "relu6", "sigmoid", "tanh", "leaky_relu", "hardswish"})


class PruneHeadsParams(PassParams):
    """``layers`` / ``exclude`` / ``overrides`` name a layer's query projection (``layers.3.attn.q``; a
    glob such as ``layers.1*`` works)."""

    ratio: float = Field(default=0.25, ge=0.0, lt=1.0, description="fraction of each layer's units removed")
    unit: Literal["query", "kv"] = Field(default="query", description="query heads (KV cache kept) or whole "
                                                                     "KV groups (the cache shrinks)")


class PruneMlpParams(PassParams):
    """``layers`` / ``exclude`` / ``overrides`` name a layer's first MLP projection (``layers.3.mlp.gate``
    or ``layers.3.mlp.fc1``)."""

    ratio: float = Field(default=0.3, ge=0.0, lt=1.0, description="fraction of each MLP's channels removed")


@dataclass(frozen=True)
class _Attention:
    """One layer's attention nodes and head layout."""

    prefix: str
    q_heads: int
    kv_heads: int
    head_dim: int

    @property
    def group(self) -> int:
        return self.q_heads // self.kv_heads


def _only_consumer(graph: OpGraph, node: Node, op: str | None = None) -> Node | None:
    users = graph.consumers(node.outputs[0])
    return users[0] if len(users) == 1 and (op is None or users[0].op == op) else None


def _attention_layout(graph: OpGraph, p: str) -> bool:
    """Whether the layer has the attention layout of ``hwsim.frontends.llm_config`` (projections into
    per-head reshapes, the merged heads into W_o): only then is removing a head well defined here."""
    names = {s: f"{p}.{s}" for s in ("q", "k", "v", "o", "q_heads", "k_heads", "v_heads", "merge")}
    if not all(graph.has_node(n) for n in names.values()):
        return False
    nodes = {s: graph.node(n) for s, n in names.items()}
    return (all(nodes[s].op == "linear" for s in "qkvo")
            and all(nodes[f"{s}_heads"].op == "reshape" and len(nodes[f"{s}_heads"].attrs["shape"]) == 4
                    and nodes[f"{s}_heads"].inputs[0] == nodes[s].outputs[0]
                    and _only_consumer(graph, nodes[s]) is not None for s in "qkv")
            and nodes["o"].inputs[0] == nodes["merge"].outputs[0])


def _mlp_layout(graph: OpGraph, p: str, kind: str) -> tuple[list[Node], Node] | None:
    """(the projections whose rows are the channels, the one whose columns are) when the MLP is wired as
    ``hwsim.frontends.llm_config`` builds it (channels flow only through elementwise ops), else None."""
    if kind == "gate":
        if not all(graph.has_node(f"{p}.{s}") for s in ("gate", "up", "down")):
            return None
        gate, up, down = (graph.node(f"{p}.{s}") for s in ("gate", "up", "down"))
        act = _only_consumer(graph, gate)
        mul = _only_consumer(graph, act, "mul") if act is not None and act.op in _POINTWISE else None
        ok = (mul is not None and set(mul.inputs) == {act.outputs[0], up.outputs[0]}
              and _only_consumer(graph, up) is mul and _only_consumer(graph, mul) is down and down.op == "linear")
        return ([gate, up], down) if ok else None
    if not all(graph.has_node(f"{p}.{s}") for s in ("fc1", "fc2")):
        return None
    fc1, fc2 = graph.node(f"{p}.fc1"), graph.node(f"{p}.fc2")
    act = _only_consumer(graph, fc1)
    ok = (act is not None and act.op in _POINTWISE and len(act.inputs) == 1
          and _only_consumer(graph, act) is fc2 and fc2.op == "linear")
    return ([fc1], fc2) if ok else None


def _attention(graph: OpGraph, prefix: str) -> _Attention:
    hq = int(graph.node(f"{prefix}.q_heads").attrs["shape"][2])
    hkv = int(graph.node(f"{prefix}.k_heads").attrs["shape"][2])
    d = int(graph.node(f"{prefix}.q_heads").attrs["shape"][3])
    return _Attention(prefix, hq, hkv, d)


def units_removed(ratio: float, count: int) -> int:
    """How many of ``count`` units a ratio removes: the nearest whole number (halves up; heads come in
    small numbers: 25% of 3 query heads per group is 1), at least one unit kept."""
    return max(0, min(int(np.floor(ratio * count + 0.5 + 1e-9)), count - 1))


def _rows(heads: Sequence[int], d: int) -> np.ndarray:
    return np.concatenate([np.arange(h * d, (h + 1) * d) for h in heads]) if len(heads) else np.zeros(0, np.int64)


def _check_dense(graph: OpGraph, nodes: Sequence[Node], pass_name: str) -> None:
    for node in nodes:
        for t in node.params.values():
            spec = graph.tensor(t)
            if spec.encoding != "dense" or spec.stored_bits is not None or not spec.dtype.is_float:
                raise CompressionError(f"pass {pass_name!r}: weight {t!r} is already stored as {spec.encoding} "
                                       f"{spec.dtype.name}; prune heads / channels before quantizing or encoding",
                                       where=f"layer {node.name!r}")


def _sq_rows(graph: OpGraph, node: Node, per: int) -> np.ndarray:
    """Sum of squares of the weight rows, per block of ``per`` rows (one head, or one channel)."""
    w = np.asarray(graph.dense_weight(node.params["weight"]), np.float64)
    return (w**2).sum(axis=1).reshape(-1, per).sum(axis=1)


def _sq_cols(graph: OpGraph, node: Node, per: int) -> np.ndarray:
    w = np.asarray(graph.dense_weight(node.params["weight"]), np.float64)
    return (w**2).sum(axis=0).reshape(-1, per).sum(axis=1)


def _lowest(score: np.ndarray, n_drop: int) -> list[int]:
    """Indices of the ``n_drop`` lowest scores (ties: the later index goes first, like structure-only)."""
    order = np.lexsort((-np.arange(len(score)), score))
    return sorted(int(i) for i in order[:n_drop])


def _slice(graph: OpGraph, node: Node, rows: np.ndarray | None, cols: np.ndarray | None,
           weights: dict[str, Any], materialized: bool) -> None:
    """Narrowed weight (and bias) arrays of ``node`` under their own names (shapes re-inferred)."""
    if not materialized:
        return
    for slot, t in node.params.items():
        arr = np.asarray(graph.weight(t))
        if rows is not None:
            arr = arr[rows]
        if cols is not None and slot == "weight":
            arr = arr[:, cols]
        weights[t] = np.ascontiguousarray(arr)


def _with_shape(node: Node, **attrs: Any) -> Node:
    return Node(node.name, node.op, node.inputs, node.outputs, {**node.attrs, **attrs}, node.params)


def _bytes(graph: OpGraph, names: Sequence[str]) -> int:
    return sum(graph.tensor(t).size_bytes for n in names if graph.has_node(n) for t in graph.node(n).params.values())


def _free_annotations(graph: OpGraph) -> dict[str, TensorSpec]:
    """Every annotation without its shape (shapes are re-inferred after narrowing)."""
    return {t: s.with_(shape=()) for t, s in graph.annotations().items()}


@register_pass("prune_heads", PruneHeadsParams, family="prune")
def prune_heads(graph: OpGraph, params: PruneHeadsParams) -> PassResult:
    """Remove attention heads of a decoder LLM (query heads, or whole KV groups) by the L2 norm of their weights."""
    named = [n for n in select_layers(graph, params, ("linear",), "prune_heads") if _Q.fullmatch(n.name)]
    layers = [n for n in named if _attention_layout(graph, _Q.fullmatch(n.name).group(1))]
    if not layers:
        return PassResult(graph, False, (), ("no decoder attention layer (an LLM graph from "
                                             "hwsim.frontends.llm_config has them): no head pruned",))
    skipped = [n.name for n in named if n not in layers]
    weight_nodes = [graph.node(f"{_Q.fullmatch(n.name).group(1)}.{s}") for n in layers for s in "qkvo"]
    _check_dense(graph, weight_nodes, "prune_heads")
    materialized = is_materialized(graph, [t for n in weight_nodes for t in n.params.values()])
    replaced: dict[str, Node] = {}
    weights: dict[str, Any] = {}
    inputs = {t: graph.tensor(t) for t in graph.inputs}
    narrowed: dict[str, dict[str, Any]] = dict(graph.meta.get(NARROWED) or {})
    changes: list[LayerChange] = []
    notes = [FINETUNE_NOTE]
    if skipped:
        notes.append("kept (not the decoder attention layout of hwsim.frontends.llm_config): " + ", ".join(skipped[:6]))
    for qnode in layers:
        p = _Q.fullmatch(qnode.name).group(1)
        a = _attention(graph, p)
        ratio = float(layer_params(params, qnode.name).ratio)
        unit = params.unit if a.group > 1 else "kv"  # one query head per KV head: the head is its own group
        q, k, v, o = (graph.node(f"{p}.{s}") for s in "qkvo")
        n_drop = units_removed(ratio, a.group if unit == "query" else a.kv_heads)
        if n_drop <= 0:
            continue
        if materialized:
            head_sq = _sq_rows(graph, q, a.head_dim) + _sq_cols(graph, o, a.head_dim)
        else:
            head_sq = -np.arange(a.q_heads, dtype=np.float64)  # the last heads score lowest
        if unit == "query":
            kept_q: list[int] = []
            for kv in range(a.kv_heads):
                members = list(range(kv * a.group, (kv + 1) * a.group))
                drop = {members[i] for i in _lowest(head_sq[members], n_drop)}
                kept_q += [h for h in members if h not in drop]
            kept_kv = list(range(a.kv_heads))
        else:
            if materialized:
                kv_sq = (_sq_rows(graph, k, a.head_dim) + _sq_rows(graph, v, a.head_dim)
                         + head_sq.reshape(a.kv_heads, a.group).sum(axis=1))
            else:
                kv_sq = -np.arange(a.kv_heads, dtype=np.float64)
            drop_kv = set(_lowest(kv_sq, n_drop))
            kept_kv = [h for h in range(a.kv_heads) if h not in drop_kv]
            kept_q = [h for kv in kept_kv for h in range(kv * a.group, (kv + 1) * a.group)]
        hq, hkv, d = len(kept_q), len(kept_kv), a.head_dim
        g = hq // hkv
        q_rows, kv_rows = _rows(kept_q, d), _rows(kept_kv, d)
        _slice(graph, q, q_rows, None, weights, materialized)
        _slice(graph, o, None, q_rows, weights, materialized)
        replaced[q.name] = _with_shape(q, out_features=hq * d)
        for name, shape in ((f"{p}.q_heads", hq), (f"{p}.k_heads", hkv), (f"{p}.v_heads", hkv)):
            node = graph.node(name)
            s = list(node.attrs["shape"])
            s[2] = shape
            replaced[name] = _with_shape(node, shape=s)
        if graph.has_node(f"{p}.q_groups"):
            node = graph.node(f"{p}.q_groups")
            n_tok = int(node.attrs["shape"][2]) // a.group
            replaced[node.name] = _with_shape(node, shape=[1, hkv, g * n_tok, d])
        if graph.has_node(f"{p}.context_heads"):
            node = graph.node(f"{p}.context_heads")
            replaced[node.name] = _with_shape(node, shape=[1, hq, *node.attrs["shape"][2:]])
        merge = graph.node(f"{p}.merge")
        replaced[merge.name] = _with_shape(merge, shape=[*merge.attrs["shape"][:2], hq * d])
        if hkv < a.kv_heads:
            if any("kv_quant_bits" in graph.tensor(t).meta_dict() for t in graph.tensors if t.startswith(f"{p}.")):
                raise CompressionError("pass 'prune_heads': the KV cache is already quantized; prune KV heads before "
                                       "kv_quantize", where=f"layer {q.name!r}")
            _slice(graph, k, kv_rows, None, weights, materialized)
            _slice(graph, v, kv_rows, None, weights, materialized)
            replaced[k.name] = _with_shape(k, out_features=hkv * d)
            replaced[v.name] = _with_shape(v, out_features=hkv * d)
            for cache in (f"{p}.k_cache", f"{p}.v_cache"):
                if cache in inputs:
                    spec = inputs[cache]
                    shape = list(spec.shape)
                    shape[1] = hkv
                    inputs[cache] = spec.with_(shape=tuple(shape))
                    prev = narrowed.get(cache)
                    kept = [prev["keep"][i] for i in kept_kv] if prev else list(kept_kv)
                    narrowed[cache] = {"axis": 1, "keep": kept}
        changes.append(LayerChange(q.name, "heads_pruned", 0, 0, {
            "unit": unit, "ratio": ratio, "query_heads_before": a.q_heads, "query_heads_after": hq,
            "kv_heads_before": a.kv_heads, "kv_heads_after": hkv,
            "query_heads_kept": kept_q, "kv_heads_kept": kept_kv,
            "criterion": CRITERION if materialized else "structure only (last heads)", "materialized": materialized,
        }))
    if not changes:
        return PassResult(graph, False, (), (*notes, "ratio too small to remove a whole head in any layer"))
    nodes = [replaced.get(n.name, n) for n in graph.nodes]
    out = graph.rebuild(nodes, inputs=[inputs[t] for t in graph.inputs], annotations=_free_annotations(graph),
                        weights=weights, meta={NARROWED: narrowed} if narrowed else None)
    changes = [LayerChange(c.layer, c.action, _bytes(graph, _layer_nodes(c.layer)), _bytes(out, _layer_nodes(c.layer)),
                           c.details) for c in changes]
    if any(c.details["unit"] == "kv" and params.unit == "query" for c in changes):
        notes.append("one query head per KV head in this model: each removed head takes its K and V (the KV cache "
                     "shrinks)")
    if not materialized:
        notes.append(STRUCTURE_NOTE)
    return PassResult(out, True, tuple(changes), tuple(notes))


def _layer_nodes(qname: str) -> list[str]:
    p = qname.rsplit(".", 1)[0]
    return [f"{p}.{s}" for s in "qkvo"]


@register_pass("prune_mlp", PruneMlpParams, family="prune")
def prune_mlp(graph: OpGraph, params: PruneMlpParams) -> PassResult:
    """Remove MLP channels of a decoder LLM (SwiGLU gate/up rows + down columns) by the L2 norm of their weights."""
    firsts = [n for n in select_layers(graph, params, ("linear",), "prune_mlp") if _MLP_IN.fullmatch(n.name)]
    blocks = []
    for first in firsts:
        layout = _mlp_layout(graph, *_MLP_IN.fullmatch(first.name).groups())
        if layout is not None:
            blocks.append((first, *layout))
    if not blocks:
        return PassResult(graph, False, (), ("no decoder MLP (an LLM graph from hwsim.frontends.llm_config has "
                                             "them): no channel pruned",))
    all_nodes = [n for _, ins, o in blocks for n in (*ins, o)]
    _check_dense(graph, all_nodes, "prune_mlp")
    materialized = is_materialized(graph, [t for n in all_nodes for t in n.params.values()])
    replaced: dict[str, Node] = {}
    weights: dict[str, Any] = {}
    records: list[tuple[Node, list[Node], Node, dict[str, Any]]] = []
    for first, ins, out_node in blocks:
        width = int(first.attrs["out_features"])
        ratio = float(layer_params(params, first.name).ratio)
        n_drop = units_removed(ratio, width)
        if n_drop <= 0:
            continue
        if materialized:
            score = sum(_sq_rows(graph, n, 1) for n in ins) + _sq_cols(graph, out_node, 1)
        else:
            score = -np.arange(width, dtype=np.float64)
        drop = set(_lowest(score, n_drop))
        kept = np.array([j for j in range(width) if j not in drop], np.int64)
        for n in ins:
            _slice(graph, n, kept, None, weights, materialized)
            replaced[n.name] = _with_shape(n, out_features=len(kept))
        _slice(graph, out_node, None, kept, weights, materialized)
        records.append((first, ins, out_node, {
            "ratio": ratio, "channels_before": width, "channels_after": len(kept),
            "criterion": CRITERION if materialized else "structure only (last channels)",
            "materialized": materialized}))
    if not records:
        return PassResult(graph, False, (), (FINETUNE_NOTE, "ratio too small to remove a channel in any layer"))
    nodes = [replaced.get(n.name, n) for n in graph.nodes]
    out = graph.rebuild(nodes, annotations=_free_annotations(graph), weights=weights)
    changes = [LayerChange(first.name, "channels_pruned", _bytes(graph, [n.name for n in (*ins, o)]),
                           _bytes(out, [n.name for n in (*ins, o)]), details) for first, ins, o, details in records]
    notes = [FINETUNE_NOTE] + ([] if materialized else [STRUCTURE_NOTE])
    return PassResult(out, True, tuple(changes), tuple(notes))


def narrow_feeds(graph: OpGraph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inputs of the unpruned graph as the pruned ``graph`` takes them: each input a pass narrowed
    (the KV cache of removed KV heads) keeps the same entries along its axis (axis 1 of the unbatched
    tensor is axis 1 of the batched feed too: the batch axis is axis 0)."""
    narrowed = graph.meta.get(NARROWED) or {}
    out = dict(feeds)
    for name, how in narrowed.items():
        if name in out:
            out[name] = np.take(out[name], np.asarray(how["keep"], np.int64), axis=int(how["axis"]))
    return out
