"""The records of one comparison and the flat metrics row each (method, device) pair becomes.

``MethodRun`` is what the pipeline collects for one method: what compression did, one ``DeviceRun`` per
device (a ``RunResult`` or why there is none), and the verification outcome. ``method_metrics`` turns
a (MethodRun, DeviceRun) pair into a ``MethodMetrics`` row with units in every name; a figure the tool
could not obtain stays None, and the row's ``status`` says why, so a report can print "unavailable"
instead of inventing a number.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hwsim.sim.result import RunResult

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


@dataclass(frozen=True)
class MethodRun:
    """Everything the pipeline learned about one compression method."""

    method: str
    description: str
    compress: Outcome
    summary: ModelSummary | None
    runs: tuple[DeviceRun, ...]
    verify: Outcome
    verify_result: Any = None  # hwsim.analysis.verify.VerifyResult when verification ran
    needs_training: bool | None = None
    notes: tuple[str, ...] = ()
    passes: tuple[Mapping[str, Any], ...] = ()  # per pass: name, changed, per-layer changes
    timings_s: Mapping[str, float] = field(default_factory=dict)

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
    macs: int | None
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

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
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
    return MethodMetrics(
        method=mr.method, device=dr.device, engine=dr.engine, status=status, status_message=message,
        model_size_bytes=s.weight_bytes if s else None,
        params=s.params if s else None,
        macs=s.macs if s else None,
        other_ops=s.other_ops if s else None,
        latency_s=latency,
        throughput_inf_per_s=(batch / latency) if latency else None,
        energy_j=(run.energy_total_pj * 1e-12 / batch) if run else None,
        energy_compute_j=_energy(run, "compute", batch) if run else None,
        energy_onchip_j=_energy(run, "onchip", batch) if run else None,
        energy_dram_j=_energy(run, "dram", batch) if run else None,
        energy_static_j=_energy(run, "static", batch) if run else None,
        peak_memory_bytes=run.peak_activation_bytes if run else None,
        footprint_bytes=run.footprint_bytes if run else None,
        fits_memory=run.fits_memory if run else None,
        dram_bytes=int(run.transfer_bytes["dram"]) if run and "dram" in run.transfer_bytes else None,
        lut=res.get("lut"), ff=res.get("ff"), dsp=res.get("dsp"), bram18=res.get("bram18"),
        lut_limit=lim.get("lut"), ff_limit=lim.get("ff"), dsp_limit=lim.get("dsp"),
        bram18_limit=lim.get("bram18"),
        fits_resources=run.fits_resources if run else None,
        kernel_status=fid.kernel_status, sqnr_db=fid.sqnr_db, cosine=fid.cosine,
        top1_agreement=fid.top1_agreement,
        needs_training=mr.needs_training,
        notes=tuple(mr.notes) + ((dr.run.notes if dr.run else ())),
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
