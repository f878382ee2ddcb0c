"""The records of one comparison and the flat metrics row each (method, device) pair becomes.

``MethodRun`` is what the pipeline collects for one method: what compression did, one ``DeviceRun`` per
device (a ``RunResult`` or why there is none), and the verification outcome. ``method_metrics`` turns
a (MethodRun, DeviceRun) pair into a ``MethodMetrics`` row with units in every name; a figure the tool
could not obtain stays None, and the row's ``status`` says why, so a report can print "unavailable"
instead of inventing a number.

Early exits (``hwsim.compress.early_exit``): a model whose inputs may leave at exit branches has two
costs, the *expected* one (weighted by the exit probabilities) and the *worst case* (no input leaves
early: the whole network and every exit branch run). ``early_exit_cost`` derives both from the
simulated run; a row's headline latency, throughput, energy and MACs are the expected ones and the
``*_worst`` fields the worst case (equal to the headline for a model without exits).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hwsim.compress.early_exit import exit_costs, expected_and_worst_case
from hwsim.ir.graph import OpGraph
from hwsim.sim.result import RunResult

if TYPE_CHECKING:  # the verifier imports the kernels: a type only, not a load-time dependency
    from hwsim.analysis.verify import VerifyResult

Status = Literal["ok", "unavailable", "error", "skipped"]

#: Energy components in the order reports stack them (cost/types.ENERGY_COMPONENTS plus static).
ENERGY_PARTS = ("compute", "onchip", "dram", "static")
#: FPGA resources a report shows, in display order.
RESOURCE_KINDS = ("lut", "ff", "dsp", "bram18")


@dataclass(frozen=True)
class Outcome:
    """How one step went: ``ok``, ``unavailable`` (a component is not built or does not apply), ``error``."""

    status: Status = "ok"
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class ModelSummary:
    """Device-independent counts of one (compressed) graph."""

    name: str
    nodes: int
    params: int
    macs: int
    other_ops: int
    weight_bytes: int
    batch: int
    layer_ops: Mapping[str, int] = field(default_factory=dict)  # 2 x MACs + other arithmetic, per node
    layer_weight_bytes: Mapping[str, int] = field(default_factory=dict)
    layer_macs: Mapping[str, int] = field(default_factory=dict)
    layer_op: Mapping[str, str] = field(default_factory=dict)
    #: MACs left with zero weights and zero activations skipped (``hwsim.ir.sparsity``; expected over the
    #: exit probabilities with early exits), and how the activation densities behind it were obtained
    effective_macs: float | None = None
    activation_density_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExitCost:
    """What one input that leaves at one exit costs: the exit's ancestors plus the branches of the
    earlier exits (it was tested there and stayed). Energy per inference; latency and MACs per run."""

    exit: str
    after: str
    probability: float
    latency_s: float
    energy_j: float
    macs: float


@dataclass(frozen=True)
class EarlyExitCost:
    """Expected (weighted by exit probabilities) and worst-case (no early exit) cost of one run.

    ``expected = sum_i p_i cost_i + (1 - sum_i p_i) worst``. Latency and MACs per run as simulated (the
    batch, as the rest of a row), energies per inference. The probabilities are stated assumptions
    of the method, not measured."""

    exits: tuple[ExitCost, ...]
    full_probability: float  # share of inputs that run the whole network
    expected_latency_s: float
    worst_latency_s: float
    expected_energy_j: Mapping[str, float]  # per energy part (compute / onchip / dram / static)
    worst_energy_j: Mapping[str, float]
    expected_macs: float
    worst_macs: float
    note: str = ""

    @property
    def expected_energy_total_j(self) -> float:
        return float(sum(self.expected_energy_j.values()))

    @property
    def worst_energy_total_j(self) -> float:
        return float(sum(self.worst_energy_j.values()))

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["expected_energy_total_j"] = self.expected_energy_total_j
        d["worst_energy_total_j"] = self.worst_energy_total_j
        return d


def early_exit_cost(graph: OpGraph, run: RunResult, macs: Mapping[str, float], batch: int = 1) -> EarlyExitCost | None:
    """The expected and worst-case cost of ``run`` (a simulation of ``graph``), or None without exits.

    Per node, the cost is what the engine spent on it (cycles and energy of its op timings; a node the
    engine did not schedule spent nothing). The worst case is the run as simulated. Energy the engine
    books outside the ops (static leakage, proportional to time) is split by the latency fraction. When
    the engine overlaps ops (FPGA dataflow, the event engine), the run's latency is not the sum of its
    ops' cycles; the expected latency is then the run's latency scaled by the expected share of op
    cycles, and the note says so."""
    if not graph.meta.get("early_exits"):
        return None
    names = [n.name for n in graph.nodes]
    known = set(names)
    stray = sorted({op.node for op in run.ops} - known)
    if stray:
        raise ValueError(f"run of {run.model!r} has op timings for nodes outside the graph: {stray[:5]}")
    cycles = dict.fromkeys(names, 0.0)
    parts = {p: dict.fromkeys(names, 0.0) for p in run.energy_pj}
    for op in run.ops:
        cycles[op.node] += op.cycles
        for p, v in op.energy_pj.items():
            parts.setdefault(p, dict.fromkeys(names, 0.0))[op.node] += float(v)
    exp_c, worst_c = expected_and_worst_case(cycles, graph)
    exit_c = exit_costs(cycles, graph)
    node_macs = {n: float(macs.get(n, 0)) for n in names}
    exp_m, worst_m = expected_and_worst_case(node_macs, graph)
    exit_m = exit_costs(node_macs, graph)
    # seconds per op cycle: 1/clock for engines that run ops one after another
    op_total = sum(cycles.values())
    s_per_cycle = (run.seconds / op_total) if op_total else 0.0
    if op_total and run.total_cycles == op_total:
        s_per_cycle = 1.0 / run.clock_hz
    note = ""
    if op_total and run.total_cycles != op_total:
        note = (f"the {run.engine} engine overlaps ops ({run.total_cycles} cycles for {int(op_total)} op cycles): "
                "expected latency is the simulated latency scaled by the expected share of op cycles")
    frac = lambda c: (c / worst_c) if worst_c else 1.0  # noqa: E731 - share of the run's time
    exp_e: dict[str, float] = {}
    worst_e: dict[str, float] = {}
    exit_e = [0.0] * len(exit_c)
    for p, per_node in parts.items():
        e_exp, e_worst = expected_and_worst_case(per_node, graph)
        rest = float(run.energy_pj.get(p, 0.0)) - e_worst  # booked outside the ops: proportional to time
        exp_e[p] = (e_exp + rest * frac(exp_c)) * 1e-12 / batch
        worst_e[p] = (e_worst + rest) * 1e-12 / batch
        for i, (c, e) in enumerate(zip(exit_c, exit_costs(per_node, graph))):
            exit_e[i] += (e + rest * frac(c)) * 1e-12 / batch
    meta = list(graph.meta["early_exits"])
    exits = tuple(ExitCost(str(m["exit"]), str(m["after"]), float(m["probability"]), c * s_per_cycle, e, mm)
                  for m, c, e, mm in zip(meta, exit_c, exit_e, exit_m))
    return EarlyExitCost(
        exits=exits, full_probability=1.0 - sum(x.probability for x in exits),
        expected_latency_s=exp_c * s_per_cycle, worst_latency_s=run.seconds,
        expected_energy_j=exp_e, worst_energy_j=worst_e, expected_macs=exp_m, worst_macs=worst_m,
        note=note)


@dataclass(frozen=True)
class DeviceRun:
    """One simulated inference of one method on one device, or why there is none."""

    device: str
    engine: str
    outcome: Outcome
    run: RunResult | None = None
    seconds_wall: float = 0.0
    #: FPGA only: per binary/ternary layer, its engine's resources beside the same engine at int8 and fp16
    savings: tuple[Mapping[str, Any], ...] = ()
    #: models with early exits: the expected and the worst-case cost (None without exits)
    early_exit: EarlyExitCost | None = None


@dataclass(frozen=True)
class MethodRun:
    """Everything the pipeline learned about one compression method."""

    method: str
    description: str
    compress: Outcome
    summary: ModelSummary | None
    runs: tuple[DeviceRun, ...]
    verify: Outcome
    verify_result: VerifyResult | None = None  # when verification ran
    needs_training: bool | None = None
    notes: tuple[str, ...] = ()
    passes: tuple[Mapping[str, Any], ...] = ()  # per pass: name, changed, per-layer changes
    timings_s: Mapping[str, float] = field(default_factory=dict)
    accuracy: Any = None  # hwsim.analysis.accuracy.MethodAccuracy when measured on labelled data

    def run_on(self, device: str) -> DeviceRun | None:
        return next((r for r in self.runs if r.device == device), None)


@dataclass(frozen=True)
class Fidelity:
    """What verification says, reduced to the figures a table shows."""

    kernel_status: str  # exact / within tolerance / mismatch / unavailable / error
    sqnr_db: float | None = None
    cosine: float | None = None
    top1_agreement: float | None = None
    inputs: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class MethodMetrics:
    """One row of the comparison: one method on one device. Units are in the names."""

    method: str
    device: str
    engine: str
    status: Status
    status_message: str
    model_size_bytes: int | None
    params: int | None
    macs: int | float | None  # expected MACs (a float) with early exits
    other_ops: int | None
    latency_s: float | None
    throughput_inf_per_s: float | None
    energy_j: float | None
    energy_compute_j: float | None
    energy_onchip_j: float | None
    energy_dram_j: float | None
    energy_static_j: float | None
    peak_memory_bytes: int | None
    footprint_bytes: int | None
    fits_memory: bool | None
    dram_bytes: int | None
    lut: int | None
    ff: int | None
    dsp: int | None
    bram18: int | None
    lut_limit: int | None
    ff_limit: int | None
    dsp_limit: int | None
    bram18_limit: int | None
    fits_resources: bool | None
    kernel_status: str
    sqnr_db: float | None
    cosine: float | None
    top1_agreement: float | None
    needs_training: bool | None
    notes: tuple[str, ...]
    #: worst case (no input leaves at an early exit); equal to the headline figures without exits
    latency_worst_s: float | None = None
    energy_worst_j: float | None = None
    macs_worst: int | None = None
    #: share of inputs leaving at each early exit, in trunk order (empty without exits)
    exit_probabilities: tuple[float, ...] = ()
    #: task accuracy on labelled data (test split; retrained where the method needs it), None if unknown
    task_top1: float | None = None
    task_drop_pts: float | None = None  # fp32 top-1 minus this method's, in percentage points
    task_images: int | None = None
    accuracy_how: str = ""  # measured post-training / retrained: ... / unknown: why
    fidelity_inputs: int | None = None  # inputs behind the fidelity figures
    #: MACs with zero weights and zero activations skipped (expected, with early exits); the sources of the
    #: activation densities used (measured / annotated / assumed)
    macs_effective: float | None = None
    activation_density_sources: tuple[str, ...] = ()
    #: FPGA overlay: BRAM18 its buffers would take to hold the largest layer; above ``bram18`` when capped
    bram18_wanted: int | None = None

    @property
    def has_early_exits(self) -> bool:
        return bool(self.exit_probabilities)

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["exit_probabilities"] = list(self.exit_probabilities)
        d["notes"] = list(self.notes)
        return d


def fidelity_of(outcome: Outcome, result: Any) -> Fidelity:
    """Read a verification result (hwsim.analysis.verify.VerifyResult) into a ``Fidelity``.

    Read by attribute so this module does not depend on the verifier's internals beyond the figures
    it reports."""
    if not outcome.ok or result is None:
        status = "unavailable" if outcome.status in ("unavailable", "skipped") else "error"
        return Fidelity(kernel_status=status, detail=outcome.message)
    kernel = _kernel_status(result)
    fid = getattr(result, "fidelity", None) or result
    return Fidelity(
        kernel_status=kernel,
        sqnr_db=_num(_first_attr(fid, ("sqnr_db", "output_sqnr_db"))),
        cosine=_num(_first_attr(fid, ("cosine", "cosine_similarity"))),
        top1_agreement=_num(_first_attr(fid, ("top1_agreement", "top1"))),
        inputs=_int(_first_attr(fid, ("inputs", "n_inputs", "samples"))),
    )


def _first_attr(obj: Any, names: Sequence[str]) -> Any:
    for n in names:
        if isinstance(obj, Mapping) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return None


def _kernel_status(result: Any) -> str:
    status = _first_attr(result, ("kernel_status", "kernels_status"))
    if isinstance(status, str):
        return status
    exact = _first_attr(result, ("kernels_exact", "kernel_exact", "exact"))
    if exact is None:
        return "unavailable"
    return "exact" if bool(exact) else "mismatch"


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) or math.isinf(f) else None


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _energy(run: RunResult, part: str, batch: int) -> float | None:
    if part not in run.energy_pj:
        return None
    return float(run.energy_pj[part]) * 1e-12 / batch


#: Top-1 agreement with fp32 is shown only when measured over at least this many inputs.
MIN_AGREEMENT_INPUTS = 100


def _task_accuracy(acc: Any) -> dict[str, Any]:
    """The comparison's accuracy fields from a MethodAccuracy (read by attribute), or unknown."""
    final = getattr(acc, "final", None)
    if acc is None or final is None:
        return {}
    how = "retrained: " + acc.retrain_how if acc.retrained is not None else "post-training" + (
        f" ({acc.post_training_how})" if acc.post_training_how else "")
    return {"task_top1": final.top1, "task_drop_pts": acc.drop_points, "task_images": final.n, "accuracy_how": how}


