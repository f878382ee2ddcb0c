"""What each binary / ternary layer saves on an FPGA, for the report (which may import only analysis).

For every binary or ternary conv / linear of ``graph``, its engine in the FPGA design hwsim builds for
``device`` (same PE x SIMD folding) against the same engine at int8 and at fp16: LUTs, FFs, DSPs,
BRAM18, adders and multipliers, and the savings. See ``hwsim.cost.fpga.layer_savings``.
"""

from __future__ import annotations

from typing import Any

from hwsim.cost.fpga import layer_savings, plan
from hwsim.cost.work import prepare
from hwsim.errors import UsageError
from hwsim.hardware import DeviceProfile, load_device
from hwsim.ir.graph import OpGraph


def fpga_layer_savings(graph: OpGraph, device: DeviceProfile | str) -> dict[str, Any]:
    """{"device", "architecture", "fits", "resources", "limits", "layers": [per-layer savings]}."""
    dev = device if isinstance(device, DeviceProfile) else load_device(device)
    if dev.kind != "fpga":
        raise UsageError(f"{dev.name} is a {dev.kind} device; layer savings are an FPGA figure", where="device")
    workload = prepare(graph)
    design = plan(workload, dev)
    return {
        "device": dev.name, "architecture": design.architecture, "fits": design.fits,
        "resources": {k: v for k, v in design.totals.as_dict().items() if k in ("lut", "ff", "dsp", "bram18")},
        "limits": dict(design.limits),
        "layers": [s.as_dict() for s in layer_savings(workload, dev, design)],
    }
