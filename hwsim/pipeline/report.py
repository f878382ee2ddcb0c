"""The report pipeline: model -> (per method) compress -> simulate on each device -> verify -> one comparison.

FINN-style: each step is a plain function over a serialisable config (``PipelineConfig``), so a run
can be described in JSON, repeated exactly, and each step tested alone. The same config gives a
byte-identical ``result_json`` (wall-clock timings are kept beside the figures, never inside them).

A method that fails with bad input becomes an ``error`` row carrying the message; a report then says
so instead of inventing a figure. ``strict=True`` re-raises instead (for debugging).
"""

from __future__ import annotations

import json
import time
from functools import partial
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hwsim import __version__
from hwsim.analysis.compare import Comparison, compare, to_records
from hwsim.analysis.metrics import (DeviceRun, EarlyExitCost, MethodRun, ModelSummary, Outcome, early_exit_cost,
                                    jsonable)
from hwsim.analysis.verify import VerifyResult
from hwsim.analysis.ranking import policy_for
from hwsim.compress.method import Method
from hwsim.errors import UsageError
from hwsim.fileio import atomic_write
from hwsim.frontends import load_model
from hwsim.ir.graph import OpGraph
from hwsim.analysis.accuracy import weights_label, weights_origin
from hwsim.pipeline.accuracy import AccuracyConfig, accuracy_doc, load_data, measure_all, with_accuracy
from hwsim.pipeline.devices import DeviceInfo, device_extras, load_devices, savings
from hwsim.pipeline.methods import NamedMethod, compress, method_notes, pass_docs, resolve_methods
from hwsim.pipeline.steps import Progress, guard, no_progress, should_materialize, summarize
from hwsim.pipeline.verification import (PENDING, Verified, VerifyConfig, VerifyPool, collect_verification,
                                         verify_plan)
from hwsim.sim.engines import simulate
from hwsim.sim.result import RunResult


