"""``COST_MODELS["fpga"]``: FINN-style dataflow designs and a layer-sequential overlay.

``fpga.model_params.architecture`` picks the design (default ``dataflow``):

* **dataflow** (FINN; Umuroglu et al., FPGA 2017; Blott et al., TRETS 2018): one engine per layer,
  all layers streaming at once. Each conv / linear / matmul engine is folded into PE x SIMD lanes
  (PE divides the output channels, SIMD the reduction); the folding is chosen as FINN's SetFolding
  does, by a target initiation interval T: every engine takes the cheapest (PE, SIMD) whose cycles
  per frame are <= T, and T is the smallest value whose whole design fits the part's LUT / DSP /
  BRAM budget (``target_utilization`` of each). Weights live in PE-local BRAM; when they cannot fit
  even at the most folded design, the largest layers stream their weights from DRAM every frame
  ("external" weights). Batchnorm + sign after a conv/linear are streamlined into thresholds of that
  engine (FINN's streamlining), so they cost only comparators and threshold memory.
  The op's compute cycles are its engine's cycles per frame; engines run concurrently, so the design's
  initiation interval is the slowest engine and one frame's latency the sum (``hwsim.sim.fpga_pipeline``).
* **overlay**: generic PE x SIMD engines (``overlay_pe`` x ``overlay_simd``, default: the shape with the
  fewest cycles that fits) run the layers one after another, one engine per class of products the
  graph uses (``ENGINE_CLASSES``: float/int on multipliers, binary/ternary on LUTs; a popcount engine
  cannot compute fp32 products); weights and activations that do not fit the BRAM stream from DRAM,
  tiled like any accelerator (``hwsim.cost.common``).

Resources per op (LUT, FF, DSP, BRAM18) come from ``hwsim.cost.fpga_resources``. ``layer_savings``
reports what each binary / ternary layer saves against its int8 and fp16 versions at the same folding.

The file is split along its seams: ``fpga_design`` (parameters, layers, the design record),
``fpga_dataflow`` (the dataflow folding search), ``fpga_overlay`` (overlay sizing and DPU presets),
``fpga_resources`` (LUT / FF / DSP / BRAM formulas); this module plans, costs and reports savings.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hwsim.cost.common import compute_class, gemm_level_bytes, streaming_level_bytes, transfer_cycles
from hwsim.cost.energy import op_energy
from hwsim.cost.fpga_dataflow import design_for_finn_config, design_for_folding, plan_dataflow
from hwsim.cost.fpga_design import FPGA_DEFAULTS, SOURCE, Design, Layer, _mvau_resources, params_of
from hwsim.cost.fpga_overlay import ENGINE_CLASSES, overlay_passes, plan_overlay
from hwsim.cost.fpga_power import with_fabric_energy
from hwsim.cost.fpga_resources import Operands
from hwsim.cost.registry import CostModel, register_cost_model
from hwsim.cost.types import OpCost
from hwsim.cost.work import OpWork, Workload
from hwsim.hardware.profile import DeviceProfile

__all__ = ["FpgaCostModel", "ENGINE_CLASSES", "design_for_folding", "layer_savings", "overlay_passes", "plan",
           "plan_dataflow", "plan_overlay"]


def plan(workload: Workload, device: DeviceProfile) -> Design:
    """The design ``architecture`` names; ``auto``: the dataflow design if it fits the part, else the overlay."""
    spec = device.fpga
    assert spec is not None
    key = (spec.lut, spec.ff, spec.dsp, spec.bram36, spec.uram, spec.dsp_mult_bits,
           tuple(sorted((k, str(v)) for k, v in (spec.model_params or {}).items())))
    entry = _PLANS.get(id(workload))
    if entry is None or entry[0]() is not workload:
        entry = _PLANS[id(workload)] = (weakref.ref(workload, lambda _r, i=id(workload): _PLANS.pop(i, None)), {})
    per = entry[1]
    if key in per:
        return per[key]
    params = params_of(spec, device.source)
    arch = params["architecture"]
    if params["folding_config"]:
        design = design_for_finn_config(workload, device, Path(str(params["folding_config"])))
    elif float(params["target_fps"]):
        design = plan_dataflow(workload, device, target_cycles=int(device.clock_hz / float(params["target_fps"])))
    elif arch == "overlay":
        design = plan_overlay(workload, device)
    else:
        design = plan_dataflow(workload, device)
        if arch == "auto":
            over = plan_overlay(workload, device)
            if not design.meets_target:
                why = "does not fit the part" if not design.fits else "fits only fully folded"
                design = replace(over, notes=over.notes + (f"the dataflow design {why}: overlay used",))
            else:
                df_cyc, ov_cyc = _latency_bound(design, workload, device), _latency_bound(over, workload, device)
                if ov_cyc < df_cyc:
                    design = replace(over, notes=over.notes + (
                        f"overlay used: ~{ov_cyc:.3g} cycles per frame against the dataflow design's "
                        f"<= {df_cyc:.3g} (a per-layer pipeline this deep is folded too far to win)",))
    per[key] = design
    return design


def _latency_bound(design: Design, workload: Workload, device: DeviceProfile) -> float:
    """One frame's cycles with no overlap between ops: each op max(compute, its slowest transfer).

    Exact for the overlay (layers run one after another); for a dataflow design an upper bound (its
    engines stream rows to each other and overlap). ``auto`` keeps the dataflow design unless the
    overlay beats this bound: it never swaps a pipeline for a slower overlay."""
    layers = {ly.node: ly for ly in design.layers}
    stages = [ly.node for ly in design.layers if ly.kind in ("mvau", "stream")]
    first, last = (stages[0], stages[-1]) if stages else (None, None)
    times: list[float] = []
    for w in workload.ops:
        ly = layers[w.node]
        if ly.kind in ("fused", "view"):
            continue
        c = (_cost_dataflow_layer(ly, w, device, w.node == first, w.node == last) if design.architecture == "dataflow"
             else _cost_overlay_layer(ly, w, device, design))
        times.append(max([float(c.compute_cycles), *map(float, c.transfer_cycles.values())]))
    if design.architecture != "dataflow" or not times:
        return sum(times)
    # frames in flight: every MAC layer's output vectors are frames x pixels (the gcd recovers frames)
    frames = max(1, math.gcd(*[ly.pixels for ly in design.layers if ly.kind == "mvau"] or [1]))
    per = [t / frames for t in times]
    return sum(per) + (frames - 1) * max(per)  # pipeline closed form, frames streaming whole


#: designs per workload object (by identity: workloads hash by value) and part: sweeps re-cost the same
#: workload on many devices, and the engines ask for the design again
_PLANS: dict[int, tuple["weakref.ref[Workload]", dict[tuple[Any, ...], Design]]] = {}


# --- costs --------------------------------------------------------------------------------------------
def _bram_level(device: DeviceProfile) -> str | None:
    lv = device.last_on_chip
    return lv.name if lv else None


def _cost_dataflow_layer(ly: Layer, w: OpWork, device: DeviceProfile, first: bool, last: bool) -> OpCost:
    bram = _bram_level(device)
    dram = device.dram.name
    by_level: dict[str, float] = {lv.name: 0.0 for lv in device.memory}
    notes = list(ly.notes)
    if ly.kind in ("mvau", "stream"):
        if bram is not None:
            # weights are read from PE-local BRAM every frame; activations stream through FIFOs
            by_level[bram] += (w.param_bytes if not ly.external_weights else 0) + w.act_in_bytes + w.out_bytes
        if ly.external_weights:
            by_level[dram] += w.param_bytes
        if first:
            by_level[dram] += w.act_in_bytes
        if last:
            by_level[dram] += w.out_bytes
    cc = compute_class(w.weight.dtype if w.weight else w.rhs_dtype, w.act_dtype) if w.macs else None
    arith = {} if ly.kind == "fused" else dict(w.arith)
    energy = op_energy(device, macs=w.macs if ly.kind != "fused" else 0, cc=cc, arith=arith,
                       data_bits=w.act_dtype.bits, bytes_by_level=by_level)
    unit = {"mvau": f"mvau {ly.pe}PEx{ly.simd}SIMD", "stream": f"stream x{ly.lanes}", "fused": "fused",
            "view": "none"}[ly.kind]
    if ly.kind == "fused":
        by_level = {k: 0.0 for k in by_level}
    return OpCost(
        node=w.node, op=w.op, unit=unit, compute_cycles=ly.cycles,
        transfer_bytes={k: int(round(v)) for k, v in by_level.items()},
        transfer_cycles=transfer_cycles(device, by_level), energy_pj=energy,
        ops={"macs": w.macs, **{k: int(v) for k, v in arith.items()}},
        resources={k: v for k, v in ly.resources.as_dict().items() if k in ("lut", "ff", "dsp", "bram18")},
        source=SOURCE, notes=tuple(notes),
        extra={"architecture": "dataflow", "pe": ly.pe, "simd": ly.simd, "lanes": ly.lanes,
               "pipeline_stage": ly.kind in ("mvau", "stream"), "external_weights": ly.external_weights,
               "fused_into": ly.fused_into, "adders": ly.resources.adders,
               "multipliers": ly.resources.multipliers, "lutram": ly.resources.lutram},
    )


def _cost_overlay_layer(ly: Layer, w: OpWork, device: DeviceProfile, design: Design) -> OpCost:
    notes = list(ly.notes)
    if ly.kind == "mvau" and w.gemm is not None:
        bram = device.last_on_chip
        cap = bram.usable_bytes if bram else 0.0
        by_level = gemm_level_bytes(w, device, cap)
    elif ly.kind == "view":
        by_level = {lv.name: 0.0 for lv in device.memory}
    else:
        by_level = streaming_level_bytes(w, device)
    cc = compute_class(w.weight.dtype if w.weight else w.rhs_dtype, w.act_dtype) if w.macs else None
    arith = {} if ly.kind == "fused" else dict(w.arith)
    energy = op_energy(device, macs=w.macs if ly.kind != "fused" else 0, cc=cc, arith=arith,
                       data_bits=w.act_dtype.bits, bytes_by_level=by_level)
    params = params_of(device.fpga, device.source) if device.fpga else FPGA_DEFAULTS
    cycles = ly.cycles if ly.kind != "fused" else 0
    if ly.kind == "mvau":
        eff = float(params["overlay_efficiency"])
        cycles = math.ceil(cycles / eff) + int(params["layer_overhead_cycles"])
        if eff < 1.0 or params["layer_overhead_cycles"]:
            notes.append(f"overlay engine at {eff:.2f} of its peak plus {int(params['layer_overhead_cycles'])} "
                         "fixed cycles per layer (fpga.model_params)")
    return OpCost(
        node=w.node, op=w.op,
        unit=(f"overlay {ly.pe}PEx{ly.simd}SIMD" + (f" {ly.engine}" if ly.engine else "")) if ly.kind == "mvau"
        else ly.kind,
        compute_cycles=cycles, transfer_bytes={k: int(round(v)) for k, v in by_level.items()},
        transfer_cycles=transfer_cycles(device, by_level), energy_pj=energy,
        ops={"macs": w.macs, **{k: int(v) for k, v in arith.items()}}, source=SOURCE, notes=tuple(notes),
        extra={"architecture": "overlay", "pe": ly.pe, "simd": ly.simd, "pipeline_stage": False,
               "overlay_engine": ly.engine or None, "passes": ly.passes},
    )


class FpgaCostModel(CostModel):
    """Costs the whole graph at once: the folding of each layer depends on all the others."""

    kind = "fpga"

    def supports(self, op: str, group: str) -> bool:
        return True

    def cost_graph(self, workload: Workload, device: DeviceProfile) -> tuple[OpCost, ...]:
        design = plan(workload, device)
        layers = {ly.node: ly for ly in design.layers}
        stages = [ly.node for ly in design.layers if ly.kind in ("mvau", "stream")]
        first, last = (stages[0], stages[-1]) if stages else (None, None)
        costs: list[OpCost] = []
        for i, w in enumerate(workload.ops):
            ly = layers[w.node]
            if design.architecture == "dataflow":
                c = _cost_dataflow_layer(ly, w, device, w.node == first, w.node == last)
            else:
                c = _cost_overlay_layer(ly, w, device, design)
            costs.append(c)
        if design.architecture == "overlay" and costs:
            # each engine's datapath booked once on its first layer, the tile buffers on the first op:
            # the ops' resources add up to the design's totals
            keys = ("lut", "ff", "dsp", "bram18")
            index = {w.node: k for k, w in enumerate(workload.ops)}
            booked: dict[int, dict[str, int]] = {0: {k: v for k, v in design.shared.as_dict().items() if k in keys}}
            for e in design.engines:
                i = index[e.nodes[0]] if e.nodes else 0
                res = booked.setdefault(i, {})
                for k, v in e.resources.as_dict().items():
                    if k in keys:
                        res[k] = res.get(k, 0) + v
            if design.bram18_wanted is not None:  # what the buffers would take unbudgeted: shows a capped BRAM
                booked[0]["bram18_wanted"] = design.bram18_wanted
            for i, res in booked.items():
                costs[i] = replace(costs[i], resources=res)
            costs = with_fabric_energy(costs, device, "overlay")  # before the host time: the fabric idles then
            costs[0] = replace(costs[0], notes=costs[0].notes + design.notes)
            host_us = float(params_of(device.fpga, device.source)["inference_overhead_us"]) if device.fpga else 0.0
            if host_us > 0:
                extra = int(round(host_us * 1e-6 * device.clock_hz))
                costs[0] = replace(costs[0], compute_cycles=costs[0].compute_cycles + extra,
                                   notes=costs[0].notes + (f"{host_us:g} us per inference outside the engine "
                                                           "(host pre/post-processing, "
                                                           "fpga.model_params.inference_overhead_us) charged here",))
        elif costs:
            i = next((k for k, w in enumerate(workload.ops) if layers[w.node].kind in ("mvau", "stream")), 0)
            res = dict(costs[i].resources)
            for k, v in design.shared.as_dict().items():
                if k in ("lut", "ff", "dsp", "bram18") and v:
                    res[k] = res.get(k, 0) + v
            costs[i] = replace(costs[i], resources=res, notes=costs[i].notes + design.notes
                               + (("inter-engine FIFOs and DMA stream buffers booked here",) if design.shared.lut
                                  or design.shared.bram18 else ()))
            costs = with_fabric_energy(costs, device, "dataflow")
        return tuple(costs)


MODEL = register_cost_model(FpgaCostModel())


# --- what binary / ternary layers save ----------------------------------------------------------------
@dataclass(frozen=True)
class LayerSaving:
    """One low-bit layer's engine against the same engine (same folding) at int8 and fp16."""

    node: str
    dtype: str  # "binary x binary", "ternary x int8", ...
    pe: int
    simd: int
    resources: Mapping[str, int]
    int8: Mapping[str, int]
    fp16: Mapping[str, int]

    def saved(self, versus: str) -> dict[str, int]:
        ref = self.int8 if versus == "int8" else self.fp16
        return {k: ref[k] - self.resources[k] for k in ("lut", "dsp", "adders", "multipliers", "bram18")}

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "dtype": self.dtype, "pe": self.pe, "simd": self.simd,
                "resources": dict(self.resources), "int8": dict(self.int8), "fp16": dict(self.fp16),
                "saved_vs_int8": self.saved("int8"), "saved_vs_fp16": self.saved("fp16")}


