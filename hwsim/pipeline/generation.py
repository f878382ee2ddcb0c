"""The decoder-LLM pipelines (``hwsim report CONFIG.yaml`` and ``hwsim sweep CONFIG.yaml --vary context=...``),
over the same seams as the other pipelines: methods resolved by ``pipeline.methods`` (catalogue names or a
methods file), devices loaded with ``--set`` overrides, every input checked before any work.

- the report: ``GenerationReportConfig`` -> ``run_generation_report`` -> ``LLMComparison`` (every method on
  every device: TTFT, tokens/s, energy per token, memory, tokens/s against the context length);
- the sweep: a ``SweepConfig`` whose ``vary`` names a generation key -> ``prepare_generation_sweep`` ->
  ``run_generation_sweep`` -> ``write_generation_sweep_outputs``. Points run through
  ``hwsim.analysis.sweep.run_sweep`` (Dask or serial) with the generation evaluator, and every finished
  point goes to the sweep cache (``<output>/cache/results.jsonl``), keyed by the config file's content, the
  method's definition, the device profile with the point's overrides, the generation keys and the engine:
  a killed sweep resumes with only the missing points, a repeated one computes nothing.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hwsim.analysis.cache import ResultCache, file_digest
from hwsim.analysis.llm_compare import DEFAULT_LLM_METHODS, LLMComparison, compare_llm
from hwsim.analysis.llm_params import parameter_count
from hwsim.analysis.llm_sweep import COLUMNS, GENERATION_KEYS, GenerationJob, check_points, evaluate_generation_chunk
from hwsim.analysis.metrics import jsonable
from hwsim.analysis.sweep import (Point, SweepResult, SweepTask, VarySpec, check_keys, make_points, parse_vary,
                                  run_sweep, validate_against)
from hwsim.analysis.verify import verify_method
from hwsim.errors import HwsimError, UsageError
from hwsim.fileio import atomic_write_many
from hwsim.frontends.llm_config import LLMConfig, decode_graph, is_llm_config, load_llm_config
from hwsim.hardware import DeviceProfile, apply_overrides, load_device
from hwsim.pipeline.devices import DeviceInfo, device_info
from hwsim.pipeline.methods import NamedMethod, resolve_methods
from hwsim.pipeline.steps import AUTO_MAX_PARAMS
from hwsim.pipeline.sweep import SweepConfig


def _llm_config(model: str, what: str) -> LLMConfig:
    path = Path(model)
    if path.suffix.lower() not in (".yaml", ".yml") or not is_llm_config(path):
        raise UsageError(f"{what} needs an LLM config (workloads/llm/*.yaml, format: hwsim-llm)", source=model)
    return load_llm_config(path)


def _methods(names: list[str] | None, methods_file: str | None, default: tuple[str, ...]) -> list[NamedMethod]:
    """Names (default ``default``) or a methods file; the model as built always comes first."""
    return resolve_methods(list(names) if names else (None if methods_file else list(default)), methods_file)


# --- the report -------------------------------------------------------------------------------------

class GenerationReportConfig(BaseModel):
    """An LLM report: every method on every device at the config's default generation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    devices: list[str] = Field(min_length=1)
    methods: list[str] | None = None  # None: DEFAULT_LLM_METHODS
    methods_file: str | None = None
    fixed: dict[str, str] = {}  # --set overrides on every device


#: seeded inputs of the fidelity measurement (decode steps of a small config take well under a second)
FIDELITY_INPUTS = 2


def run_generation_report(cfg: GenerationReportConfig, progress: Callable[[str], None] | None = None
                          ) -> LLMComparison:
    """Resolve and check everything (config, methods, devices), then evaluate every (method, device); on a
    config small enough to run in NumPy (<= AUTO_MAX_PARAMS parameters), each method's decode step is also
    executed and verified (kernels against their references, fidelity against fp32 on random weights)."""
    llm = _llm_config(cfg.model, "an LLM report")
    methods = _methods(cfg.methods, cfg.methods_file, DEFAULT_LLM_METHODS)
    devices = [load_device(d, dict(cfg.fixed) or None) for d in cfg.devices]
    d = llm.defaults
    comp = compare_llm(llm, cfg.model, methods, devices, prefill_tokens=d.prefill_tokens, new_tokens=d.new_tokens,
                       context=d.context, progress=progress)
    fidelity, note = _fidelity(llm, methods, cfg.model, progress)
    return dataclasses.replace(comp, fidelity=fidelity, fidelity_note=note)


