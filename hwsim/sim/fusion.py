"""A fused op is charged once: it runs inside its producer's kernel, not as a kernel of its own.

Cost models mark an op fused (``OpCost.extra["fused_into"]``: a batchnorm folded into the conv before
it, an activation applied in the conv's epilogue) and cost its arithmetic. Scheduled as an op of its
own it would add all of its cycles after the producer's, as if the fused kernel wrote the producer's
output, read it back and ran the epilogue alone. Here the producer and the ops fused into it form one
kernel, whose time is the slowest of

- the compute of each unit: the epilogue's cycles add to the producer's when they share the unit
  (CPU / GPU cores); on a unit of its own beside the producer's (``extra["overlaps_producer"]``: a
  systolic array's vector unit working on outputs as they drain) they run concurrently;
- the producer's memory time (a fused op moves no data of its own);

plus the producer's overhead. Each fused op is charged only what it adds to that kernel's time, so an
epilogue hidden behind a memory-bound conv costs no cycles, and the op keeps its energy and counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hwsim.cost.types import OpCost


@dataclass
class _Kernel:
    compute_by_unit: dict[str, int]
    memory_cycles: int
    charged: int = 0
    members: list[str] = field(default_factory=list)

    def busy(self) -> int:
        return max(max(self.compute_by_unit.values(), default=0), self.memory_cycles)


def charge_fused(costs: Sequence[OpCost]) -> tuple[OpCost, ...]:
    """``costs`` with each fused op's compute cycles replaced by the growth it causes in its producer's
    kernel (its own figure is kept in ``extra["unfused_compute_cycles"]``). Ops that are not fused,
    fused ops whose producer is not in ``costs`` and FPGA dataflow designs are returned unchanged."""
    if any(c.extra.get("pipeline_stage") for c in costs):
        return tuple(costs)  # an FPGA dataflow design: its pipeline schedules fused engines itself
    kernels: dict[str, _Kernel] = {}
    producer_unit: dict[str, str] = {}
    out: list[OpCost] = []
    for c in costs:
        into = c.extra.get("fused_into")
        kernel = kernels.get(into) if into else None
        if kernel is None:
            k = _Kernel({c.unit: c.compute_cycles}, c.memory_cycles)
            k.charged = k.busy()
            kernels[c.node] = k
            producer_unit[c.node] = c.unit
            out.append(c)
            continue
        unit = c.unit if c.extra.get("overlaps_producer") else producer_unit[into]
        kernel.compute_by_unit[unit] = kernel.compute_by_unit.get(unit, 0) + c.compute_cycles
        grown = kernel.busy() - kernel.charged
        kernel.charged += grown
        kernels[c.node] = kernel  # an op fused into this one (bn -> relu chains) joins the same kernel
        producer_unit[c.node] = producer_unit[into]
        note = f"charged as part of {into}'s kernel: {grown:,} of its {c.compute_cycles:,} cycles add to it"
        out.append(replace(c, compute_cycles=grown, transfer_cycles={k: 0 for k in c.transfer_cycles},
                           overhead_cycles=0, notes=c.notes,
                           extra={**c.extra, "unfused_compute_cycles": c.compute_cycles, "charge": note}))
    return tuple(out)
