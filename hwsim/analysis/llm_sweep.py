"""``hwsim sweep CONFIG.yaml --vary context=...``: generation figures of a decoder LLM over a grid of
generation keys (``context``, ``prefill``, ``new_tokens``) and device profile keys, serially (each point
is a ``generate`` call; context lengths reuse one decode simulation per device point).

Rows: the varied keys, then ttft_s, decode_step_s, decode_tokens_per_s, decode_energy_j_per_token,
generation_s, kv_cache_bytes, memory_total_bytes, fits_memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hwsim.analysis.llm import Compressor, generate
from hwsim.analysis.sweep import Point, VarySpec, make_points, parse_vary
from hwsim.errors import UsageError
from hwsim.frontends.llm_config import LLMConfig
from hwsim.hardware import load_device

#: generation keys a sweep may vary (the others are device profile keys)
GENERATION_KEYS = ("context", "prefill", "new_tokens")

COLUMNS = ("ttft_s", "decode_step_s", "decode_tokens_per_s", "decode_energy_j_per_token", "generation_s",
           "kv_cache_bytes", "memory_total_bytes", "fits_memory")


def is_generation_sweep(vary: Sequence[str]) -> bool:
    return any(v.split("=", 1)[0].strip() in GENERATION_KEYS for v in vary)


def _int(value: str, key: str) -> int:
    try:
        n = float(value)
    except ValueError:
        raise UsageError(f"{key} values must be token counts, got {value!r}", where=f"--vary {key}") from None
    if n != int(n) or n < 1:
        raise UsageError(f"{key} values must be positive whole token counts, got {value!r}", where=f"--vary {key}")
    return int(n)


def llm_sweep(cfg: LLMConfig, device: str, vary: Sequence[str], *, fixed: Mapping[str, str] | None = None,
              method: str = "baseline", compress: Compressor | None = None,
              progress: Callable[[int, int], None] | None = None) -> tuple[list[VarySpec], list[dict[str, Any]]]:
    """(the varied keys, one row per grid point)."""
    specs = [parse_vary(v) for v in vary]
    points: list[Point] = make_points(specs)
    rows: list[dict[str, Any]] = []
    d = cfg.defaults
    for i, p in enumerate(points):
        keys = p.as_dict()
        gen = {k: _int(v, k) for k, v in keys.items() if k in GENERATION_KEYS}
        dev_over = {**(fixed or {}), **{k: v for k, v in keys.items() if k not in GENERATION_KEYS}}
        dev = load_device(device, dev_over)
        r = generate(cfg, dev, prefill_tokens=gen.get("prefill", d.prefill_tokens),
                     new_tokens=gen.get("new_tokens", d.new_tokens), context=gen.get("context", d.context), method=method,
                     compress=compress)
        rows.append({**keys, "ttft_s": r.ttft_s, "decode_step_s": r.decode_step_s,
                     "decode_tokens_per_s": r.decode_tokens_per_s, "decode_energy_j_per_token": r.decode_energy_j,
                     "generation_s": r.generation_s, "kv_cache_bytes": r.memory.kv_cache_bytes,
                     "memory_total_bytes": r.memory.total_bytes, "fits_memory": r.memory.fits})
        if progress is not None:
            progress(i + 1, len(points))
    return specs, rows
