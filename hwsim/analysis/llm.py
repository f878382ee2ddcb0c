"""Text generation with a decoder-only model on one device: time to first token, tokens/s, energy per
token, memory against the device's RAM.

A generation of T new tokens after an N-token prompt is one prefill forward pass of N tokens (which
yields the first new token: its time is the time to first token) followed by T - 1 decode steps at
context lengths N, N+1, ..., N+T-2, each reading the whole KV cache and all weights.

Whole-generation cost without T full simulations: the analytic engine runs ops one after another, so
a decode step's cycles and energy are sums over its ops. Only the attention core of each layer (cache
append, Q x K^T, mask, softmax, P x V: ``context_dependent_nodes``) depends on the context length. So
the decode step is simulated once at the first context length, and for every other length only the
attention cores are re-costed (one small graph per distinct layer format, with the compressed graph's
annotations); ``decode(L) = decode(L0) - cores(L0) + cores(L)``, exactly (a test checks it against full
simulations). Engines that do not add op costs (``event``, FPGA dataflow pipelines) simulate every
step in full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hwsim.cost.registry import cost_model
from hwsim.cost.structured_sparsity import device_view
from hwsim.cost.work import prepare
from hwsim.errors import UsageError
from hwsim.frontends.llm_config import (
    LLMConfig, attention_core_graph, attention_heads, context_dependent_nodes, decode_graph, prefill_graph,
)
from hwsim.hardware.profile import DeviceProfile
from hwsim.ir.graph import OpGraph
from hwsim.sim import simulate
from hwsim.sim.engines import resolve_device
from hwsim.sim.result import RunResult

#: How a method is applied to a phase graph (None: the graph as built, fp16 / the config's dtype).
Compressor = Callable[[OpGraph], OpGraph]


@dataclass(frozen=True)
class StepCost:
    seconds: float
    energy_j: float
    dram_bytes: int


@dataclass(frozen=True)
class Memory:
    """Bytes in the device's memory while generating at the largest context."""

    weight_bytes: int  # stored once (a tied lm_head / embedding table counted once)
    kv_cache_bytes: int  # K and V of every layer at the context length
    activation_bytes: int  # peak live activations of the larger phase, the cache excluded
    capacity_bytes: int  # the device's largest memory
    kv_tokens: int = 0  # tokens in the cache at its largest

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.kv_cache_bytes + self.activation_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.capacity_bytes


@dataclass(frozen=True)
class GenerationResult:
    model: str
    method: str
    device: str
    engine: str
    prefill_tokens: int
    new_tokens: int
    context: int  # context length of the reported single decode step
    ttft_s: float  # prefill of the prompt (yields the first new token)
    prefill_tokens_per_s: float
    decode_step_s: float  # one decode step at ``context``
    decode_energy_j: float  # energy of that step (per generated token)
    decode_bound: str  # what bounds the step: memory / compute / overhead (by time share)
    decode_memory_bound_share: float  # share of the step's time in memory-bound ops
    generation_s: float  # prefill + every decode step
    generation_energy_j: float
    memory: Memory
    notes: tuple[str, ...] = ()
    per_context: tuple[tuple[int, float], ...] = field(default_factory=tuple)  # (context, step seconds)

    @property
    def decode_tokens_per_s(self) -> float:
        return 1.0 / self.decode_step_s

    @property
    def generation_tokens_per_s(self) -> float:
        """New tokens over the decode time (the first token, from prefill, excluded)."""
        steps = max(self.new_tokens - 1, 0)
        decode_s = self.generation_s - self.ttft_s
        return steps / decode_s if steps and decode_s > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        m = self.memory
        return {
            "model": self.model, "method": self.method, "device": self.device, "engine": self.engine,
            "prefill_tokens": self.prefill_tokens, "new_tokens": self.new_tokens, "context": self.context,
            "ttft_s": self.ttft_s, "prefill_tokens_per_s": self.prefill_tokens_per_s,
            "decode_step_s": self.decode_step_s, "decode_tokens_per_s": self.decode_tokens_per_s,
            "decode_energy_j_per_token": self.decode_energy_j, "decode_bound": self.decode_bound,
            "decode_memory_bound_share": self.decode_memory_bound_share,
            "generation_s": self.generation_s, "generation_tokens_per_s": self.generation_tokens_per_s,
            "generation_energy_j": self.generation_energy_j,
            "memory": {"weight_bytes": m.weight_bytes, "kv_cache_bytes": m.kv_cache_bytes,
                       "activation_bytes": m.activation_bytes, "total_bytes": m.total_bytes,
                       "capacity_bytes": m.capacity_bytes, "fits": m.fits, "kv_tokens": m.kv_tokens},
            "notes": list(self.notes),
        }