def method_metrics(mr: MethodRun, dr: DeviceRun) -> MethodMetrics:
    """The comparison row of ``mr`` on ``dr.device``. Energies are per inference (divided by batch)."""
    s = mr.summary
    batch = s.batch if s else 1
    run = dr.run if dr.outcome.ok else None
    fid = fidelity_of(mr.verify, mr.verify_result)
    status: Status = "ok"
    message = ""
    for step, outcome in (("compress", mr.compress), ("simulate", dr.outcome)):
        if not outcome.ok:
            status, message = outcome.status, f"{step}: {outcome.message}"
            break
    res = dict(run.resources) if run else {}
    lim = dict(run.resource_limits) if run else {}
    latency = run.seconds if run else None
    energy = {p: _energy(run, p, batch) for p in ENERGY_PARTS} if run else dict.fromkeys(ENERGY_PARTS)
    energy_total = (run.energy_total_pj * 1e-12 / batch) if run else None
    macs: float | None = s.macs if s else None
    worst = (latency, energy_total, s.macs if s else None)
    ee = dr.early_exit if run else None
    if ee is not None:  # headline: expected over the exit probabilities; worst case beside it
        latency, energy_total, macs = ee.expected_latency_s, ee.expected_energy_total_j, ee.expected_macs
        energy = {p: ee.expected_energy_j.get(p) if energy[p] is not None else None for p in ENERGY_PARTS}
        worst = (ee.worst_latency_s, ee.worst_energy_total_j, int(round(ee.worst_macs)))
    return MethodMetrics(
        method=mr.method, device=dr.device, engine=dr.engine, status=status, status_message=message,
        model_size_bytes=s.weight_bytes if s else None,
        params=s.params if s else None,
        macs=macs,
        other_ops=s.other_ops if s else None,
        latency_s=latency,
        throughput_inf_per_s=(batch / latency) if latency else None,
        energy_j=energy_total,
        energy_compute_j=energy["compute"],
        energy_onchip_j=energy["onchip"],
        energy_dram_j=energy["dram"],
        energy_static_j=energy["static"],
        peak_memory_bytes=run.peak_activation_bytes if run else None,
        footprint_bytes=run.footprint_bytes if run else None,
        fits_memory=run.fits_memory if run else None,
        dram_bytes=int(run.transfer_bytes["dram"]) if run and "dram" in run.transfer_bytes else None,
        lut=res.get("lut"), ff=res.get("ff"), dsp=res.get("dsp"), bram18=res.get("bram18"),
        lut_limit=lim.get("lut"), ff_limit=lim.get("ff"), dsp_limit=lim.get("dsp"),
        bram18_limit=lim.get("bram18"), bram18_wanted=res.get("bram18_wanted"),
        fits_resources=run.fits_resources if run else None,
        kernel_status=fid.kernel_status, sqnr_db=fid.sqnr_db, cosine=fid.cosine,
        # top-1 agreement over a handful of inputs says nothing: shown only over MIN_AGREEMENT_INPUTS
        top1_agreement=fid.top1_agreement if (fid.inputs or 0) >= MIN_AGREEMENT_INPUTS else None,
        fidelity_inputs=fid.inputs,
        **_task_accuracy(mr.accuracy),
        needs_training=mr.needs_training,
        notes=tuple(mr.notes) + ((dr.run.notes if dr.run else ())) + ((ee.note,) if ee and ee.note else ()),
        latency_worst_s=worst[0], energy_worst_j=worst[1], macs_worst=worst[2],
        exit_probabilities=tuple(x.probability for x in ee.exits) if ee else (),
        macs_effective=s.effective_macs if s else None,
        activation_density_sources=s.activation_density_sources if s else (),
    )


def jsonable(obj: Any) -> Any:
    """Plain JSON data from records, numpy values, enums and mappings; keys sorted by the caller's dump.

    NaN becomes None and infinities the strings "inf"/"-inf" (JSON has neither; a lossless method's
    SQNR is really infinite, which None would hide)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in obj]
        return sorted(items, key=repr) if isinstance(obj, (set, frozenset)) else items
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, enum.Enum):
        return jsonable(obj.value)
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        return obj if math.isfinite(obj) else ("inf" if obj > 0 else "-inf")
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if hasattr(obj, "as_dict"):
        return jsonable(obj.as_dict())
    if hasattr(obj, "model_dump"):  # pydantic models (method definitions, configs)
        return jsonable(obj.model_dump())
    return str(obj)
