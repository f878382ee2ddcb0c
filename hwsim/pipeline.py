"""The one orchestrator: model -> (per method) compress -> simulate on each device -> verify -> records.

FINN-style: each step is a plain function over a serialisable config (``PipelineConfig``), so a run
can be described in JSON, repeated exactly, and each step tested alone. The same config gives a
byte-identical ``result_json`` (wall-clock timings are kept beside the figures, never inside them).

Components that are not built (or do not apply to a model) make a step ``unavailable`` with the
reason; a method that fails with bad input becomes an ``error`` row carrying the message. A report
then says so instead of inventing a figure. ``strict=True`` re-raises instead (for debugging).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hwsim import __version__
from hwsim.analysis.compare import Comparison, compare
from hwsim.analysis.metrics import (DeviceRun, EarlyExitCost, MethodRun, ModelSummary, Outcome, early_exit_cost,
                                    jsonable)
from hwsim.errors import HwsimError, UsageError
from hwsim.frontends import load_model
from hwsim.ir.counting import count_graph
from hwsim.ir.graph import OpGraph


class Unavailable(Exception):
    """A component this step needs is not part of this build (or does not apply here)."""


# --------------------------------------------------------------------------------------------------
# Config


#: Models up to this many parameters are verified on their full input (and compressed with real
#: weights) by default; ``materialize="always"`` encodes real weights of larger ones too.
AUTO_MAX_PARAMS = 2_000_000
#: Models up to this many parameters are verified on a reduced input by default (ResNet-18: ~20 s for
#: the whole catalogue on 2 cores); larger ones are skipped unless ``mode`` asks (minutes).
AUTO_REDUCED_MAX_PARAMS = 15_000_000
#: The side of an image input in ``reduced`` verification (enough for every standard workload's strides).
REDUCED_SIDE = 64


class VerifyConfig(BaseModel):
    """Verification: kernel exactness plus fidelity on ``inputs`` seeded inputs.

    mode: ``full`` verifies every method on the model's own input; ``reduced`` on one input whose
    image side is cut to 64 px (the same weights and kernels, fewer pixels: for speed; fidelity is then
    measured on those smaller inputs); ``auto`` is ``full`` up to AUTO_MAX_PARAMS parameters,
    ``reduced`` up to AUTO_REDUCED_MAX_PARAMS, and skips larger models, saying so; ``off`` skips. Methods verify in ``workers`` processes in parallel
    with compression and simulation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["auto", "full", "reduced", "off"] = "auto"
    inputs: int = Field(2, ge=1, le=10_000)
    seed: int = 0
    workers: int = Field(2, ge=0, le=64)  # 0: verify in this process


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


# --------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class DeviceInfo:
    """A device of the comparison: its profile as loaded (with overrides) and its derived peaks."""

    name: str
    kind: str | None
    outcome: Outcome
    description: str = ""
    profile: Mapping[str, Any] = field(default_factory=dict)
    peaks: Mapping[str, Any] = field(default_factory=dict)
    handle: Any = field(default=None, repr=False, compare=False)  # the DeviceProfile object


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
    extras: Mapping[str, Any] = field(default_factory=dict)  # device -> adder savings etc.

    def method(self, name: str) -> MethodRun:
        return next(m for m in self.methods if m.method == name)

    def figures(self) -> dict[str, Any]:
        """Every figure of the run as plain JSON data (what ``--json`` writes)."""
        from hwsim.analysis.compare import to_records

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
            "methods": [_method_doc(m) for m in self.methods],
            "extras": self.extras,
        })

    def result_json(self) -> str:
        return json.dumps(self.figures(), sort_keys=True, indent=1) + "\n"


def _method_doc(m: MethodRun) -> dict[str, Any]:
    return {
        "method": m.method, "description": m.description,
        "compress": m.compress, "verify": m.verify, "verify_result": m.verify_result,
        "needs_training": m.needs_training, "notes": m.notes, "passes": m.passes, "summary": m.summary,
        "runs": [{"device": r.device, "engine": r.engine, "status": r.outcome.status, "message": r.outcome.message,
                  "result": r.run.as_dict() if r.run else None,
                  "early_exit": r.early_exit.as_dict() if r.early_exit else None} for r in m.runs],
    }


Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


