"""The sweep pipeline: compress once per method, then the analytic engine at every device point.

``prepare_sweep`` parses and validates every input before any work (so a bad input writes nothing);
``run_sweep_config`` compresses and evaluates through the cached, resumable ``hwsim.analysis.sweep``;
``write_sweep_outputs`` writes results.csv, results.parquet and sweep.html (+ the sweep.json manifest) together.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hwsim.analysis.cache import ResultCache, file_digest
from hwsim.analysis.metrics import ModelSummary, jsonable
from hwsim.analysis.sweep import (Point, SweepResult, SweepTask, VarySpec, check_keys, cheapest_meeting, make_points,
                                  parse_vary, run_sweep, validate_against)
from hwsim.errors import UsageError
from hwsim.fileio import atomic_write_many
from hwsim.frontends import load_model
from hwsim.hardware import DeviceProfile, apply_overrides, load_device
from hwsim.ir.graph import OpGraph
from hwsim.pipeline.devices import DeviceInfo, device_info
from hwsim.pipeline.methods import compress, resolve_methods
from hwsim.pipeline.steps import guard, source_graph, summarize
from hwsim.report.sweep_report import render_sweep


class SweepConfig(BaseModel):
    """A what-if sweep over device profile keys (see ``hwsim.analysis.sweep``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    device: str
    vary: list[str] = Field(min_length=1)  # KEY=VALUES items
    methods: list[str] | None = None  # None: baseline only
    methods_file: str | None = None
    fixed: dict[str, str] = {}  # --set overrides applied at every point
    samples: int | None = None
    seed: int = 0
    engine: str = "analytic"
    scheduler: str = "local"  # local | serial | a Dask scheduler address
    workers: int | None = None
    output: str = "reports/sweep"
    materialize: Literal["auto", "always", "never"] = "auto"  # as in PipelineConfig
    target_latency_s: float | None = None
    target_energy_j: float | None = None


@dataclass(frozen=True)
class PreparedSweep:
    """Everything a sweep needs, parsed and validated: varied keys, points, the device and the model."""

    specs: list[VarySpec]
    points: list[Point]
    base_raw: dict[str, Any]  # the device's YAML document with the fixed overrides applied
    device: DeviceInfo
    profile: DeviceProfile
    graph: OpGraph


@dataclass(frozen=True)
class SweepRun:
    config: SweepConfig
    model: ModelSummary
    device: DeviceInfo
    result: SweepResult
    cheapest: Mapping[str, Any]  # metric -> target and the cheapest points meeting it (JSON data)
    timings_s: Mapping[str, float]
    command: str = ""


def prepare_sweep(cfg: SweepConfig) -> PreparedSweep:
    """Parse and validate everything a sweep needs before any work: specs, points, device, model."""
    specs = [parse_vary(v) for v in cfg.vary]
    check_keys(specs)
    points = make_points(specs, cfg.samples, cfg.seed)
    dev = load_device(cfg.device, dict(cfg.fixed) or None)
    base_raw = dict(dev.raw)
    validate_against(base_raw, specs, lambda raw, ov: apply_overrides(raw, ov, name=dev.name, source=dev.source))
    return PreparedSweep(specs, points, base_raw, device_info(dev), dev, load_model(cfg.model))


def _compressed_graphs(cfg: SweepConfig, graph: OpGraph, params: int
                       ) -> tuple[dict[str, OpGraph], dict[str, Any], dict[str, str]]:
    """Per method: its compressed graph and its definition (for the cache key), or why it has none."""
    methods = resolve_methods(cfg.methods or ["baseline"], cfg.methods_file, add_baseline=False)
    source = source_graph(graph, cfg.materialize, params)  # as the report does
    graphs: dict[str, OpGraph] = {}
    defs: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    for name, method in methods:
        compressed, outcome = guard(False, lambda: compress(source, method))
        if compressed is None:
            unavailable[name] = outcome.message
            continue
        graphs[name] = compressed.graph
        defs[name] = jsonable(method)
    return graphs, defs, unavailable


def run_sweep_config(cfg: SweepConfig, progress: Callable[[int], None] | None = None,
                     on_plan: Callable[[int], None] | None = None, command: str = "",
                     prepared: PreparedSweep | None = None) -> SweepRun:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    prep = prepared or prepare_sweep(cfg)
    timings["prepare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = summarize(prep.graph)
    graphs, defs, unavailable = _compressed_graphs(cfg, prep.graph, model.params)
    timings["compress"] = time.perf_counter() - t0
    task = SweepTask(model_digest=file_digest(cfg.model), device_name=prep.device.name,
                     device_source=prep.profile.source, raw=prep.base_raw, fixed=dict(cfg.fixed),
                     engine=cfg.engine, batch=model.batch, graphs=graphs, method_defs=defs, unavailable=unavailable)
    if on_plan is not None:
        on_plan(len(prep.points) * len(graphs))
    t0 = time.perf_counter()
    with ResultCache(Path(cfg.output) / "cache" / "results.jsonl") as cache:
        result = run_sweep(task, prep.specs, prep.points, cache, cfg.scheduler, cfg.workers, progress)
    timings["evaluate"] = time.perf_counter() - t0
    cheapest: dict[str, Any] = {}
    if cfg.target_latency_s is not None:
        cheapest["latency_s"] = {"target": cfg.target_latency_s,
                                 "best": cheapest_meeting(result, "latency_s", cfg.target_latency_s)}
    if cfg.target_energy_j is not None:
        cheapest["energy_j"] = {"target": cfg.target_energy_j,
                                "best": cheapest_meeting(result, "energy_j", cfg.target_energy_j)}
    return SweepRun(cfg, model, prep.device, result, cheapest, timings, command)


def write_sweep_outputs(run: SweepRun, manifest: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """results.csv, results.parquet and sweep.html (and ``sweep.json``, the manifest naming the sweep, when
    given) in the output directory. Everything is rendered first and written together (temporary files
    renamed only when all are complete): a failure leaves the folder as it was, never CSV/Parquet
    without their page."""
    import json

    out = Path(run.config.output)
    df = run.result.dataframe()
    html = render_sweep(run).encode("utf-8")
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    paths = {"csv": out / "results.csv", "parquet": out / "results.parquet", "html": out / "sweep.html"}
    data = {paths["csv"]: df.to_csv(index=False, lineterminator="\n").encode("utf-8"),
            paths["parquet"]: buf.getvalue(), paths["html"]: html}
    if manifest is not None:
        paths["manifest"] = out / "sweep.json"
        data[paths["manifest"]] = (json.dumps(dict(manifest), indent=1) + "\n").encode("utf-8")
    atomic_write_many([(p, lambda f, b=b: f.write(b)) for p, b in data.items()], UsageError)
    return paths


__all__ = ["PreparedSweep", "SweepConfig", "SweepRun", "prepare_sweep", "run_sweep_config", "write_sweep_outputs"]
