"""RunResult: what an engine reports for one (model, method, device, engine) run.

Integer cycles; seconds are derived from the clock. Every total is the sum or max of per-op records,
so the report can always show where a number comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class OpTiming:
    """One op as scheduled: when it ran, what bound it, what it moved and spent."""

    node: str
    op: str
    start_cycle: int
    end_cycle: int
    bound: str
    compute_cycles: int
    memory_cycles: int
    energy_pj: Mapping[str, float]
    transfer_bytes: Mapping[str, int]
    resources: Mapping[str, int] = field(default_factory=dict)
    unit: str = ""  # the compute unit the cost model chose (cpu.simd.int8, gpu.tensor.fp16, ...)
    overhead_cycles: int = 0  # fixed cycles inside [start, end): launch, dispatch, first miss

    @property
    def cycles(self) -> int:
        return self.end_cycle - self.start_cycle


@dataclass(frozen=True)
class RunResult:
    """Totals and per-op timings of one simulated inference."""

    model: str
    method: str
    device: str
    engine: str
    clock_hz: float
    total_cycles: int
    ops: tuple[OpTiming, ...]
    energy_pj: Mapping[str, float]  # compute / onchip / dram / static
    transfer_bytes: Mapping[str, int]  # per memory level
    weight_bytes: int
    peak_activation_bytes: int
    footprint_bytes: int
    fits_memory: bool | None
    resources: Mapping[str, int] = field(default_factory=dict)  # FPGA: lut, ff, dsp, bram18 (design total)
    resource_limits: Mapping[str, int] = field(default_factory=dict)
    fits_resources: bool | None = None
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.total_cycles / self.clock_hz

    @property
    def energy_total_pj(self) -> float:
        return float(sum(self.energy_pj.values()))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = self.seconds
        d["energy_total_pj"] = self.energy_total_pj
        return d
