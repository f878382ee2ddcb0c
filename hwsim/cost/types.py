"""What a cost model says about one op on one device: pure data, with the source of every number.

Cost models (``COST_MODELS[device kind]``) produce ``OpCost``; engines in ``hwsim.sim`` only
schedule them. Cycles are integers at the device clock. Energies are picojoules by component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Bound = Literal["compute", "memory", "overhead"]

#: Energy components every cost model and engine uses (static is added by the engines).
ENERGY_COMPONENTS = ("compute", "onchip", "dram", "static")


@dataclass(frozen=True)
class OpCost:
    """Cost of one node on one device.

    compute_cycles: cycles the compute unit is busy (at its bit width / unit).
    transfer_bytes: bytes moved at each memory level (e.g. {"dram": ..., "l2": ..., "sram": ...}).
    transfer_cycles: cycles each level's traffic takes at that level's bandwidth.
    overhead_cycles: fixed costs (kernel launch, index decode setup, pipeline fill).
    energy_pj: dynamic energy by component ("compute", "onchip", "dram").
    resources: FPGA resources the op's engine uses (lut, ff, dsp, bram18), empty elsewhere.
    source: which model produced the numbers; notes: fallbacks and assumptions.
    """

    node: str
    op: str
    unit: str
    compute_cycles: int
    transfer_bytes: Mapping[str, int]
    transfer_cycles: Mapping[str, int]
    overhead_cycles: int = 0
    energy_pj: Mapping[str, float] = field(default_factory=dict)
    ops: Mapping[str, int] = field(default_factory=dict)
    resources: Mapping[str, int] = field(default_factory=dict)
    source: str = ""
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def memory_cycles(self) -> int:
        return max(self.transfer_cycles.values(), default=0)

    @property
    def lower_bound_cycles(self) -> int:
        """Roofline bound: compute and the slowest memory level fully overlapped."""
        return max(self.compute_cycles, self.memory_cycles) + self.overhead_cycles

    @property
    def bound(self) -> Bound:
        if self.overhead_cycles > max(self.compute_cycles, self.memory_cycles):
            return "overhead"
        return "compute" if self.compute_cycles >= self.memory_cycles else "memory"
