"""The analytic engine: a closed form per op, ops run one after another.

Each op takes max(compute, slowest memory level) + its fixed overhead cycles (compute and transfers
fully overlapped: the roofline). Static energy = static power x total time. Peak memory comes from
liveness over the topological schedule. This is the engine sweeps use: no per-event work.
"""

from __future__ import annotations

from hwsim.cost.memory import footprint
from hwsim.sim.engines import EngineInput, register_engine
from hwsim.sim.result import OpTiming, RunResult


@register_engine("analytic")
def run_analytic(inp: EngineInput) -> RunResult:
    device = inp.device
    t = 0
    timings: list[OpTiming] = []
    energy: dict[str, float] = {}
    traffic: dict[str, int] = {}
    resources: dict[str, int] = {}
    for c in inp.costs:
        mem = c.memory_cycles
        busy = max(c.compute_cycles, mem)
        cycles = busy + c.overhead_cycles  # == c.lower_bound_cycles, computed once
        bound = "overhead" if c.overhead_cycles > busy else "compute" if c.compute_cycles >= mem else "memory"
        timings.append(OpTiming(
            node=c.node, op=c.op, start_cycle=t, end_cycle=t + cycles, bound=bound,
            compute_cycles=c.compute_cycles, memory_cycles=mem, energy_pj=c.energy_pj,
            transfer_bytes=c.transfer_bytes, resources=c.resources, unit=c.unit,
            overhead_cycles=c.overhead_cycles,
        ))
        t += cycles
        for k, v in c.energy_pj.items():
            energy[k] = energy.get(k, 0.0) + v
        for k, b in c.transfer_bytes.items():
            traffic[k] = traffic.get(k, 0) + b
        for k, n in c.resources.items():
            resources[k] = resources.get(k, 0) + n
    if any(c.extra.get("pipeline_stage") for c in inp.costs):  # FPGA dataflow: stages overlap across frames
        timings, t = _pipelined(inp, timings)
    seconds = t / device.clock_hz
    energy["static"] = energy.get("static", 0.0) + device.static_power_w * seconds * 1e12
    fp = footprint(inp.workload, device)
    limits: dict[str, int] = {}
    fits_res: bool | None = None
    if device.fpga is not None and resources:
        f = device.fpga
        limits = {"lut": f.lut, "ff": f.ff, "dsp": f.dsp, "bram18": f.bram18}
        fits_res = all(resources.get(k, 0) <= v for k, v in limits.items())
    return RunResult(
        model=inp.workload.model, method=inp.method, device=device.name, engine="analytic",
        clock_hz=device.clock_hz, total_cycles=t, ops=tuple(timings),
        energy_pj={k: float(energy.get(k, 0.0)) for k in ("compute", "onchip", "dram", "static")},
        transfer_bytes={lv.name: int(traffic.get(lv.name, 0)) for lv in device.memory},
        weight_bytes=fp.weight_bytes, peak_activation_bytes=fp.peak_activation_bytes,
        footprint_bytes=fp.total_bytes, fits_memory=fp.fits, resources=dict(resources), resource_limits=limits,
        fits_resources=fits_res, notes=tuple(sorted({n for c in inp.costs for n in c.notes})),
        extra={"overrides": dict(device.overrides)} if device.overrides else {},
    )


def _pipelined(inp: EngineInput, timings: list[OpTiming]) -> tuple[list[OpTiming], int]:
    """Re-time an FPGA dataflow design: engines stream rows to each other (hwsim.sim.fpga_pipeline)."""
    from dataclasses import replace

    from hwsim.sim.fpga_pipeline import streamed_spans

    frames = max(int(inp.graph.tensor(inp.graph.inputs[0]).shape[0]) if inp.graph.inputs else 1, 1)
    spans, total = streamed_spans(inp.graph, [c.node for c in inp.costs],
                                  [bool(c.extra.get("pipeline_stage")) for c in inp.costs],
                                  [x.cycles // frames for x in timings], frames)
    return [replace(x, start_cycle=s, end_cycle=e) for x, (s, e) in zip(timings, spans)], total