# --------------------------------------------------------------------------------------------------
# Component access: a missing module or function is "unavailable", anything else propagates.


def component(module: str, attr: str, what: str) -> Any:
    """``module.attr``, or ``Unavailable`` when that module (not one of its imports) does not exist."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and (module == e.name or module.startswith(e.name + ".")):
            raise Unavailable(f"{what} is not available in this build ({module})") from None
        raise
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise Unavailable(f"{what} is not available in this build ({module}.{attr})") from None


# --------------------------------------------------------------------------------------------------
# Steps


def step_load_model(cfg: PipelineConfig) -> OpGraph:
    return load_model(cfg.model)


def summarize(graph: OpGraph) -> ModelSummary:
    counts = count_graph(graph)
    batch = 1
    if graph.inputs:
        shape = graph.tensor(graph.inputs[0]).shape
        batch = int(shape[0]) if shape else 1
    layer_ops = {n.name: int(2 * n.macs + sum(n.arith.values())) for n in counts.nodes}
    return ModelSummary(
        name=graph.name, nodes=len(graph.nodes), params=counts.params, macs=counts.macs,
        other_ops=int(sum(sum(n.arith.values()) for n in counts.nodes)),
        weight_bytes=counts.weight_bytes, batch=max(1, batch),
        layer_ops=layer_ops,
        layer_weight_bytes={n.name: n.weight_bytes for n in counts.nodes},
        layer_macs={n.name: n.macs for n in counts.nodes},
        layer_op={n.name: n.op for n in counts.nodes},
    )


def default_method_names() -> list[str]:
    catalogue = component("hwsim.compress.catalogue", "METHODS", "the method catalogue")
    names = list(catalogue.keys() if hasattr(catalogue, "keys") else catalogue)
    default = component("hwsim.compress.catalogue", "DEFAULT_METHODS", "the default method list") \
        if _has("hwsim.compress.catalogue", "DEFAULT_METHODS") else None
    return list(default) if default else names


def _has(module: str, attr: str) -> bool:
    try:
        component(module, attr, attr)
        return True
    except Unavailable:
        return False


def step_resolve_methods(cfg: PipelineConfig) -> list[tuple[str, Any]]:
    """(name, method object) pairs: from a methods file, the given names, or the default catalogue."""
    if cfg.methods_file:
        load_file = component("hwsim.compress.catalogue", "load_methods_file", "methods files")
        methods = load_file(cfg.methods_file)
        items = methods.items() if isinstance(methods, Mapping) else [(_name_of(m), m) for m in methods]
        return _with_baseline(cfg, [(str(n), m) for n, m in items])
    get_method = component("hwsim.compress.catalogue", "get_method", "the method catalogue")
    names = cfg.methods if cfg.methods is not None else default_method_names()
    if not names:
        raise UsageError("no methods to compare", where="--methods")
    resolved = [(n, get_method(n)) for n in names]
    # a method from a file (``file.yaml#name``) is shown by its own name, unless that name is taken
    short = [_name_of(m) if m is not None else n for n, m in resolved]
    return _with_baseline(cfg, [(s if short.count(s) == 1 else n, m) for (n, m), s in zip(resolved, short)])


def _with_baseline(cfg: PipelineConfig, methods: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The reference first: a comparison without the uncompressed model has nothing to compare against
    (unless ``baseline`` names another method of the list, or ``add_baseline`` is off)."""
    names = [n for n, _ in methods]
    if cfg.baseline is not None:
        if cfg.baseline not in names:
            raise UsageError(f"baseline {cfg.baseline!r} is not among the methods ({', '.join(names)})",
                             where="--baseline")
        return methods
    if not cfg.add_baseline or "baseline" in names:
        return methods
    get_method = component("hwsim.compress.catalogue", "get_method", "the method catalogue")
    return [("baseline", get_method("baseline")), *methods]


def _name_of(method: Any) -> str:
    return str(getattr(method, "name", method))


def step_load_devices(cfg: PipelineConfig) -> list[DeviceInfo]:
    load_device = component("hwsim.hardware", "load_device", "device profiles")
    out = []
    for name in cfg.devices:
        dev = load_device(name, dict(cfg.device_overrides) or None)
        out.append(DeviceInfo(name=name, kind=getattr(dev, "kind", None), outcome=Outcome(),
                              description=getattr(dev, "description", ""), profile=_profile_doc(dev),
                              peaks=device_peaks(dev), handle=dev))
    return out