def _step(r: RunResult, device: DeviceProfile) -> StepCost:
    return StepCost(r.seconds, r.energy_total_pj * 1e-12, int(r.transfer_bytes.get(device.dram.name, 0)))


def _bound(r: RunResult) -> tuple[str, float]:
    by: dict[str, int] = {}
    for o in r.ops:
        by[o.bound] = by.get(o.bound, 0) + (o.end_cycle - o.start_cycle)
    total = max(sum(by.values()), 1)
    return max(by, key=lambda k: by[k]), by.get("memory", 0) / total


def tied_duplicate_bytes(graph: OpGraph) -> int:
    """Stored bytes of weight tensors that duplicate another (a tied lm_head's copy of the table)."""
    tied = graph.meta.get("tied_weights") or {}
    return sum(graph.tensor(t).size_bytes for t in tied)


def kv_cache_bytes(graph: OpGraph) -> int:
    """Bytes of the KV-cache tensors a phase graph holds after its step (appended caches)."""
    total = 0
    for n in graph.nodes:
        if n.op == "kv_append":
            total += graph.tensor(n.outputs[0]).size_bytes
    if total == 0:  # prefill: the new K and V are the cache
        total = sum(graph.tensor(t).size_bytes for t in graph.outputs[1:])
    return total


def _non_cache_peak(graph: OpGraph) -> int:
    wl = prepare(graph)
    return max(wl.peak_activation_bytes - kv_cache_bytes(graph), 0)


class _CoreCoster:
    """Costs of the context-dependent attention ops at any context length (analytic engines)."""

    def __init__(self, cfg: LLMConfig, decoded: OpGraph, device: DeviceProfile) -> None:
        self.cfg, self.device = cfg, device
        self.model = cost_model(device.kind)
        specs = decoded.tensors
        # layers whose attention cores carry the same heads and formats cost the same: one class per kind
        self.classes: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
        for i in range(cfg.num_layers):
            p = f"layers.{i}.attn."
            ann = {t: s for t, s in specs.items() if t.startswith(p)}
            heads = attention_heads(decoded, i)  # a pruned layer has fewer
            key = (heads, *sorted((t[len(p):], s.dtype.name, s.encoding, s.meta) for t, s in ann.items()))
            if key in self.classes:
                layer, _ = self.classes[key]
                self.classes[key] = (layer, {**self.classes[key][1], "count": self.classes[key][1]["count"] + 1})
            else:
                self.classes[key] = (i, {"ann": ann, "count": 1, "heads": heads})

    def cost(self, context: int) -> StepCost:
        cycles, energy_pj, dram = 0.0, 0.0, 0
        dname = self.device.dram.name
        for layer, info in self.classes.values():
            g = attention_core_graph(self.cfg, 1, context, layer, info["ann"], info["heads"])
            costs = self.model.cost_graph(prepare(g), self.device)
            cycles += info["count"] * sum(c.lower_bound_cycles for c in costs)
            energy_pj += info["count"] * sum(sum(c.energy_pj.values()) for c in costs)
            dram += info["count"] * sum(c.transfer_bytes.get(dname, 0) for c in costs)
        seconds = cycles / self.device.clock_hz
        energy_pj += self.device.static_power_w * seconds * 1e12
        return StepCost(seconds, energy_pj * 1e-12, int(dram))


def _additive(engine: str, device: DeviceProfile) -> bool:
    return engine == "analytic" and device.kind != "fpga"