class PipelineConfig(BaseModel):
    """Everything a run depends on. Serialise it with ``model_dump_json``; same config, same results."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    devices: list[str] = Field(min_length=1)
    materialize: Literal["auto", "always", "never"] = "auto"  # real weights -> real encodings
    methods: list[str] | None = None  # None: the default catalogue
    methods_file: str | None = None
    engine: str = "analytic"
    device_overrides: dict[str, str] = {}  # dotted key -> value, applied to every device
    verify: VerifyConfig = VerifyConfig()
    baseline: str | None = None
    focus: str | None = None  # the method whose per-layer figures the report shows
    add_baseline: bool = True  # put "baseline" first when the methods do not include it
    strict: bool = False
    weights: str | None = None  # trained weights by tensor name (.npz, PyTorch state_dict)
    accuracy: AccuracyConfig = AccuracyConfig()


@dataclass(frozen=True)
class PipelineResult:
    config: PipelineConfig
    model: ModelSummary
    devices: tuple[DeviceInfo, ...]
    methods: tuple[MethodRun, ...]
    comparison: Comparison
    focus: str | None
    timings_s: Mapping[str, float] = field(default_factory=dict)
    command: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)  # device -> adder savings etc. (JSON data)

    def method(self, name: str) -> MethodRun:
        return next(m for m in self.methods if m.method == name)

    def figures(self) -> dict[str, Any]:
        """Every figure of the run as plain JSON data (what ``--json`` writes)."""
        return jsonable({
            "hwsim_version": __version__,
            "command": self.command,
            "config": self.config.model_dump(),
            "model": self.model,
            "baseline": self.comparison.baseline,
            "focus": self.focus,
            "devices": [{"name": d.name, "kind": d.kind, "status": d.outcome.status, "message": d.outcome.message,
                         "description": d.description, "profile": d.profile, "peaks": d.peaks} for d in self.devices],
            "table": to_records(self.comparison),
            "methods": [method_doc(m) for m in self.methods],
            "extras": self.extras,
        })

    def result_json(self) -> str:
        return json.dumps(self.figures(), sort_keys=True, indent=1) + "\n"


def method_doc(m: MethodRun) -> dict[str, Any]:
    return {
        "method": m.method, "description": m.description,
        "compress": m.compress, "verify": m.verify, "verify_result": m.verify_result,
        "needs_training": m.needs_training, "notes": m.notes, "passes": m.passes, "summary": m.summary,
        "accuracy": None if m.accuracy is None else m.accuracy.as_dict(),
        "runs": [{"device": r.device, "engine": r.engine, "status": r.outcome.status, "message": r.outcome.message,
                  "result": r.run.as_dict() if r.run else None,
                  "early_exit": r.early_exit.as_dict() if r.early_exit else None} for r in m.runs],
    }


# --------------------------------------------------------------------------------------------------
# Steps


def step_simulate(graph: OpGraph, device: DeviceInfo, engine: str, method_name: str) -> RunResult:
    assert device.handle is not None, "a device without a profile is never simulated"
    return simulate(graph, device.handle, engine, method_name)


def step_early_exit(graph: OpGraph, run: RunResult, summary: ModelSummary) -> EarlyExitCost | None:
    """Expected (over the exit probabilities) and worst-case cost of a model with early exits; None without."""
    return early_exit_cost(graph, run, summary.layer_macs, summary.batch)


def simulate_on(cfg: PipelineConfig, cgraph: OpGraph, summary: ModelSummary, dev: DeviceInfo,
                name: str) -> DeviceRun:
    """One compressed graph on one device: the run, FPGA savings and early-exit costs, or why there is none."""
    if not dev.outcome.ok or dev.handle is None:
        return DeviceRun(dev.name, cfg.engine, dev.outcome)
    run, s_out = guard(cfg.strict, lambda: step_simulate(cgraph, dev, cfg.engine, name))
    saved = savings(cgraph, dev.handle) if s_out.ok and dev.kind == "fpga" else ()
    exits = None
    if run is not None:
        ran = run
        exits, e_out = guard(cfg.strict, lambda: step_early_exit(cgraph, ran, summary))
        if not e_out.ok:  # a run whose expected cost is unknown must not pass for one without exits
            run, s_out = None, Outcome(e_out.status, f"early-exit cost: {e_out.message}")
    return DeviceRun(dev.name, cfg.engine, s_out, run, savings=saved, early_exit=exits)


def run_method(cfg: PipelineConfig, graph: OpGraph, name: str, method: Method, devices: Sequence[DeviceInfo],
               progress: Progress = no_progress, verified: Callable[[], Verified] | None = None) -> MethodRun:
    """Compress once, simulate on every device, collect the verification: one MethodRun."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    compressed, c_out = guard(cfg.strict, lambda: compress(graph, method))
    timings["compress"] = time.perf_counter() - t0
    progress(f"{name}: compressed")
    summary = summarize(compressed.graph) if compressed is not None else None
    runs = []
    for dev in devices:
        t0 = time.perf_counter()
        if compressed is None or summary is None:
            runs.append(DeviceRun(dev.name, cfg.engine, Outcome("skipped", "compression did not produce a graph")))
        else:
            runs.append(simulate_on(cfg, compressed.graph, summary, dev, name))
        timings[f"simulate:{dev.name}"] = time.perf_counter() - t0
        progress(f"{name}: simulated on {dev.name}")
    t0 = time.perf_counter()
    vres: VerifyResult | None
    if compressed is None:
        vres, v_out = None, Outcome("skipped", "compression did not produce a graph")
    elif verified is None:
        vres, v_out = None, Outcome("skipped", "verification not requested")
    else:
        vres, v_out = verified()
    timings["verify_wait"] = time.perf_counter() - t0
    if v_out != PENDING:
        progress(f"{name}: verified")
    return MethodRun(
        method=name, description=method.description, compress=c_out,
        summary=summary, runs=tuple(runs), verify=v_out, verify_result=vres,
        needs_training=compressed.needs_training if compressed is not None else None,
        notes=method_notes(compressed) if compressed is not None else (),
        passes=pass_docs(compressed.results) if compressed is not None else (), timings_s=timings,
    )


def units_of_work(n_methods: int, n_devices: int) -> int:
    """How many progress ticks a run makes (compress + each device + verify, per method)."""
    return n_methods * (2 + n_devices)


def choose_focus(comparison: Comparison, requested: str | None) -> str | None:
    """The method shown per layer: the requested one, else the fastest non-baseline method on the first device."""
    if requested is not None:
        if requested not in comparison.methods:
            raise UsageError(f"focus method {requested!r} is not among the compared methods "
                             f"({', '.join(comparison.methods)})", where="--focus")
        return requested
    if not comparison.devices:
        return None
    rows = [r for r in comparison.for_device(comparison.devices[0])
            if r.method != comparison.baseline and r.latency_s is not None]
    if not rows:
        return None
    return min(rows, key=lambda r: (r.latency_s, r.method)).method


def _check_focus(cfg: PipelineConfig, methods: Sequence[NamedMethod]) -> None:
    if cfg.focus is not None and cfg.focus not in [n for n, _ in methods]:
        raise UsageError(f"focus method {cfg.focus!r} is not among the compared methods "
                         f"({', '.join(n for n, _ in methods)})", where="--focus")


def _assemble(cfg: PipelineConfig, model: ModelSummary, devices: Sequence[DeviceInfo], runs: Sequence[MethodRun],
              timings: Mapping[str, float], command: str, verification: str, materialized: bool) -> PipelineResult:
    comparison = compare(list(runs), cfg.baseline, policy_for(cfg.accuracy.max_drop))
    focus = choose_focus(comparison, cfg.focus)
    extras = {d.name: device_extras(d, runs) for d in devices if d.outcome.ok}
    return PipelineResult(cfg, model, tuple(devices), tuple(runs), comparison, focus, dict(timings), command,
                          {"devices": {k: v for k, v in extras.items() if v}, "verification": verification,
                           "weights": "materialized (real encodings)" if materialized else
                           "not materialized (sizes of encoded formats are formula estimates)"})