def _profile_doc(dev: Any) -> dict[str, Any]:
    raw = getattr(dev, "raw", None)
    doc = dict(raw) if raw else {}
    overrides = getattr(dev, "overrides", ())
    if overrides:
        doc["overrides (--set)"] = {k: v for k, v in overrides}
    return doc


def device_peaks(dev: Any) -> dict[str, Any]:
    """Derived peaks for the roofline: best ops/s per dtype, bytes/s per memory level, ridge points."""
    try:
        peak_ops = component("hwsim.hardware.peaks", "peak_ops", "device peaks")
        level_bandwidths = component("hwsim.hardware.peaks", "level_bandwidths", "device peaks")
    except Unavailable:
        return {}
    best: dict[str, float] = {}
    units: dict[str, float] = {}
    for p in peak_ops(dev):
        units[p.label] = p.ops_per_s
        best[p.dtype] = max(best.get(p.dtype, 0.0), p.ops_per_s)
    bw = level_bandwidths(dev)
    dram = dev.dram.bandwidth_bytes_per_s
    return jsonable({"ops_per_s": best, "units_ops_per_s": units, "bandwidth_bytes_per_s": bw,
                     "dram_bandwidth_bytes_per_s": dram,
                     "ridge_ops_per_dram_byte": {k: v / dram for k, v in best.items()}})


@dataclass(frozen=True)
class _Identity:
    """The uncompressed model, used for the baseline when no method catalogue is available."""

    name: str = "baseline"
    description: str = "the model as given (fp32, no compression)"


IDENTITY = _Identity()


@dataclass(frozen=True)
class _Unchanged:
    graph: OpGraph
    results: tuple[Any, ...] = ()
    notes: tuple[str, ...] = ()
    needs_training: bool = False


def step_compress(graph: OpGraph, method: Any) -> Any:
    if method is IDENTITY:
        return _Unchanged(graph)
    apply_method = component("hwsim.compress", "apply_method", "compression")
    return apply_method(graph, method)


def step_simulate(graph: OpGraph, device: DeviceInfo, engine: str, method_name: str) -> Any:
    simulate = component("hwsim.sim.engines", "simulate", "the simulator")
    return simulate(graph, device.handle, engine, method_name)


def step_early_exit(graph: OpGraph, run: Any, summary: ModelSummary) -> EarlyExitCost | None:
    """Expected (over the exit probabilities) and worst-case cost of a model with early exits; None without."""
    return early_exit_cost(graph, run, summary.layer_macs, summary.batch)


def step_verify(graph: OpGraph, method: Any, cfg: VerifyConfig) -> Any:
    """Kernel exactness and fidelity of ``method`` on ``graph`` (already reduced when asked)."""
    if method is IDENTITY:
        raise Unavailable("verification needs the method catalogue (the uncompressed model is exact by definition)")
    verify_method = component("hwsim.analysis.verify", "verify_method", "verification")
    return verify_method(graph, method, cfg.inputs, cfg.seed)


def reduced_graph(graph: OpGraph) -> tuple[OpGraph, str]:
    """The graph with each image input's side cut to REDUCED_SIDE pixels, when its shapes allow it."""
    specs, changed = [], False
    for name in graph.inputs:
        spec = graph.tensor(name)
        if len(spec.shape) == 4 and min(spec.shape[2:]) > REDUCED_SIDE:
            h, w = spec.shape[2:]
            k = REDUCED_SIDE / min(h, w)
            spec = spec.with_(shape=(spec.shape[0], spec.shape[1], max(1, round(h * k)), max(1, round(w * k))))
            changed = True
        specs.append(spec)
    if not changed:
        return graph, "full-size input (already small)"
    try:
        small = graph.rebuild(inputs=specs)
    except HwsimError:
        return graph, "full-size input (the model's shapes do not allow a smaller one)"
    shape = "x".join(map(str, specs[0].shape))
    return small, f"one reduced input {shape} (fidelity measured on it, not on the model's full input)"


