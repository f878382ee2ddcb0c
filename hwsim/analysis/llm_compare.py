"""The LLM report's figures: every (method, device) generation, decode tokens/s against the context
length, and the memory each method needs against each device's RAM.

A (method, device) pair that cannot be evaluated (a method that does not apply, a format the device
cannot hold) becomes a row with its reason, never a guessed number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hwsim.analysis.llm import GenerationResult, context_curve, generate
from hwsim.compress.method import Method, apply_method
from hwsim.errors import HwsimError
from hwsim.frontends.llm_config import LLMConfig
from hwsim.hardware.profile import DeviceProfile

#: The methods an LLM report compares when none are named.
DEFAULT_LLM_METHODS = ("baseline", "q8_0", "q4_0", "w4-g128", "w3-g128", "kv-int8", "q4_0+kv-int8", "sparse-2:4",
                       "llm-head-prune-25", "llm-kv-head-prune-25", "llm-mlp-prune-30")


@dataclass(frozen=True)
class LLMRow:
    method: str
    device: str
    result: GenerationResult | None
    error: str | None = None
    curve: tuple[tuple[int, float], ...] = ()  # (context, decode tokens/s)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LLMComparison:
    model: str
    config: LLMConfig
    methods: tuple[str, ...]
    devices: tuple[DeviceProfile, ...]
    prefill_tokens: int
    new_tokens: int
    context: int
    rows: tuple[LLMRow, ...]
    contexts: tuple[int, ...]
    method_notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: per method: output fidelity of the decode step against fp32 on random weights (None: not run), and
    #: the sentence saying on what it was measured or why it was not
    fidelity: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    fidelity_note: str = ""

    def row(self, method: str, device: str) -> LLMRow:
        return next(r for r in self.rows if r.method == method and r.device == device)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "prefill_tokens": self.prefill_tokens, "new_tokens": self.new_tokens,
            "context": self.context, "methods": list(self.methods), "devices": [d.name for d in self.devices],
            "contexts": list(self.contexts),
            "rows": [{"method": r.method, "device": r.device, "error": r.error,
                      **(r.result.as_dict() if r.result else {}),
                      "tokens_per_s_by_context": [[c, t] for c, t in r.curve]} for r in self.rows],
            "method_notes": {k: list(v) for k, v in self.method_notes.items()},
            "fidelity": self.fidelity, "fidelity_note": self.fidelity_note,
        }


def context_points(cfg: LLMConfig, start: int = 128, limit: int = 32768) -> tuple[int, ...]:
    """Powers of two from ``start`` up to the model's positions (at most ``limit``)."""
    top = min(cfg.max_positions - 1, limit)
    pts, c = [], start
    while c <= top:
        pts.append(c)
        c *= 2
    return tuple(pts) or (max(1, top),)


def compare_llm(cfg: LLMConfig, model: str, methods: Sequence[tuple[str, Method]], devices: Sequence[DeviceProfile],
                *, prefill_tokens: int, new_tokens: int, context: int,
                progress: Callable[[str], None] | None = None) -> LLMComparison:
    """Every (name, method) on every device; a method without steps is the model as built."""
    contexts = context_points(cfg)
    rows: list[LLMRow] = []
    notes: dict[str, tuple[str, ...]] = {}
    for method, definition in methods:
        notes[method] = tuple(definition.notes)
        apply = ((lambda graph, m=definition: apply_method(graph, m).graph) if definition.steps else None)
        for dev in devices:
            try:
                r = generate(cfg, dev, prefill_tokens=prefill_tokens, new_tokens=new_tokens, context=context,
                             method=method, compress=apply, source=model)
                curve = tuple(context_curve(cfg, dev, contexts, method=method, compress=apply))
                rows.append(LLMRow(method, dev.name, r, curve=curve, notes=r.notes))
            except HwsimError as e:
                rows.append(LLMRow(method, dev.name, None, error=str(e)))
            if progress is not None:
                progress(f"{method} on {dev.name}")
    return LLMComparison(model=model, config=cfg, methods=tuple(name for name, _ in methods), devices=tuple(devices),
                         prefill_tokens=prefill_tokens, new_tokens=new_tokens, context=context, rows=tuple(rows),
                         contexts=contexts, method_notes=notes)
