"""Decoder-only language models from their configuration (``workloads/llm/*.yaml``): the schema and the
graph of each phase.

A config file holds the numbers of a model's public ``config.json`` under hwsim's names (GPT-2,
Llama / Qwen and Phi-2 style models differ only in these fields: norm kind, gated or plain MLP, rotary
or learned positions, partial rotary, biases, parallel attention and MLP, tied embeddings), plus the
published parameter total and its source. ``phase_graph(cfg, tokens, past)`` builds the OpGraph of one
forward pass: ``tokens`` new tokens after ``past`` cached ones. Prefill of N tokens is
``phase_graph(cfg, N, 0)``; one decode step at context length L is ``phase_graph(cfg, 1, L)``, whose
KV cache of L tokens per layer is a graph input (state) that ``kv_append`` extends in place.

Weights and activations carry the config's ``dtype`` (fp16 by default: what llama.cpp's F16, MLC's
q0f16 and TensorRT-LLM's fp16 engines run). The attention scale 1/sqrt(head_dim) is folded into the
query weights. Prefill computes logits for the last token only (as llama.cpp and MLC do when
generating). A tied model's lm_head reuses the embedding table: the graph gives each op its own copy
(graph weights are never shared) and ``tied_weights`` in the graph meta names the duplicate (the
embedding's copy: the table is stored once, in the lm_head's format), which parameter counts and the
memory footprint subtract.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Mapping
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hwsim.errors import ModelFormatError
from hwsim.fileio import read_text
from hwsim.ir.dtypes import DType
from hwsim.ir.dtypes import dtype as parse_dtype
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec

FORMAT = "hwsim-llm"


class GenerationDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefill_tokens: int = Field(default=128, ge=1)
    context: int = Field(default=1024, ge=1, description="context length of the decode step a plain load builds")
    new_tokens: int = Field(default=128, ge=1)


class LLMConfig(BaseModel):
    """One decoder-only model. Field names follow Hugging Face's config.json where one exists."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["hwsim-llm"] = FORMAT
    version: Literal[1] = 1
    name: str
    source: str = Field(description="where the numbers come from (the model's config.json)")
    published_params: int | None = Field(default=None, ge=1)
    published_params_source: str | None = None
    vocab_size: int = Field(ge=1)
    hidden_size: int = Field(ge=1)
    intermediate_size: int = Field(ge=1)
    num_layers: int = Field(ge=1)
    num_heads: int = Field(ge=1)
    num_kv_heads: int | None = Field(default=None, ge=1, description="grouped-query attention; default num_heads")
    head_dim: int | None = Field(default=None, ge=1, description="default hidden_size / num_heads")
    max_positions: int = Field(ge=1)
    norm: Literal["rmsnorm", "layernorm"]
    norm_eps: float = Field(default=1e-5, gt=0)
    mlp: Literal["gated_silu", "gelu"]
    positions: Literal["rope", "learned"]
    rope_theta: float = Field(default=10000.0, gt=0)
    rotary_dim: int | None = Field(default=None, ge=2, description="partial rotary (Phi-2); default head_dim")
    qkv_bias: bool = False
    out_bias: bool = False
    mlp_bias: bool = False
    lm_head_bias: bool = False
    tie_embeddings: bool = False
    parallel_block: bool = Field(default=False, description="attention and MLP read the same norm (Phi-2, GPT-J)")
    dtype: str = "fp16"
    defaults: GenerationDefaults = GenerationDefaults()

    @model_validator(mode="after")
    def _check(self) -> "LLMConfig":
        if self.num_heads % self.kv_heads:
            raise ValueError(f"num_heads {self.num_heads} is not a multiple of num_kv_heads {self.kv_heads}")
        if self.head_dim is None and self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}; "
                             "give head_dim")
        if self.rotary_dim is not None and (self.rotary_dim > self.dim_per_head or self.rotary_dim % 2):
            raise ValueError(f"rotary_dim {self.rotary_dim} must be even and <= head_dim {self.dim_per_head}")
        parse_dtype(self.dtype)
        return self

    @property
    def kv_heads(self) -> int:
        return self.num_kv_heads or self.num_heads

    @property
    def dim_per_head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    @property
    def weight_dtype(self) -> DType:
        return parse_dtype(self.dtype)

    def kv_bytes_per_token(self, bits: int | None = None) -> int:
        """K and V of one token over all layers, at ``bits`` per element (default: the model's dtype)."""
        b = self.weight_dtype.bits if bits is None else bits
        return (2 * self.num_layers * self.kv_heads * self.dim_per_head * b + 7) // 8