def verify_plan(cfg: PipelineConfig, graph: OpGraph, params: int) -> tuple[OpGraph | None, str]:
    """Which graph verification runs on, or None with the reason it is skipped."""
    mode = cfg.verify.mode
    if mode == "off":
        return None, "verification not requested (--verify off)"
    if mode == "auto" and params > AUTO_REDUCED_MAX_PARAMS:
        return None, (f"verification skipped: {params / 1e6:.1f}M parameters is over the default limit of "
                      f"{AUTO_REDUCED_MAX_PARAMS / 1e6:.0f}M (--verify reduced or --verify full runs it; minutes)")
    if mode == "reduced" or (mode == "auto" and params > AUTO_MAX_PARAMS):
        return reduced_graph(graph)
    return graph, f"full-size input, {cfg.verify.inputs} seeded input(s)"


def _verify_job(graph: OpGraph, method: Any, cfg: VerifyConfig, strict: bool) -> tuple[Any, Outcome]:
    """One verification, in a worker process: (result, outcome), never an exception across the pipe."""
    return _guard(PipelineConfig(model="", devices=["-"], strict=strict), lambda: step_verify(graph, method, cfg))


class VerifyPool:
    """Verifications running in worker processes while the main process compresses and simulates.

    Results are collected in submission order, so the outcome does not depend on timing."""

    def __init__(self, workers: int) -> None:
        self._pool = None
        self._jobs: dict[str, Any] = {}
        if workers > 0:
            import multiprocessing as mp

            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            self._pool = mp.get_context(method).Pool(processes=workers)

    def submit(self, name: str, graph: OpGraph, method: Any, cfg: VerifyConfig, strict: bool) -> None:
        if self._pool is None:
            self._jobs[name] = _verify_job(graph, method, cfg, strict)
        else:
            self._jobs[name] = self._pool.apply_async(_verify_job, (graph, method, cfg, strict))

    def result(self, name: str) -> tuple[Any, Outcome]:
        job = self._jobs[name]
        return job if isinstance(job, tuple) else job.get()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def _guard(cfg: PipelineConfig, fn: Callable[[], Any]) -> tuple[Any, Outcome]:
    """Run one step: (value, ok) or (None, unavailable/error with the message)."""
    try:
        return fn(), Outcome()
    except Unavailable as e:
        return None, Outcome("unavailable", str(e))
    except HwsimError as e:
        if cfg.strict:
            raise
        return None, Outcome("error", str(e))
    except Exception as e:  # noqa: BLE001 - one failing method must not hide the others' figures
        if cfg.strict:
            raise
        return None, Outcome("error", f"internal error: {type(e).__name__}: {e}")


