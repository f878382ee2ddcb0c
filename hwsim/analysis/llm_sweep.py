"""Generation sweeps of a decoder LLM (``hwsim sweep CONFIG.yaml --vary context=...``): the grid of
generation keys (``context``, ``prefill``, ``new_tokens``) and device profile keys, each (method, point)
one ``generate`` call.

The points run through ``hwsim.analysis.sweep.run_sweep`` like any sweep (Dask or serial, every finished
point in the sweep cache, so an interrupted sweep resumes with only the missing points): the payload of a
method is a ``GenerationJob`` (the config and the method), evaluated by ``evaluate_generation_chunk``.

Rows: the varied keys, then ttft_s, decode_step_s, decode_tokens_per_s, decode_energy_j_per_token,
generation_s, kv_cache_bytes, memory_total_bytes, fits_memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwsim.analysis.llm import generate
from hwsim.analysis.sweep import Point
from hwsim.compress.method import Method, apply_method
from hwsim.errors import HwsimError, UsageError
from hwsim.frontends.llm_config import LLMConfig

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


@dataclass(frozen=True)
class Generation:
    """One point's generation: prompt tokens, new tokens, the context of the reported decode step."""

    prefill: int
    new_tokens: int
    context: int


def split_point(cfg: LLMConfig, point: Mapping[str, str]) -> tuple[Generation, dict[str, str]]:
    """(the point's generation, its device overrides); keys not varied take the config's defaults."""
    d = cfg.defaults
    gen = {k: _int(v, k) for k, v in point.items() if k in GENERATION_KEYS}
    g = Generation(gen.get("prefill", d.prefill_tokens), gen.get("new_tokens", d.new_tokens),
                   gen.get("context", d.context))
    return g, {k: v for k, v in point.items() if k not in GENERATION_KEYS}


def check_points(cfg: LLMConfig, points: Sequence[Point], source: str) -> None:
    """Every point's token counts are whole, positive and within the model's positions (before any work)."""
    for p in points:
        g, _ = split_point(cfg, p.as_dict())
        longest = max(g.context, g.prefill + g.new_tokens - 1) + 1
        if longest > cfg.max_positions:
            keys = ", ".join(f"{k}={v}" for k, v in p.overrides if k in GENERATION_KEYS)
            raise UsageError(f"context {longest} exceeds {cfg.name}'s {cfg.max_positions} positions ({keys})",
                             source=source, where="--vary")


@dataclass(frozen=True)
class GenerationJob:
    """What one method's points need in a worker (picklable): the config and the method (None: as built)."""

    cfg: LLMConfig
    method: Method | None
    source: str


def _compressor(method: Method | None):
    if method is None or not method.steps:
        return None
    return lambda graph: apply_method(graph, method).graph


def evaluate_generation_chunk(job: GenerationJob, method: str, device_name: str, source: str,
                              raw: Mapping[str, Any], fixed: Mapping[str, str],
                              points: Sequence[tuple[int, tuple[tuple[str, str], ...]]], engine: str,
                              batch: int) -> list[dict[str, Any]]:
    """One row per point (the ``hwsim.analysis.sweep.Evaluator`` contract); a point whose device or
    generation is impossible becomes a row with status "error" and the message."""
    from hwsim.hardware import apply_overrides

    compress = _compressor(job.method)
    rows = []
    for index, overrides in points:
        row: dict[str, Any] = {"point": index, "method": method}
        try:
            gen, dev_over = split_point(job.cfg, dict(overrides))
            dev = apply_overrides(raw, {**fixed, **dev_over}, name=device_name, source=source)
            r = generate(job.cfg, dev, prefill_tokens=gen.prefill, new_tokens=gen.new_tokens, context=gen.context,
                         engine=engine, method=method, compress=compress, source=job.source)
        except HwsimError as e:
            row.update({c: None for c in COLUMNS}, status="error", message=str(e))
        else:
            row.update({"ttft_s": r.ttft_s, "decode_step_s": r.decode_step_s,
                        "decode_tokens_per_s": r.decode_tokens_per_s,
                        "decode_energy_j_per_token": r.decode_energy_j, "generation_s": r.generation_s,
                        "kv_cache_bytes": r.memory.kv_cache_bytes, "memory_total_bytes": r.memory.total_bytes,
                        "fits_memory": r.memory.fits}, status="ok", message="")
        rows.append(row)
    return rows
