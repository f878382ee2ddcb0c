"""``kv_quantize``: the KV cache of a decoder LLM stored as b-bit integers (int8 / int4), one fp16 scale
(and, asymmetric, one b-bit zero point) per token and KV head, as KIVI-style and llama.cpp's q8_0 /
q4_0 cache types store it.

The pass re-annotates the tensors that *are* the cache: the state inputs of a decode step, the caches
``kv_append`` returns, and the new K / V rows written into them (a prefill's caches are those rows).
Weights are untouched. A compressed cache is smaller in memory and in every decode step's traffic;
attention then reads integer K and V (dequantized as they are loaded). Its numerical effect is measured
by ``hwsim.analysis.llm_fidelity`` on a small random-weight decoder (fidelity, not task quality).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hwsim.compress.base import LayerChange, PassParams, PassResult, register_pass
from hwsim.errors import CompressionError
from hwsim.ir.dtypes import int_dtype
from hwsim.ir.graph import OpGraph
from hwsim.ir.tensor import TensorSpec

KV_NOTE = ("KV-cache quantization changes every attention read; its effect here is output fidelity on random "
           "weights (hwsim.analysis.llm_fidelity), not task quality")


class KvQuantizeParams(PassParams):
    bits: Literal[8, 4] = 8
    symmetric: bool = True
    scale_bits: Literal[16, 32] = Field(default=16, description="width of each per-token, per-head scale")


def cache_tensors(graph: OpGraph) -> list[str]:
    """Names of the tensors that hold the KV cache (state inputs, appended caches, new rows)."""
    names = [t for t in graph.inputs if graph.tensor(t).meta_dict().get("state") == "kv_cache"]
    appended = [n for n in graph.nodes if n.op == "kv_append"]
    names += [n.outputs[0] for n in appended]
    names += [n.inputs[1] for n in appended]
    if not appended:  # prefill: the new rows are the cache (graph outputs beside the logits)
        names += [t for t in graph.outputs[1:] if graph.producer(t) is not None]
    return list(dict.fromkeys(names))


def token_axis(graph: OpGraph, t: str) -> int:
    """The axis of a cache tensor along which tokens lie (K is cached [B, H, d, L], V [B, H, L, d])."""
    for n in [graph.producer(t), *graph.consumers(t)]:
        if n is not None and n.op == "kv_append":
            return int(n.attrs["axis"])
    producer = graph.producer(t)
    if producer is not None and producer.op == "transpose" and list(producer.attrs["perm"]) == [0, 1, 3, 2]:
        return 3  # the K cache layout
    return 2


def quantized_cache_spec(spec: TensorSpec, bits: int, symmetric: bool, scale_bits: int, head_dim: int,
                         group_axis: int = 3) -> TensorSpec:
    """The spec of a cache tensor stored as b-bit codes with one scale per group of head_dim values (the
    head vector of one token, along ``group_axis``)."""
    groups = spec.numel // head_dim
    per_group = scale_bits + (0 if symmetric else bits)
    meta = {**spec.meta_dict(), "kv_quant_bits": bits, "group_size": head_dim, "scale_bits": scale_bits,
            "symmetric": symmetric, "group_axis": group_axis}
    return spec.with_(dtype=int_dtype(bits, True), encoding="dense", meta=meta,
                      stored_bits=spec.numel * bits + groups * per_group)


@register_pass("kv_quantize", KvQuantizeParams, family="quantize")
def kv_quantize(graph: OpGraph, params: KvQuantizeParams) -> PassResult:
    """Store the KV cache of an LLM phase graph as int8 / int4 with per-token, per-head fp16 scales."""
    names = cache_tensors(graph)
    if not names:
        return PassResult(graph, False, (), ("no KV cache in this graph (an LLM phase graph from "
                                             "hwsim.frontends.llm_config has one): nothing to quantize",))
    head_dim = int(graph.meta.get("head_dim") or 0)
    if head_dim <= 0:
        raise CompressionError("kv_quantize: the graph does not say its head_dim (meta head_dim)", source=graph.source)
    specs = {}
    changes = []
    for t in names:
        spec = graph.tensor(t)
        new = quantized_cache_spec(spec, params.bits, params.symmetric, params.scale_bits, head_dim,
                                   group_axis=5 - token_axis(graph, t))
        specs[t] = new
        owner = graph.producer(t) or graph.consumers(t)[0]  # the node writing (or first reading) the cache
        changes.append(LayerChange(owner.name, "quantized", spec.size_bytes, new.size_bytes,
                                   {"tensor": t, "bits": params.bits, "group_size": head_dim,
                                    "scale_bits": params.scale_bits}))
    return PassResult(graph.with_specs(specs), True, tuple(changes), (KV_NOTE,))