def _pass_docs(results: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    out = []
    for r in results:
        out.append({"pass": getattr(r, "pass_name", ""), "changed": bool(getattr(r, "changed", False)),
                    "changes": [c.as_dict() for c in getattr(r, "changes", ())],
                    "notes": list(getattr(r, "notes", ()))})
    return tuple(out)


def run_method(cfg: PipelineConfig, graph: OpGraph, name: str, method: Any, devices: Sequence[DeviceInfo],
               progress: Progress = _noop,
               verified: Callable[[], tuple[Any, Outcome]] | None = None) -> MethodRun:
    """Compress once, simulate on every device, collect the verification: one MethodRun."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    compressed, c_out = _guard(cfg, lambda: step_compress(graph, method))
    timings["compress"] = time.perf_counter() - t0
    progress(f"{name}: compressed")
    cgraph = getattr(compressed, "graph", None) if compressed is not None else None
    summary = summarize(cgraph) if cgraph is not None else None
    runs = []
    for dev in devices:
        t0 = time.perf_counter()
        if cgraph is None:
            runs.append(DeviceRun(dev.name, cfg.engine, Outcome("skipped", "compression did not produce a graph")))
        elif not dev.outcome.ok:
            runs.append(DeviceRun(dev.name, cfg.engine, dev.outcome))
        else:
            run, s_out = _guard(cfg, lambda: step_simulate(cgraph, dev, cfg.engine, name))
            savings = step_savings(cgraph, dev) if s_out.ok and dev.kind == "fpga" else ()
            exits = None
            if s_out.ok:
                exits, e_out = _guard(cfg, lambda: step_early_exit(cgraph, run, summary))
                if not e_out.ok:  # a run whose expected cost is unknown must not pass for one without exits
                    run, s_out = None, Outcome(e_out.status, f"early-exit cost: {e_out.message}")
            runs.append(DeviceRun(dev.name, cfg.engine, s_out, run, savings=savings, early_exit=exits))
        timings[f"simulate:{dev.name}"] = time.perf_counter() - t0
        progress(f"{name}: simulated on {dev.name}")
    t0 = time.perf_counter()
    if cgraph is None:
        vres, v_out = None, Outcome("skipped", "compression did not produce a graph")
    elif verified is None:
        vres, v_out = None, Outcome("skipped", "verification not requested")
    else:
        vres, v_out = verified()
    timings["verify_wait"] = time.perf_counter() - t0
    if v_out != PENDING:
        progress(f"{name}: verified")
    notes = tuple(getattr(compressed, "notes", ()) or ())
    for r in getattr(compressed, "results", ()) or ():
        notes += tuple(n for n in getattr(r, "notes", ()) if n not in notes)
    return MethodRun(
        method=name, description=str(getattr(method, "description", "") or ""), compress=c_out,
        summary=summary, runs=tuple(runs), verify=v_out, verify_result=vres,
        needs_training=getattr(compressed, "needs_training", None),
        notes=notes, passes=_pass_docs(getattr(compressed, "results", ()) or ()), timings_s=timings,
    )


#: The verification outcome of a method whose verification is still running (collected after all methods).
PENDING = Outcome("skipped", "verification pending")


def collect_verification(mr: MethodRun, verified: Callable[[], tuple[Any, Outcome]],
                         progress: Progress = _noop) -> MethodRun:
    """``mr`` with its (pending) verification filled in."""
    if mr.verify != PENDING:
        return mr
    t0 = time.perf_counter()
    vres, v_out = verified()
    progress(f"{mr.method}: verified")
    return dataclasses.replace(mr, verify=v_out, verify_result=vres,
                               timings_s={**mr.timings_s, "verify_wait": time.perf_counter() - t0})


def should_materialize(cfg: PipelineConfig, params: int) -> bool:
    return cfg.materialize == "always" or (cfg.materialize == "auto" and params <= AUTO_MAX_PARAMS)


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


def run_pipeline(cfg: PipelineConfig, progress: Progress = _noop, on_plan: Callable[[int], None] | None = None,
                 command: str = "") -> PipelineResult:
    """Run every step for every method and device; see the module docstring for failure handling."""
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    graph = step_load_model(cfg)
    model = summarize(graph)
    timings["load_model"] = time.perf_counter() - t0
    try:
        devices = step_load_devices(cfg)
    except Unavailable as e:
        devices = [DeviceInfo(name=n, kind=None, outcome=Outcome("unavailable", str(e))) for n in cfg.devices]
    try:
        methods = step_resolve_methods(cfg)
    except Unavailable as e:
        names = cfg.methods or ["baseline"]
        methods = [(n, None) for n in names]
        unavailable = Outcome("unavailable", str(e))
    else:
        unavailable = None
    if cfg.focus is not None and cfg.focus not in [n for n, _ in methods]:
        raise UsageError(f"focus method {cfg.focus!r} is not among the compared methods "
                         f"({', '.join(n for n, _ in methods)})", where="--focus")
    if on_plan is not None:
        on_plan(units_of_work(len(methods), len(devices)))
    vgraph, vnote = verify_plan(cfg, graph, model.params)
    cgraph_in = graph
    if should_materialize(cfg, model.params):
        t0 = time.perf_counter()
        cgraph_in = graph.materialize()  # passes then encode the real (seeded or shipped) weights
        timings["materialize"] = time.perf_counter() - t0
    pool = VerifyPool(min(cfg.verify.workers, len(methods)) if vgraph is not None and unavailable is None else 0)
    runs = []
    try:
        # a reduced input is one input; the full-size one takes the configured number
        vcfg = cfg.verify if vgraph is graph else cfg.verify.model_copy(update={"inputs": 1})
        if vgraph is not None and unavailable is None:
            for name, method in methods:
                pool.submit(name, vgraph, method, vcfg, cfg.strict)
        for name, method in methods:
            if unavailable is not None and name == "baseline":
                # The baseline is the model itself: it needs no compression catalogue to be simulated.
                runs.append(run_method(cfg, cgraph_in, name, IDENTITY, devices, progress,
                                       lambda: (None, Outcome("unavailable", unavailable.message))))
                continue
            if unavailable is not None:
                runs.append(MethodRun(name, "", unavailable, None,
                                      tuple(DeviceRun(d.name, cfg.engine, Outcome("skipped", unavailable.message))
                                            for d in devices), Outcome("skipped", unavailable.message)))
                for _ in range(2 + len(devices)):
                    progress(f"{name}: unavailable")
                continue
            if vgraph is None:
                runs.append(run_method(cfg, cgraph_in, name, method, devices, progress,
                                       lambda: (None, Outcome("skipped", vnote))))
            else:  # compress and simulate every method first; verifications run meanwhile in the pool
                runs.append(run_method(cfg, cgraph_in, name, method, devices, progress, lambda: (None, PENDING)))
        runs = [collect_verification(r, lambda n=r.method: pool.result(n), progress) for r in runs]
    finally:
        pool.close()
    comparison = compare(runs, cfg.baseline)
    focus = choose_focus(comparison, cfg.focus)
    extras = {d.name: device_extras(d, graph, runs) for d in devices if d.outcome.ok}
    timings["total"] = time.perf_counter() - t_start
    return PipelineResult(cfg, model, tuple(devices), tuple(runs), comparison, focus, timings, command,
                          {"devices": {k: v for k, v in extras.items() if v}, "verification": vnote,
                           "weights": "materialized (real encodings)" if cgraph_in is not graph else
                           "not materialized (sizes of encoded formats are formula estimates)"})


def step_savings(graph: OpGraph, device: DeviceInfo) -> tuple[dict[str, Any], ...]:
    """FPGA: what each binary/ternary layer's engine uses against the same engine at int8 and fp16."""
    try:
        layer_savings = component("hwsim.cost.fpga", "layer_savings", "binary/ternary savings")
        prepare = component("hwsim.cost.work", "prepare", "prepared workloads")
    except Unavailable:
        return ()
    return tuple(jsonable(s.as_dict()) for s in layer_savings(prepare(graph), device.handle))


def device_extras(device: DeviceInfo, graph: OpGraph, runs: Sequence[MethodRun]) -> dict[str, Any]:
    """Device-specific figures beside the table: on FPGAs, what binary/ternary arithmetic saves."""
    if device.kind != "fpga":
        return {}
    try:
        component("hwsim.cost.fpga", "layer_savings", "binary/ternary savings")
    except Unavailable as e:
        return {"adder_savings": {"status": "unavailable", "message": str(e)}}
    per_method = {}
    for mr in runs:
        dr = mr.run_on(device.name)
        if dr is not None and dr.savings:
            per_method[mr.method] = list(dr.savings)
    if not per_method:
        return {"adder_savings": {"status": "none", "message": "no compared method has binary or ternary layers"}}
    return {"adder_savings": {"status": "ok", "methods": per_method}}


def write_json(result: PipelineResult, path: str | Path) -> None:
    from hwsim.report.html import atomic_write

    atomic_write(path, result.result_json())


# --------------------------------------------------------------------------------------------------
# Sweeps: compress once per method, then the analytic engine at every device point


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
class SweepRun:
    config: SweepConfig
    model: ModelSummary
    device: DeviceInfo
    result: Any  # hwsim.analysis.sweep.SweepResult
    cheapest: Mapping[str, Any]
    timings_s: Mapping[str, float]
    command: str = ""


def prepare_sweep(cfg: SweepConfig) -> tuple[Any, list[Any], list[Any], DeviceInfo, OpGraph]:
    """Parse and validate everything a sweep needs before any work: specs, points, device, model."""
    from hwsim.analysis.sweep import check_keys, make_points, parse_vary, validate_against

    specs = [parse_vary(v) for v in cfg.vary]
    check_keys(specs)
    points = make_points(specs, cfg.samples, cfg.seed)
    apply_overrides = component("hwsim.hardware", "apply_overrides", "device profiles")
    load_device = component("hwsim.hardware", "load_device", "device profiles")
    dev = load_device(cfg.device, dict(cfg.fixed) or None)
    base_raw = {k: v for k, v in dict(dev.raw).items()}
    validate_against(base_raw, specs, lambda raw, ov: apply_overrides(raw, ov, name=dev.name, source=dev.source))
    info = DeviceInfo(name=dev.name, kind=dev.kind, outcome=Outcome(), description=dev.description,
                      profile=_profile_doc(dev), peaks=device_peaks(dev), handle=dev)
    graph = load_model(cfg.model)
    return specs, points, base_raw, info, graph


def run_sweep_config(cfg: SweepConfig, progress: Callable[[int], None] | None = None,
                     on_plan: Callable[[int], None] | None = None, command: str = "",
                     prepared: tuple[Any, ...] | None = None) -> SweepRun:
    from hwsim.analysis.cache import ResultCache, file_digest
    from hwsim.analysis.sweep import SweepTask, cheapest_meeting, run_sweep

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    specs, points, base_raw, info, graph = prepared or prepare_sweep(cfg)
    names = cfg.methods or ["baseline"]
    methods_cfg = PipelineConfig(model=cfg.model, devices=[cfg.device], methods=names,
                                 methods_file=cfg.methods_file, add_baseline=False)
    try:
        methods = step_resolve_methods(methods_cfg)
    except Unavailable as e:
        if cfg.methods_file is None and names == ["baseline"]:
            methods = [("baseline", None)]  # the baseline is the model itself: no catalogue needed
        else:
            raise UsageError(str(e), where="--methods") from None
    timings["prepare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    graphs: dict[str, OpGraph] = {}
    defs: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    guard_cfg = PipelineConfig(model=cfg.model, devices=[cfg.device], materialize=cfg.materialize)
    params = count_graph(graph).params
    source = graph.materialize() if should_materialize(guard_cfg, params) else graph  # as the report does
    for name, method in methods:
        if method is None:
            graphs[name], defs[name] = graph, {"name": name, "identity": True}
            continue
        compressed, outcome = _guard(guard_cfg, lambda: step_compress(source, method))
        if compressed is None:
            unavailable[name] = outcome.message
            continue
        graphs[name] = compressed.graph
        defs[name] = jsonable(method)
    timings["compress"] = time.perf_counter() - t0
    model = summarize(graph)
    task = SweepTask(model_digest=file_digest(cfg.model), device_name=info.name,
                     device_source=str(getattr(info.handle, "source", "")), raw=base_raw, fixed=dict(cfg.fixed),
                     engine=cfg.engine, batch=model.batch, graphs=graphs, method_defs=defs, unavailable=unavailable)
    if on_plan is not None:
        on_plan(len(points) * len(graphs))
    out = Path(cfg.output)
    t0 = time.perf_counter()
    with ResultCache(out / "cache" / "results.jsonl") as cache:
        result = run_sweep(task, specs, points, cache, cfg.scheduler, cfg.workers, progress)
    timings["evaluate"] = time.perf_counter() - t0
    cheapest: dict[str, Any] = {}
    if cfg.target_latency_s is not None:
        cheapest["latency_s"] = {"target": cfg.target_latency_s,
                                 "best": cheapest_meeting(result, "latency_s", cfg.target_latency_s)}
    if cfg.target_energy_j is not None:
        cheapest["energy_j"] = {"target": cfg.target_energy_j,
                                "best": cheapest_meeting(result, "energy_j", cfg.target_energy_j)}
    return SweepRun(cfg, model, info, result, cheapest, timings, command)


def write_sweep_outputs(run: SweepRun) -> dict[str, Path]:
    """results.csv, results.parquet and sweep.html in the output directory, each written atomically."""
    import io

    from hwsim.report.html import atomic_write
    from hwsim.report.sweep_report import render_sweep

    out = Path(run.config.output)
    df = run.result.dataframe()
    paths = {"csv": out / "results.csv", "parquet": out / "results.parquet", "html": out / "sweep.html"}
    atomic_write(paths["csv"], df.to_csv(index=False, lineterminator="\n"))
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write(paths["parquet"], buf.getvalue())
    atomic_write(paths["html"], render_sweep(run))
    return paths