def load_llm_config(path: str | Path) -> LLMConfig:
    """Read and validate a config file; errors name the file and the key path."""
    path = Path(path)
    text = read_text(path, ModelFormatError, "LLM config")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ModelFormatError(f"not valid YAML: {e}", source=str(path)) from None
    if not isinstance(doc, dict):
        raise ModelFormatError("an LLM config must be a mapping", source=str(path))
    try:
        return LLMConfig.model_validate(doc)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ModelFormatError(err["msg"], source=str(path), where=where) from None


def is_llm_config(path: Path) -> bool:
    """Whether a YAML file declares ``format: hwsim-llm`` (cheap check of the first lines)."""
    try:
        head = path.read_text(encoding="utf-8")[:2000]
    except OSError:
        return False
    return any(line.strip().replace(" ", "") == f"format:{FORMAT}" for line in head.splitlines())


# --- graph building --------------------------------------------------------------------------------

class _Builder:
    def __init__(self, cfg: LLMConfig, tokens: int, past: int, source: str | None) -> None:
        self.cfg, self.n, self.past, self.source = cfg, tokens, past, source
        self.nodes: list[Node] = []
        self.inputs: list[TensorSpec] = []
        self.ann: dict[str, TensorSpec] = {}
        self.outputs: list[str] = []
        self.dt = cfg.weight_dtype
        self.input_ann: Mapping[str, TensorSpec] = {}
        self.core_heads: tuple[int, int] | None = None  # (query, KV) heads of a pruned layer's core

    def op(self, name: str, op: str, inputs: list[str], **attrs: Any) -> str:
        self.nodes.append(Node(name, op, tuple(inputs), (name,), attrs))
        return name

    def linear(self, name: str, x: str, out: int, bias: bool) -> str:
        self.ann[f"{name}.weight"] = TensorSpec(f"{name}.weight", (), self.dt, "weight")
        if bias:
            self.ann[f"{name}.bias"] = TensorSpec(f"{name}.bias", (), self.dt, "weight")
        return self.op(name, "linear", [x], out_features=out, bias=bias)

    def norm(self, name: str, x: str) -> str:
        c = self.cfg
        slots = ("gamma",) if c.norm == "rmsnorm" else ("gamma", "beta")
        for s in slots:
            self.ann[f"{name}.{s}"] = TensorSpec(f"{name}.{s}", (), self.dt, "weight")
        return self.op(name, c.norm, [x], eps=c.norm_eps)

    def _resized(self, ann: TensorSpec, name: str, shape: tuple[int, ...]) -> TensorSpec:
        """A cache tensor's annotation carried to another length (a quantized cache's scales included)."""
        spec = TensorSpec(name, shape, ann.dtype, ann.role, ann.encoding, meta=ann.meta)
        m = ann.meta_dict()
        if "group_size" in m and "scale_bits" in m:
            groups = spec.numel // int(m["group_size"])
            per = int(m["scale_bits"]) + (0 if m.get("symmetric", True) else ann.dtype.bits)
            spec = spec.with_(stored_bits=spec.numel * ann.dtype.bits + groups * per)
        return spec

    def state(self, name: str, shape: tuple[int, ...]) -> str:
        spec = TensorSpec(name, shape, self.dt, meta=(("state", "kv_cache"),))
        ann = self.input_ann.get(name)
        if ann is not None:  # a compressed cache (int8 / int4 KV) keeps its format at every length
            spec = self._resized(ann, name, shape)
        self.inputs.append(spec)
        return name

    def heads(self, p: str, x: str, h: int, rope: bool) -> str:
        """[1, n, h*d] -> [1, h, n, d], rotated when the model uses rotary positions."""
        c, n, d = self.cfg, self.n, self.cfg.dim_per_head
        t = self.op(f"{p}_t", "transpose", [self.op(f"{p}_heads", "reshape", [x], shape=[1, n, h, d])],
                    perm=[0, 2, 1, 3])
        if rope:
            t = self.op(f"{p}_rope", "rope", [t], rotary_dim=c.rotary_dim or d, base=c.rope_theta, offset=self.past)
        return t

    def attention(self, p: str, x: str) -> str:
        c, n, L = self.cfg, self.n, self.past
        d, hq, hkv = c.dim_per_head, c.num_heads, c.kv_heads
        g = hq // hkv
        rope = c.positions == "rope"
        q = self.heads(f"{p}.q", self.linear(f"{p}.q", x, hq * d, c.qkv_bias), hq, rope)
        qg = self.op(f"{p}.q_groups", "reshape", [q], shape=[1, hkv, g * n, d]) if g > 1 else q
        k = self.heads(f"{p}.k", self.linear(f"{p}.k", x, hkv * d, c.qkv_bias), hkv, rope)
        k = self.op(f"{p}.k_cache_layout", "transpose", [k], perm=[0, 1, 3, 2])  # [1, hkv, d, n]
        v = self.heads(f"{p}.v", self.linear(f"{p}.v", x, hkv * d, c.qkv_bias), hkv, False)
        ctx = self.core(p, qg, k, v)
        if g > 1:
            ctx = self.op(f"{p}.context_heads", "reshape", [ctx], shape=[1, hq, n, d])
        ctx = self.op(f"{p}.merge_t", "transpose", [ctx], perm=[0, 2, 1, 3])
        ctx = self.op(f"{p}.merge", "reshape", [ctx], shape=[1, n, hq * d])
        return self.linear(f"{p}.o", ctx, c.hidden_size, c.out_bias)

    def core(self, p: str, qg: str, k: str, v: str) -> str:
        """The context-dependent part of attention: cache append, scores, mask, softmax, context.
        Everything else in a decode step costs the same at every context length."""
        c, n, L = self.cfg, self.n, self.past
        d, hkv = c.dim_per_head, (self.core_heads or (c.num_heads, c.kv_heads))[1]
        if L:
            k = self.op(f"{p}.k_append", "kv_append", [self.state(f"{p}.k_cache", (1, hkv, d, L)), k], axis=3)
            v = self.op(f"{p}.v_append", "kv_append", [self.state(f"{p}.v_cache", (1, hkv, L, d)), v], axis=2)
            shapes = {k: (1, hkv, d, L + n), v: (1, hkv, L + n, d)}
            for t in (k, v):  # the appended cache is the state itself (a view), read from memory
                ann = self.input_ann.get(t)
                self.ann[t] = (TensorSpec(t, (), self.dt, meta=(("state", "kv_cache"),)) if ann is None
                               else self._resized(ann, t, shapes[t]).with_(shape=()))
        self.outputs += [k, v]
        s = self.op(f"{p}.scores", "matmul", [qg, k])
        if n > 1:
            s = self.op(f"{p}.mask", "causal_mask", [s], queries=n, offset=L)
        a = self.op(f"{p}.softmax", "softmax", [s], axis=-1)
        return self.op(f"{p}.context", "matmul", [a, v])

    def core_only(self, layer: int, annotations: Mapping[str, TensorSpec],
                  heads: tuple[int, int] | None = None) -> OpGraph:
        """One layer's context-dependent ops alone, with the same node names, attributes and (given)
        tensor annotations as in the full graph; their other inputs become graph inputs. ``heads``:
        the layer's (query, KV) heads when a pass pruned them (default: the config's)."""
        c, n, p = self.cfg, self.n, f"layers.{layer}.attn"
        hq, hkv = heads or (c.num_heads, c.kv_heads)
        self.core_heads = (hq, hkv)
        d, g = c.dim_per_head, hq // hkv
        feeds = {f"{p}.q_groups" if c.num_heads > c.kv_heads else f"{p}.q_rope" if c.positions == "rope" else f"{p}.q_t": (1, hkv, g * n, d),
                 f"{p}.k_cache_layout": (1, hkv, d, n), f"{p}.v_t": (1, hkv, n, d)}
        self.input_ann = annotations
        for name, shape in feeds.items():
            ann = annotations.get(name)
            spec = TensorSpec(name, shape, self.dt)
            self.inputs.append(spec if ann is None else spec.with_(dtype=ann.dtype, encoding=ann.encoding, meta=ann.meta))
        ctx = self.core(p, *feeds)
        made = {t for node in self.nodes for t in node.outputs} - set(self.ann)  # appended caches: resized above
        ann = {t: s.with_(shape=()) for t, s in annotations.items() if t in made}
        return OpGraph.build(f"{c.name}-attention-core-L{self.past}", self.inputs, self.nodes, [ctx, *self.outputs],
                             annotations={**self.ann, **ann})

    def mlp(self, p: str, x: str) -> str:
        c = self.cfg
        if c.mlp == "gated_silu":
            gate = self.op(f"{p}.act", "silu", [self.linear(f"{p}.gate", x, c.intermediate_size, c.mlp_bias)])
            up = self.linear(f"{p}.up", x, c.intermediate_size, c.mlp_bias)
            return self.linear(f"{p}.down", self.op(f"{p}.gated", "mul", [gate, up]), c.hidden_size, c.mlp_bias)
        h = self.op(f"{p}.act", "gelu", [self.linear(f"{p}.fc1", x, c.intermediate_size, c.mlp_bias)])
        return self.linear(f"{p}.fc2", h, c.hidden_size, c.mlp_bias)

    def build(self) -> OpGraph:
        c, n = self.cfg, self.n
        self.inputs.append(TensorSpec("ids", (1, n), parse_dtype("int32")))
        self.ann["embed.weight"] = TensorSpec("embed.weight", (), self.dt, "weight")
        self.ann["embed"] = TensorSpec("embed", (), self.dt)
        x = self.op("embed", "embedding", ["ids"], num_embeddings=c.vocab_size, embedding_dim=c.hidden_size)
        if c.positions == "learned":
            self.inputs.append(TensorSpec("positions", (1, n), parse_dtype("int32")))
            self.ann["pos_embed.weight"] = TensorSpec("pos_embed.weight", (), self.dt, "weight")
            self.ann["pos_embed"] = TensorSpec("pos_embed", (), self.dt)
            pos = self.op("pos_embed", "embedding", ["positions"], num_embeddings=c.max_positions,
                          embedding_dim=c.hidden_size)
            x = self.op("embed_sum", "add", [x, pos])
        for i in range(c.num_layers):
            p = f"layers.{i}"
            h = self.norm(f"{p}.norm1", x)
            a = self.attention(f"{p}.attn", h)
            if c.parallel_block:
                x = self.op(f"{p}.residual", "add", [x, a, self.mlp(f"{p}.mlp", h)])
            else:
                x = self.op(f"{p}.residual1", "add", [x, a])
                x = self.op(f"{p}.residual2", "add", [x, self.mlp(f"{p}.mlp", self.norm(f"{p}.norm2", x))])
        x = self.norm("norm_f", x)
        if n > 1:  # generation needs the logits of the last token only
            self.nodes.append(Node("last_token", "split", (x,), ("prompt_rest", "last_token"),
                                   {"axis": 1, "sizes": [n - 1, 1]}))
            x = "last_token"
        logits = self.linear("lm_head", x, c.vocab_size, c.lm_head_bias)
        meta: dict[str, Any] = {
            "generator": "hwsim.frontends.llm_config", "llm": c.name, "phase": "prefill" if self.past == 0 else "decode",
            "tokens": n, "past_tokens": self.past, "source": c.source, "head_dim": c.dim_per_head,
        }
        if c.tie_embeddings:
            meta["tied_weights"] = {"embed.weight": "lm_head.weight"}  # duplicate -> the one stored
        return OpGraph.build(f"{c.name}-{meta['phase']}-n{n}-L{self.past}", self.inputs, self.nodes,
                             [logits, *self.outputs], annotations=self.ann, meta=meta, source=self.source)