def layer_savings(workload: Workload, device: DeviceProfile, design: Design | None = None) -> list[LayerSaving]:
    """For every binary / ternary conv or linear: adders, LUTs, DSPs (and multipliers, BRAM) of its
    engine, and of the same engine built for int8 and for fp16 weights and activations."""
    spec = device.fpga
    assert spec is not None
    params = params_of(spec, device.source)
    design = design or plan(workload, device)
    out: list[LayerSaving] = []
    int8 = Operands("int", 8, "int", 8, "int8", "int8")
    fp16 = Operands("float", 16, "float", 16, "fp16", "fp16")
    for ly in design.layers:
        if ly.kind != "mvau" or ly.ops is None:
            continue
        if "binary" not in (ly.ops.w_kind, ly.ops.a_kind) and "ternary" not in (ly.ops.w_kind, ly.ops.a_kind):
            continue
        mine = _mvau_resources(ly, spec, params)
        as8 = _mvau_resources(replace(ly, ops=int8, thresholds=0), spec, params)
        as16 = _mvau_resources(replace(ly, ops=fp16, thresholds=0), spec, params)
        keys = ("lut", "ff", "dsp", "bram18", "adders", "multipliers")
        out.append(LayerSaving(
            node=ly.node, dtype=f"{ly.ops.w_name or ly.ops.w_kind} x {ly.ops.a_name or ly.ops.a_kind}",
            pe=ly.pe, simd=ly.simd, resources={k: mine.as_dict()[k] for k in keys},
            int8={k: as8.as_dict()[k] for k in keys}, fp16={k: as16.as_dict()[k] for k in keys}))
    return out
