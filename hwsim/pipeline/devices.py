"""The devices of a run: profiles as loaded (with ``--set`` overrides), their peaks, FPGA extras."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hwsim.analysis.metrics import MethodRun, Outcome, jsonable
from hwsim.cost.fpga import layer_savings
from hwsim.cost.work import prepare
from hwsim.hardware import DeviceProfile, load_device
from hwsim.hardware.peaks import level_bandwidths, no_native_path_note, peak_ops
from hwsim.hardware.software_model import apply_software_model
from hwsim.ir.graph import OpGraph


@dataclass(frozen=True)
class DeviceInfo:
    """A device of the comparison: its profile as loaded (with overrides) and its derived peaks."""

    name: str
    kind: str | None
    outcome: Outcome
    description: str = ""
    profile: Mapping[str, Any] = field(default_factory=dict)  # the YAML document (JSON data)
    peaks: Mapping[str, Any] = field(default_factory=dict)  # see ``device_peaks`` (JSON data)
    handle: DeviceProfile | None = field(default=None, repr=False, compare=False)


def device_info(dev: DeviceProfile, name: str | None = None) -> DeviceInfo:
    return DeviceInfo(name=dev.name if name is None else name, kind=dev.kind, outcome=Outcome(),
                      description=dev.description, profile=profile_doc(dev), peaks=device_peaks(dev), handle=dev)


def load_devices(names: Sequence[str], overrides: Mapping[str, str]) -> list[DeviceInfo]:
    """Every named device (a catalogue name or a YAML path), each with the same overrides applied."""
    return [device_info(load_device(name, dict(overrides) or None), name) for name in names]


def profile_doc(dev: DeviceProfile) -> dict[str, Any]:
    """The profile as it took effect: the document with its software-model class's keys filled in."""
    doc = apply_software_model(dict(dev.raw), dev.source) if dev.raw else {}
    if dev.overrides:
        doc["overrides (--set)"] = {k: v for k, v in dev.overrides}
    return doc


def device_peaks(dev: DeviceProfile) -> dict[str, Any]:
    """Derived peaks for the roofline: best ops/s per dtype, bytes/s per memory level, ridge points."""
    best: dict[str, float] = {}
    units: dict[str, float] = {}
    for p in peak_ops(dev):
        units[p.label] = p.ops_per_s
        best[p.dtype] = max(best.get(p.dtype, 0.0), p.ops_per_s)
    dram = dev.dram.bandwidth_bytes_per_s
    return jsonable({"ops_per_s": best, "units_ops_per_s": units, "bandwidth_bytes_per_s": level_bandwidths(dev),
                     "dram_bandwidth_bytes_per_s": dram,
                     "ridge_ops_per_dram_byte": {k: v / dram for k, v in best.items()},
                     "no_path": {k: n for k in ("fp32",) if (n := no_native_path_note(dev, k))}})


def savings(graph: OpGraph, device: DeviceProfile) -> tuple[dict[str, Any], ...]:
    """FPGA: what each binary/ternary layer's engine uses against the same engine at int8 and fp16."""
    return tuple(jsonable(s.as_dict()) for s in layer_savings(prepare(graph), device))


def device_extras(device: DeviceInfo, runs: Sequence[MethodRun]) -> dict[str, Any]:
    """Device-specific figures beside the table: on FPGAs, what binary/ternary arithmetic saves."""
    if device.kind != "fpga":
        return {}
    per_method = {}
    for mr in runs:
        dr = mr.run_on(device.name)
        if dr is not None and dr.savings:
            per_method[mr.method] = list(dr.savings)
    if not per_method:
        return {"adder_savings": {"status": "none", "message": "no compared method has binary or ternary layers"}}
    return {"adder_savings": {"status": "ok", "methods": per_method}}


__all__ = ["DeviceInfo", "device_extras", "device_info", "device_peaks", "load_devices", "profile_doc", "savings"]