def _fidelity(llm: LLMConfig, methods: list[NamedMethod], source: str, progress: Callable[[str], None] | None
              ) -> tuple[dict[str, dict[str, Any] | None], str]:
    step = decode_graph(llm, llm.defaults.context, source)
    params = parameter_count(step)
    if params > AUTO_MAX_PARAMS:
        return {}, (f"not measured: {params:,} parameters are more than the {AUTO_MAX_PARAMS:,} this report runs in "
                    "NumPy (a small config such as workloads/llm/tiny-random.yaml is)")
    out: dict[str, dict[str, Any] | None] = {}
    for name, method in methods:
        if not method.steps:
            continue
        try:
            v = verify_method(step, method, inputs=FIDELITY_INPUTS, seed=0)
        except HwsimError as e:
            out[name] = {"error": str(e)}
            continue
        f = v.fidelity
        out[name] = {"sqnr_db": None if f is None else f.sqnr_db, "cosine": None if f is None else f.cosine,
                     "kernels": v.kernel_status, "kernels_passed": v.kernels_passed}
        if progress is not None:
            progress(f"{name}: verified")
    return out, (f"the decode step at context {llm.defaults.context} executed in NumPy on {FIDELITY_INPUTS} seeded "
                 "inputs, seed 0, against the fp32 model; random weights (seeded): fidelity, not a quality figure")


# --- the sweep --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreparedGenerationSweep:
    specs: list[VarySpec]
    points: list[Point]
    base_raw: dict[str, Any]
    device: DeviceInfo
    profile: DeviceProfile
    llm: LLMConfig
    methods: list[NamedMethod]


@dataclass(frozen=True)
class GenerationSweepRun:
    config: SweepConfig
    model: str
    device: DeviceInfo
    result: SweepResult
    timings_s: Mapping[str, float]


def prepare_generation_sweep(cfg: SweepConfig) -> PreparedGenerationSweep:
    """Parse and check everything before any work: the config, the varied keys (token counts within the
    model's positions, device keys the profile accepts), the points, the device and the methods."""
    llm = _llm_config(cfg.model, "--vary context / prefill / new_tokens")
    if cfg.target_latency_s is not None or cfg.target_energy_j is not None:
        raise UsageError("--target-latency / --target-energy apply to sweeps of device keys, not generation sweeps",
                         where="--target-latency")
    specs = [parse_vary(v) for v in cfg.vary]
    check_keys(specs)
    points = make_points(specs, cfg.samples, cfg.seed)
    dev = load_device(cfg.device, dict(cfg.fixed) or None)
    base_raw = dict(dev.raw)
    validate_against(base_raw, [s for s in specs if s.key not in GENERATION_KEYS],
                     lambda raw, ov: apply_overrides(raw, ov, name=dev.name, source=dev.source))
    check_points(llm, points, cfg.model)
    methods = resolve_methods(cfg.methods or ["baseline"], cfg.methods_file, add_baseline=False)
    return PreparedGenerationSweep(specs, points, base_raw, device_info(dev), dev, llm, methods)


def run_generation_sweep(cfg: SweepConfig, progress: Callable[[int], None] | None = None,
                         on_plan: Callable[[int], None] | None = None,
                         prepared: PreparedGenerationSweep | None = None) -> GenerationSweepRun:
    t0 = time.perf_counter()
    prep = prepared or prepare_generation_sweep(cfg)
    timings = {"prepare": time.perf_counter() - t0}
    jobs = {name: GenerationJob(prep.llm, method if method.steps else None, cfg.model) for name, method in prep.methods}
    task = SweepTask(model_digest=file_digest(cfg.model), device_name=prep.device.name,
                     device_source=prep.profile.source, raw=prep.base_raw, fixed=dict(cfg.fixed), engine=cfg.engine,
                     batch=1, graphs=jobs,
                     method_defs={name: {"generation": jsonable(method)} for name, method in prep.methods},
                     evaluator=evaluate_generation_chunk, metrics=COLUMNS)
    if on_plan is not None:
        on_plan(len(prep.points) * len(jobs))
    t0 = time.perf_counter()
    with ResultCache(Path(cfg.output) / "cache" / "results.jsonl") as cache:
        result = run_sweep(task, prep.specs, prep.points, cache, cfg.scheduler, cfg.workers, progress)
    timings["evaluate"] = time.perf_counter() - t0
    return GenerationSweepRun(cfg, cfg.model, prep.device, result, timings)


def write_generation_sweep_outputs(run: GenerationSweepRun, manifest: Mapping[str, Any] | None = None
                                   ) -> dict[str, Path]:
    """results.csv and results.parquet (and the ``sweep.json`` manifest), written together."""
    import json

    out = Path(run.config.output)
    df = run.result.dataframe()
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    paths = {"csv": out / "results.csv", "parquet": out / "results.parquet"}
    data = {paths["csv"]: df.to_csv(index=False, lineterminator="\n").encode("utf-8"), paths["parquet"]: buf.getvalue()}
    if manifest is not None:
        paths["manifest"] = out / "sweep.json"
        data[paths["manifest"]] = (json.dumps(dict(manifest), indent=1) + "\n").encode("utf-8")
    atomic_write_many([(p, lambda f, b=b: f.write(b)) for p, b in data.items()], UsageError)
    return paths


__all__ = ["GenerationReportConfig", "GenerationSweepRun", "PreparedGenerationSweep", "prepare_generation_sweep",
           "run_generation_report", "run_generation_sweep", "write_generation_sweep_outputs"]