def generate(cfg: LLMConfig, device: DeviceProfile | str, *, prefill_tokens: int, new_tokens: int,
             context: int | None = None, engine: str = "analytic", method: str = "baseline",
             compress: Compressor | None = None, overrides: dict[str, str] | None = None,
             source: str | None = None) -> GenerationResult:
    """Cost the generation of ``new_tokens`` after a ``prefill_tokens`` prompt; the single-step figures
    are reported at ``context`` (default: the prompt length)."""
    dev = resolve_device(device, overrides)
    if new_tokens < 1:
        raise UsageError(f"--new-tokens must be >= 1, got {new_tokens}")
    ctx = prefill_tokens if context is None else context
    last_ctx = prefill_tokens + new_tokens - 1
    if max(ctx, last_ctx) + 1 > cfg.max_positions:
        raise UsageError(f"context {max(ctx, last_ctx) + 1} exceeds {cfg.name}'s {cfg.max_positions} positions",
                         source=source)
    apply = compress or (lambda g: g)
    pre_graph = apply(prefill_graph(cfg, prefill_tokens, source))
    pre = simulate(pre_graph, dev, engine=engine, method=method, check_fit=False)
    step_graph = apply(decode_graph(cfg, ctx, source))
    step = simulate(step_graph, dev, engine=engine, method=method, check_fit=False)
    bound, mem_share = _bound(step)
    notes: list[str] = []
    steps_ctx = list(range(prefill_tokens, last_ctx))  # contexts of the T - 1 decode steps
    per: dict[int, StepCost] = {ctx: _step(step, dev)}
    if steps_ctx:
        if _additive(engine, dev):
            coster = _CoreCoster(cfg, step_graph, dev)
            core_ref = coster.cost(ctx)
            base = _step(step, dev)
            for L in steps_ctx:
                if L not in per:
                    c = coster.cost(L)
                    per[L] = StepCost(base.seconds - core_ref.seconds + c.seconds,
                                      base.energy_j - core_ref.energy_j + c.energy_j,
                                      base.dram_bytes - core_ref.dram_bytes + c.dram_bytes)
            notes.append("decode steps summed exactly: the step at the reported context simulated in full, the "
                         "attention cores re-costed at every other context length")
        else:
            for L in steps_ctx:
                if L not in per:
                    per[L] = _step(simulate(apply(decode_graph(cfg, L, source)), dev, engine=engine, method=method,
                                            check_fit=False), dev)
            notes.append(f"{engine} engine on {dev.kind}: every decode step simulated in full")
    gen_s = pre.seconds + sum(per[L].seconds for L in steps_ctx)
    gen_j = pre.energy_total_pj * 1e-12 + sum(per[L].energy_j for L in steps_ctx)
    mem_graph = step_graph if ctx >= last_ctx else apply(decode_graph(cfg, last_ctx, source))
    # in memory while running, as this device holds them (N:M-sparse weights expanded where not accelerated)
    weights = device_view(prepare(step_graph), dev).runtime_weight_bytes - tied_duplicate_bytes(step_graph)
    if step_graph.meta.get("tied_weights"):
        notes.append("tied embeddings: the table is stored once (the graph's copy for the lm_head is not counted "
                     "twice in memory)")
    memory = Memory(
        weight_bytes=weights, kv_cache_bytes=kv_cache_bytes(mem_graph),
        activation_bytes=max(_non_cache_peak(pre_graph), _non_cache_peak(step_graph)),
        capacity_bytes=int(max(lv.total_bytes for lv in dev.memory)), kv_tokens=max(ctx, last_ctx) + 1,
    )
    if not memory.fits:
        notes.append("does NOT fit the device's memory: the times assume it did")
    return GenerationResult(
        model=cfg.name, method=method, device=dev.name, engine=engine, prefill_tokens=prefill_tokens,
        new_tokens=new_tokens, context=ctx, ttft_s=pre.seconds, prefill_tokens_per_s=prefill_tokens / pre.seconds,
        decode_step_s=step.seconds, decode_energy_j=step.energy_total_pj * 1e-12, decode_bound=bound,
        decode_memory_bound_share=mem_share, generation_s=gen_s, generation_energy_j=gen_j, memory=memory,
        notes=tuple(notes), per_context=tuple(sorted((L, c.seconds) for L, c in per.items())),
    )


def context_curve(cfg: LLMConfig, device: DeviceProfile | str, contexts: Sequence[int], *,
                  method: str = "baseline", compress: Compressor | None = None) -> list[tuple[int, float]]:
    """(context, decode tokens/s) at each context length (analytic; cores re-costed)."""
    dev = resolve_device(device)
    apply = compress or (lambda g: g)
    base_ctx = min(contexts)
    step_graph = apply(decode_graph(cfg, base_ctx))
    base = _step(simulate(step_graph, dev, method=method, check_fit=False), dev)
    if not _additive("analytic", dev):
        return [(L, 1.0 / simulate(apply(decode_graph(cfg, L)), dev, method=method, check_fit=False).seconds)
                for L in contexts]
    coster = _CoreCoster(cfg, step_graph, dev)
    ref = coster.cost(base_ctx)
    return [(L, 1.0 / (base.seconds - ref.seconds + coster.cost(L).seconds)) for L in contexts]