def run_pipeline(cfg: PipelineConfig, progress: Progress = no_progress, on_plan: Callable[[int], None] | None = None,
                 command: str = "", while_verifying: Callable[[PipelineResult], None] | None = None) -> PipelineResult:
    """Run every step for every method and device; see the module docstring for failure handling.

    ``while_verifying`` is called once every method is compressed and simulated, with the result so far
    (verification pending), while the verifications still run in the pool: the report draws its
    simulation plots there instead of after verification."""
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    graph = load_model(cfg.model)
    weight_notes: tuple[str, ...] = ()
    if cfg.weights:
        from hwsim.frontends.weights_file import attach_weights

        graph, weight_notes = attach_weights(graph, cfg.weights)
    model = summarize(graph)
    timings["load_model"] = time.perf_counter() - t0
    data = load_data(cfg.accuracy, graph)  # bad data fails before any work
    devices = load_devices(cfg.devices, cfg.device_overrides)
    methods = resolve_methods(cfg.methods, cfg.methods_file, cfg.baseline, cfg.add_baseline,
                              with_data=cfg.accuracy.data is not None)
    _check_focus(cfg, methods)
    if on_plan is not None:
        on_plan(units_of_work(len(methods), len(devices)) + (len(methods) if data is not None else 0))
    vgraph, vnote = verify_plan(cfg.verify, graph, model.params)
    cgraph_in = graph
    if should_materialize(cfg.materialize, model.params):
        t0 = time.perf_counter()
        cgraph_in = graph.materialize()  # passes then encode the real (seeded or shipped) weights
        timings["materialize"] = time.perf_counter() - t0
    pool = VerifyPool(min(cfg.verify.workers, len(methods)) if vgraph is not None else 0)
    runs = []
    try:
        if vgraph is not None:
            # a reduced input is one input; the full-size one takes the configured number
            vcfg = cfg.verify if vgraph is graph else cfg.verify.model_copy(update={"inputs": 1})
            for name, method in methods:
                pool.submit(name, vgraph, method, vcfg, cfg.strict)
        for name, method in methods:
            if vgraph is None:
                runs.append(run_method(cfg, cgraph_in, name, method, devices, progress,
                                       lambda: (None, Outcome("skipped", vnote))))
            else:  # compress and simulate every method first; verifications run meanwhile in the pool
                runs.append(run_method(cfg, cgraph_in, name, method, devices, progress, lambda: (None, PENDING)))
        if while_verifying is not None:
            t0 = time.perf_counter()
            while_verifying(_assemble(cfg, model, devices, runs, timings, command, vnote, cgraph_in is not graph))
            timings["while_verifying"] = time.perf_counter() - t0
        runs = [collect_verification(r, partial(pool.result, r.method), progress) for r in runs]
    finally:
        pool.close()
    acc_doc: dict[str, Any] = {}
    if data is not None:
        t0 = time.perf_counter()
        source = cgraph_in if cgraph_in is not graph else graph.materialize()
        accs = measure_all(cfg.accuracy, source, data, methods, cfg.strict, progress)
        runs = [with_accuracy(r, accs.get(r.method), partial(_simulate_all, cfg), devices) for r in runs]
        acc_doc = accuracy_doc(cfg.accuracy, data, accs)
        timings["accuracy"] = time.perf_counter() - t0
    comparison = compare(runs, cfg.baseline, policy_for(cfg.accuracy.max_drop, acc_doc))
    focus = choose_focus(comparison, cfg.focus)
    extras = {d.name: device_extras(d, runs) for d in devices if d.outcome.ok}
    timings["total"] = time.perf_counter() - t_start
    return PipelineResult(cfg, model, tuple(devices), tuple(runs), comparison, focus, timings, command,
                          {"devices": {k: v for k, v in extras.items() if v}, "verification": vnote,
                           "weights_origin": weights_origin(graph), "weights_label": weights_label(graph),
                           "weights_notes": list(weight_notes), "accuracy": acc_doc,
                           "weights": "materialized (real encodings)" if cgraph_in is not graph else
                           "not materialized (sizes of encoded formats are formula estimates)"})


def _simulate_all(cfg: PipelineConfig, graph: OpGraph, summary: ModelSummary, dev: DeviceInfo, name: str) -> DeviceRun:
    return simulate_on(cfg, graph, summary, dev, name)


def write_json(result: PipelineResult, path: str | Path) -> None:
    atomic_write(path, result.result_json())


__all__ = ["PipelineConfig", "PipelineResult", "choose_focus", "method_doc", "run_method", "run_pipeline",
           "simulate_on", "units_of_work", "write_json"]
