"""Compute energy of an FPGA design from its resources and clock (XPE-style; ``hwsim.hardware.fpga_parts``).

An FPGA's arithmetic energy is not a per-MAC figure of an ASIC multiplier: every clocked LUT, flip-flop
and DSP slice of the design switches at the design's clock while it runs. So, when the profile names
its part family (``fpga.family``), the "compute" energy of each op is

    cycles the op keeps the fabric busy x (LUTs x pJ/LUT + FFs x pJ/FF + DSPs x pJ/DSP x DSP clock ratio)

- **overlay** (layers one after another on one design): the whole design is clocked during every
  layer: the design's total resources, over the op's roofline cycles (compute and memory overlapped);
- **dataflow** (one engine per layer, all streaming): each engine over its own cycles per frame.
BRAM energy stays the traffic energy of the on-chip level, DRAM the off-chip one; static power is the
profile's. Without a family the per-MAC figures of ``hwsim.cost.energy`` stay (a note says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from hwsim.cost.types import OpCost
from hwsim.hardware.fpga_parts import family, fabric_pj_per_cycle
from hwsim.hardware.profile import DeviceProfile

_KEYS = ("lut", "ff", "dsp")


def with_fabric_energy(costs: tuple[OpCost, ...] | list[OpCost], device: DeviceProfile,
                       architecture: str) -> list[OpCost]:
    """The costs with their "compute" energy replaced by the design's clocked-fabric energy."""
    spec = device.fpga
    if spec is None or spec.family is None:
        return [replace(c, notes=c.notes + ("FPGA compute energy from per-MAC figures: the profile names no "
                                            "fpga.family for a resource-based power model",)) if i == 0 else c
                for i, c in enumerate(costs)]
    fam = family(spec.family)
    ratio = 2.0 if spec.model_params.get("overlay_preset") else 1.0
    out: list[OpCost] = []
    if architecture == "overlay":
        totals: dict[str, float] = {k: 0.0 for k in _KEYS}
        for c in costs:
            for k in _KEYS:
                totals[k] += c.resources.get(k, 0)
        per_cycle = fabric_pj_per_cycle(fam, totals, dsp_clock_ratio=ratio)
        for c in costs:
            busy = max(c.compute_cycles, c.memory_cycles) + c.overhead_cycles if c.compute_cycles else 0
            out.append(_set_compute(c, busy * per_cycle))
    else:
        for c in costs:
            own: Mapping[str, float] = {k: float(c.resources.get(k, 0)) for k in _KEYS}
            out.append(_set_compute(c, c.compute_cycles * fabric_pj_per_cycle(fam, own, dsp_clock_ratio=ratio)))
    if out:
        out[0] = replace(out[0], notes=out[0].notes + (
            f"FPGA compute energy: clocked fabric of the design ({fam.name}: {fam.lut_pj:g} pJ/LUT, "
            f"{fam.ff_pj:g} pJ/FF, {fam.dsp_pj:g} pJ/DSP per cycle{', DSPs at 2x clock' if ratio == 2 else ''}; "
            "ASSUMED XPE-class, hwsim.hardware.fpga_parts)",))
    return out


def _set_compute(c: OpCost, pj: float) -> OpCost:
    return replace(c, energy_pj={**c.energy_pj, "compute": float(pj)})