def phase_graph(cfg: LLMConfig, tokens: int, past: int, source: str | None = None) -> OpGraph:
    """The graph of one forward pass: ``tokens`` new tokens after ``past`` cached ones (batch 1)."""
    if tokens < 1 or past < 0:
        raise ModelFormatError(f"a forward pass needs >= 1 new token and >= 0 past tokens, got {tokens} and {past}",
                               source=cfg.name)
    if tokens + past > cfg.max_positions:
        raise ModelFormatError(f"{tokens + past} tokens exceed the model's {cfg.max_positions} positions",
                               source=cfg.name, where="max_positions")
    return _Builder(cfg, tokens, past, source).build()


def prefill_graph(cfg: LLMConfig, tokens: int, source: str | None = None) -> OpGraph:
    return phase_graph(cfg, tokens, 0, source)


def decode_graph(cfg: LLMConfig, context: int, source: str | None = None) -> OpGraph:
    """One decode step with ``context`` tokens already in the KV cache."""
    return phase_graph(cfg, 1, context, source)


def attention_core_graph(cfg: LLMConfig, tokens: int, past: int, layer: int,
                         annotations: Mapping[str, TensorSpec], heads: tuple[int, int] | None = None) -> OpGraph:
    """Layer ``layer``'s context-dependent attention ops of ``phase_graph(cfg, tokens, past)``, alone
    (costing them at many context lengths is how a whole generation is summed cheaply). ``heads``:
    the layer's (query, KV) heads in a graph whose heads were pruned (``attention_heads``)."""
    return _Builder(cfg, tokens, past, None).core_only(layer, annotations, heads)


def attention_heads(graph: OpGraph, layer: int) -> tuple[int, int]:
    """(query heads, KV heads) of layer ``layer`` of a phase graph, as built or after head pruning."""
    p = f"layers.{layer}.attn"
    return int(graph.node(f"{p}.q_heads").attrs["shape"][2]), int(graph.node(f"{p}.k_heads").attrs["shape"][2])


def context_dependent_nodes(graph: OpGraph) -> frozenset[str]:
    """Nodes of a phase graph whose cost changes with the context length."""
    tails = (".k_append", ".v_append", ".scores", ".mask", ".softmax", ".context")
    return frozenset(n.name for n in graph.nodes if n.name.startswith("layers.") and n.name.endswith(tails))


def load_llm(path: Path) -> OpGraph:
    """FRONTENDS entry for LLM configs: the decode step at the config's default context length."""
    cfg = load_llm_config(path)
    return decode_graph(cfg, cfg.defaults.context, str(path))
