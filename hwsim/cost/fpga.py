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
"""

from __future__ import annotations

import bisect
import functools
import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hwsim.cost.common import compute_class, gemm_level_bytes, streaming_level_bytes, transfer_cycles
from hwsim.cost.energy import op_energy
from hwsim.cost.fpga_resources import (
    DEFAULT_PARAMS, FP_MAC, EngineShape, Operands, Resources, engine_resources, lut_multiplier, memory_blocks,
)
from hwsim.cost.registry import CostModel, register_cost_model
from hwsim.cost.types import OpCost
from hwsim.cost.work import OpWork, Workload
from hwsim.errors import DeviceProfileError
from hwsim.hardware.profile import DeviceProfile, FpgaSpec
from hwsim.ir.dtypes import DType

SOURCE = "hwsim.cost.fpga (FINN-style dataflow / overlay; FINN-R resource formulas)"

FPGA_DEFAULTS: Mapping[str, Any] = {
    **DEFAULT_PARAMS,
    "architecture": "auto",  # dataflow | overlay | auto (dataflow if it fits, else overlay)
    "target_utilization": 0.85,  # share of each resource the folding search may fill (routing margin, ASSUMED)
    "fifo_depth": 32,  # words of each inter-engine FIFO (ASSUMED)
    "io_fifo_depth": 512,  # words of the DMA input / output stream buffers (ASSUMED)
    "io_width_bits": 64,  # DMA stream width (AXI HP port)
    "acc_bits": 0,  # fixed accumulator / threshold width; 0 = minimal width per layer (FINN); BNN-PYNQ: 16
    "overlay_pe": 0,  # 0 = auto (largest power-of-two engine that fits)
    "overlay_simd": 0,
    "max_lanes": 65536,  # cap on PE x SIMD of one engine (ASSUMED: beyond this, routing, not LUTs, limits)
    # overlay timing beyond the datapath (a DPU-like engine: profiles fit these to published latencies)
    "overlay_efficiency": 1.0,  # share of the engine's PE x SIMD peak its MAC layers reach
    "layer_overhead_cycles": 0,  # fixed cycles per layer the engine runs (instruction fetch, set-up, drain)
    "inference_overhead_us": 0.0,  # fixed microseconds per inference outside the engine (host pre/post-processing)
    "overlay_preset": "",  # a DPU_PRESETS name (B512 ... B4096): fixes overlay_pe / overlay_simd / pixel_par
    "overlay_pixel_par": 1,  # output pixels the overlay engine computes at once (its PE x SIMD array per pixel)
}

MAC_GROUPS = ("conv", "dense", "matmul")

#: DPU-like overlay presets (Xilinx DPUCZDX8G "B<ops per cycle>" sizes): pixel x input-channel x
#: output-channel parallelism, mapped onto hwsim's engine as PE = pixel x output channels, SIMD = input
#: channels. The parallelism triples are those of Xilinx PG338 (ASSUMED: from the product guide's table
#: as commonly reproduced, not read here); each product is half the B number (one MAC = two ops).
DPU_PRESETS: Mapping[str, tuple[int, int, int]] = {
    "B512": (4, 8, 8), "B800": (4, 10, 10), "B1024": (8, 8, 8), "B1152": (4, 12, 12),
    "B1600": (8, 10, 10), "B2304": (8, 12, 12), "B3136": (8, 14, 14), "B4096": (8, 16, 16),
}


def params_of(spec: FpgaSpec, source: str = "") -> dict[str, Any]:
    """The profile's ``model_params`` over the defaults; unknown keys raise naming the known ones."""
    p = dict(FPGA_DEFAULTS)
    for k, v in (spec.model_params or {}).items():
        if k not in FPGA_DEFAULTS:
            raise DeviceProfileError(f"unknown key {k!r}; known: {', '.join(sorted(FPGA_DEFAULTS))}",
                                     source=source or None, where="fpga.model_params")
        p[k] = v
    preset = str(p["overlay_preset"])
    if preset:
        if preset not in DPU_PRESETS:
            raise DeviceProfileError(f"unknown overlay preset {preset!r}; known: {', '.join(DPU_PRESETS)}",
                                     source=source or None, where="fpga.model_params.overlay_preset")
        pp, icp, ocp = DPU_PRESETS[preset]
        p["overlay_pe"], p["overlay_simd"], p["overlay_pixel_par"], p["architecture"] = ocp, icp, pp, "overlay"
    eff = float(p["overlay_efficiency"])
    if not 0 < eff <= 1:
        raise DeviceProfileError(f"overlay_efficiency must be in (0, 1], got {eff}", source=source or None,
                                 where="fpga.model_params.overlay_efficiency")
    if p["architecture"] not in ("dataflow", "overlay", "auto"):
        raise DeviceProfileError(f"architecture must be dataflow, overlay or auto, got {p['architecture']!r}",
                                 source=source or None, where="fpga.model_params.architecture")
    return p


def operands(work: OpWork) -> Operands:
    w: DType = work.weight.dtype if work.weight else (work.rhs_dtype or work.act_dtype)
    a = work.act_dtype
    return Operands(w.kind, w.bits, a.kind, a.bits, w.name, a.name)


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


# --- the layers of a design ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One engine of the design. MAC engines have mh x mw weights folded into pe x simd; stream engines
    (pooling, activations, ...) have ``lanes`` parallel units; fused ops run inside another engine."""

    node: str
    op: str
    kind: str  # mvau | stream | fused | view
    pixels: int = 1  # output vectors per inference (all frames)
    mh: int = 1
    mw: int = 1
    pe: int = 1
    simd: int = 1
    lanes: int = 1
    work_items: int = 0  # stream engines: element operations per inference
    ops: Operands | None = None
    thresholds: int = 0
    external_weights: bool = False
    fused_into: str | None = None
    line_buffer_bits: int = 0
    resources: Resources = field(default_factory=Resources)
    notes: tuple[str, ...] = ()
    passes: int = 1  # overlay: passes over operands wider than the engine's (see ``overlay_passes``)
    engine: str = ""  # overlay: the engine class running this layer (``ENGINE_CLASSES``)
    pixel_par: int = 1  # overlay: output pixels computed in parallel (a DPU preset's pixel parallelism)

    @property
    def cycles(self) -> int:
        if self.kind == "mvau":
            return (math.ceil(self.pixels / self.pixel_par) * math.ceil(self.mh / self.pe)
                    * math.ceil(self.mw / self.simd) * self.passes)
        if self.kind == "stream":
            return math.ceil(self.work_items / self.lanes) if self.work_items else 0
        return 0


@dataclass(frozen=True)
class Design:
    """A whole FPGA design: its layers, the initiation interval it was folded for, totals and fit."""

    architecture: str
    layers: tuple[Layer, ...]
    target_cycles: int
    totals: Resources
    limits: Mapping[str, int]
    fits: bool
    notes: tuple[str, ...] = ()
    shared: Resources = field(default_factory=Resources)  # FIFOs, DMA buffers: booked on the first stage
    meets_target: bool = True  # within target_utilization of every resource
    engines: tuple["OverlayEngine", ...] = ()  # overlay: one engine per class of products

    def layer(self, node: str) -> Layer:
        for ly in self.layers:
            if ly.node == node:
                return ly
        raise KeyError(node)


def limits_of(spec: FpgaSpec) -> dict[str, int]:
    return {"lut": spec.lut, "ff": spec.ff, "dsp": spec.dsp, "bram18": spec.bram18}


def _fits(r: Resources, limits: Mapping[str, int], share: float) -> bool:
    return (r.lut <= share * limits["lut"] and r.dsp <= share * limits["dsp"]
            and r.bram18 <= share * limits["bram18"] and r.ff <= share * limits["ff"])


def _fusions(workload: Workload) -> dict[str, str]:
    """Streamlining: batchnorm and sign right after a conv/linear become that engine's thresholds.

    Returns fused node -> the MAC node it joins. Only single-consumer chains fuse (a tensor read
    by two ops must be materialized)."""
    ops = workload.ops
    fused: dict[str, str] = {}
    for i, w in enumerate(ops):
        if w.group not in ("conv", "dense"):
            continue
        j = i + 1
        chain: list[str] = []
        while j < len(ops) and ops[j].op in ("batchnorm",) and len(chain) < 1:
            chain.append(ops[j].node)
            j += 1
        if j < len(ops) and ops[j].op == "sign":
            for n in chain + [ops[j].node]:
                fused[n] = w.node
    return fused


def _mvau_resources(ly: Layer, spec: FpgaSpec, params: Mapping[str, Any]) -> Resources:
    assert ly.ops is not None
    shape = EngineShape(mh=ly.mh, mw=ly.mw, pe=ly.pe, simd=ly.simd, thresholds=ly.thresholds,
                        hardwired=False)
    bill = engine_resources(shape, ly.ops, spec.dsp_mult_bits, params, acc_bits=int(params["acc_bits"]) or None)
    r = bill.parts["datapath"]
    if not ly.external_weights:
        r = r + bill.parts["weights"]
    if ly.line_buffer_bits:
        width = max(1, ly.simd * ly.ops.a_bits)
        depth = math.ceil(ly.line_buffer_bits / width)
        bram, lutram = memory_blocks(depth, width, params)
        r = r + Resources(lut=lutram, bram18=bram, lutram=lutram)
    return r


def _stream_unit(w: OpWork, params: Mapping[str, Any], spec: FpgaSpec) -> Resources:
    """One lane of a streaming engine: one unit per arithmetic kind the op uses."""
    dt = w.act_dtype
    bits = dt.bits
    r = Resources()
    for kind in w.arith:
        if kind == "move":
            r = r + Resources(lut=bits)  # a multiplexer per bit
        elif dt.is_float:
            dsp, lut, ff = FP_MAC["fp32" if bits > 16 else "fp16"]
            heavy = kind in ("div", "sqrt", "exp", "erf")
            k = 2 if heavy else 1  # ASSUMED: transcendental / divide ~ two MAC-lane equivalents
            if kind in ("add", "cmp"):
                r = r + Resources(lut=lut // 2, ff=ff // 2)
            else:
                r = r + Resources(lut=k * lut, ff=k * ff, dsp=k * dsp)
        elif kind in ("add", "cmp"):
            r = r + Resources(lut=bits + 1, ff=bits + 1, adders=1)
        elif kind == "mul":
            if bits >= int(params["dsp_min_bits"]):
                r = r + Resources(dsp=1, multipliers=1)
            else:
                r = r + Resources(lut=lut_multiplier(bits, bits), multipliers=1)
        else:  # div, sqrt, exp, erf on integers: a lookup table per lane (ASSUMED 4 LUTs per bit)
            r = r + Resources(lut=4 * bits)
    return r


def _line_buffer_bits(w: OpWork) -> int:
    """Sliding-window buffer of a k x k window engine: (k-1) full input rows + k pixels, all channels."""
    k = w.attrs.get("kernel")
    if not k:
        return 0
    kh, kw = (k, k) if isinstance(k, int) else (int(k[0]), int(k[1]))
    if kh * kw <= 1 or not w.in_bytes:
        return 0
    in_bits = w.in_bytes[0] * 8
    # input is [N, C, H, W]: rows of C x W elements; without the shape, approximate rows from the square map
    hw_c = max(1, w.in_numel)
    c = int(w.gemm.k // (kh * kw)) * int(w.gemm.batch) if w.gemm is not None else 1
    side = max(1, int(round(math.sqrt(hw_c / max(c, 1)))))
    row_bits = in_bits // side if side else in_bits
    return int((kh - 1) * row_bits + kw * c * w.act_dtype.bits)


def _base_layers(workload: Workload, spec: FpgaSpec, params: Mapping[str, Any]) -> list[Layer]:
    fused = _fusions(workload)
    layers: list[Layer] = []
    for w in workload.ops:
        if w.node in fused:
            layers.append(Layer(w.node, w.op, "fused", fused_into=fused[w.node],
                                notes=(f"streamlined into the thresholds of {fused[w.node]} (FINN)",)))
            continue
        if w.group == "view":
            layers.append(Layer(w.node, w.op, "view"))
            continue
        if w.group in MAC_GROUPS and w.gemm is not None:
            g = w.gemm
            thresholds = 1 if any(v == w.node for v in fused.values()) else 0
            lb = _line_buffer_bits(w) if w.group == "conv" else 0
            notes: tuple[str, ...] = ()
            if w.weight is not None and (w.weight.encoding != "dense" or w.weight.density < 1.0):
                notes = (f"{w.weight.encoding} weights (density {w.weight.density:.2f}) run as a dense engine: "
                         "folded lanes cannot skip zeros, PE memories hold the dense matrix",)
            layers.append(Layer(w.node, w.op, "mvau", pixels=g.m, mh=g.batch * g.n, mw=g.k, ops=operands(w),
                                thresholds=thresholds, line_buffer_bits=lb, notes=notes))
            continue
        items = max(w.arith.values(), default=0)
        if w.macs:  # structured products without a GEMM: multiply-adds on stream lanes
            items = max(items, w.macs)
        if items == 0:
            items = w.out_numel  # pure data movement: one element per lane per cycle
        layers.append(Layer(w.node, w.op, "stream", work_items=items,
                            line_buffer_bits=_line_buffer_bits(w) if w.group == "pool" else 0))
    return layers


def _fifo_resources(layers: Sequence[Layer], params: Mapping[str, Any]) -> Resources:
    """Inter-engine FIFOs (PE x output bits wide) and the DMA input/output stream buffers."""
    r = Resources()
    depth = int(params["fifo_depth"])
    for ly in layers:
        if ly.kind == "mvau" and depth:
            width = ly.pe * (1 if ly.thresholds else max(8, ly.ops.a_bits if ly.ops else 8))
            bram, lutram = memory_blocks(depth, width, params)
            r = r + Resources(lut=lutram, bram18=bram, lutram=lutram)
    io = int(params["io_fifo_depth"])
    if io:
        bram, lutram = memory_blocks(io, int(params["io_width_bits"]), params)
        r = r + Resources(lut=lutram, bram18=bram, lutram=lutram).scaled(2)
    return r


# --- the folding search -------------------------------------------------------------------------------
@dataclass
class _Options:
    """Pareto-optimal foldings of one MAC layer: lanes ascending, cycles strictly descending."""

    cycles: list[int]  # negated for bisect on an ascending list
    folds: list[tuple[int, int]]

    def pick(self, target: int) -> tuple[int, int]:
        i = bisect.bisect_left(self.cycles, -target)
        if i >= len(self.folds):
            return self.folds[-1]
        return self.folds[i]


def _options(ly: Layer, max_lanes: int) -> _Options:
    cycles, folds = _pareto(ly.mh, ly.mw, ly.pixels, max_lanes)
    return _Options(list(cycles), list(folds))


def _fold_widths(n: int) -> list[int]:
    """Lane counts tried for an extent of ``n``: its divisors (FINN's rule: PE | MH, SIMD | MW) and the
    powers of two below it. A power of two that does not divide ``n`` pads the extent up to
    ``lanes x ceil(n / lanes)`` with zero rows / columns, as a designer pads a pruned layer (45 or 90
    channels) to a foldable size; the padded lanes compute zeros (counted in the cycles and in the
    weight memory). With them a layer pruned from a power-of-two width can always take the original
    layer's folding, so pruning never forces a slower design."""
    return sorted(set(_divisors(n)) | {1 << k for k in range(max(n, 1).bit_length()) if (1 << k) < n})


@functools.lru_cache(maxsize=4096)
def _pareto(mh: int, mw: int, pixels: int, max_lanes: int) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    cands: list[tuple[int, int, int, int]] = []
    for pe in _fold_widths(mh):
        for simd in _fold_widths(mw):
            if pe * simd > max_lanes:
                break
            cyc = pixels * math.ceil(mh / pe) * math.ceil(mw / simd)
            cands.append((pe * simd, -simd, cyc, pe))  # fewer lanes first; FINN widens SIMD before PE
    cands.sort()
    cycles: list[int] = []
    folds: list[tuple[int, int]] = []
    best = math.inf
    for lanes, neg_simd, cyc, pe in cands:
        if cyc < best:
            best = cyc
            cycles.append(-cyc)
            folds.append((pe, -neg_simd))
    return tuple(cycles), tuple(folds)


def _stream_lanes(ly: Layer, target: int, max_lanes: int) -> int:
    if not ly.work_items:
        return 1
    return max(1, min(max_lanes, math.ceil(ly.work_items / max(target, 1))))


class _Planner:
    """Folds the layers of one workload for one part; per-layer resources are cached by folding."""

    def __init__(self, workload: Workload, spec: FpgaSpec, params: Mapping[str, Any],
                 device: DeviceProfile | None = None) -> None:
        self.spec, self.params = spec, params
        #: cycles to stream each MAC layer's weights from DRAM once (external weights, per inference)
        self.stream_cycles = {w.node: (transfer_cycles(device, {device.dram.name: w.param_bytes})[device.dram.name]
                                       if device is not None else 0) for w in workload.ops}
        self.base = _base_layers(workload, spec, params)
        works = {w.node: w for w in workload.ops}
        self.units = {ly.node: _stream_unit(works[ly.node], params, spec) for ly in self.base if ly.kind == "stream"}
        self.max_lanes = int(params["max_lanes"])
        self.opts = {ly.node: _options(ly, self.max_lanes) for ly in self.base if ly.kind == "mvau"}
        self.fifo = _fifo_resources(self.base, params)
        self._cache: dict[tuple[str, int, int, bool], Resources] = {}

    def _mvau(self, ly: Layer) -> Resources:
        key = (ly.node, ly.pe, ly.simd, ly.external_weights)
        r = self._cache.get(key)
        if r is None:
            r = self._cache[key] = _mvau_resources(ly, self.spec, self.params)
        return r

    def _stream(self, ly: Layer) -> Resources:
        key = (ly.node, ly.lanes, 0, False)
        r = self._cache.get(key)
        if r is None:
            r = self.units[ly.node].scaled(ly.lanes) + Resources(lut=int(self.params["c0_luts"]) // 3)
            if ly.line_buffer_bits:
                bram, lutram = memory_blocks(math.ceil(ly.line_buffer_bits / 64), 64, self.params)
                r = r + Resources(lut=lutram, bram18=bram, lutram=lutram)
            self._cache[key] = r
        return r

    def candidates(self) -> list[int]:
        c = {-x for o in self.opts.values() for x in o.cycles}
        c |= {ly.work_items for ly in self.base if ly.kind == "stream" and ly.work_items}
        return sorted(c) or [1]

    def _folded(self, ly: Layer, target: int, external: frozenset[str]) -> Layer:
        if ly.kind == "mvau":
            pe, simd = self.opts[ly.node].pick(target)
            return replace(ly, pe=pe, simd=simd, external_weights=ly.node in external)
        if ly.kind == "stream":
            return replace(ly, lanes=_stream_lanes(ly, target, self.max_lanes))
        return ly

    def total(self, target: int, external: frozenset[str]) -> Resources:
        """Design totals at ``target`` without building the layer records (the search's inner loop)."""
        acc = list(self.fifo.as_tuple())
        for ly in self.base:
            if ly.kind == "mvau":
                pe, simd = self.opts[ly.node].pick(target)
                ext = ly.node in external
                r = self._cache.get((ly.node, pe, simd, ext))
                if r is None:
                    r = self._mvau(replace(ly, pe=pe, simd=simd, external_weights=ext))
            elif ly.kind == "stream":
                lanes = _stream_lanes(ly, target, self.max_lanes)
                r = self._cache.get((ly.node, lanes, 0, False)) or self._stream(replace(ly, lanes=lanes))
            else:
                continue
            for i, v in enumerate(r.as_tuple()):
                acc[i] += v
        return Resources(*acc)

    def build(self, target: int, external: frozenset[str]) -> tuple[list[Layer], Resources]:
        out: list[Layer] = []
        for ly in self.base:
            ly = self._folded(ly, target, external)
            if ly.kind == "mvau":
                ly = replace(ly, resources=self._mvau(ly))
            elif ly.kind == "stream":
                ly = replace(ly, resources=self._stream(ly))
            out.append(ly)
        return out, self.total(target, external)


def _external_set(pl: "_Planner", target: int, budget: float) -> frozenset[str]:
    """Weights that stream from DRAM at ``target``: none if the design's BRAM fits ``budget``, else the
    layers with the most weight BRAM first until it does (FINN's "external" weights)."""
    total = pl.total(target, frozenset())
    if total.bram18 <= budget:
        return frozenset()
    bram = total.bram18
    ext: set[str] = set()
    gains = []
    for ly in pl.base:
        if ly.kind != "mvau":
            continue
        pe, simd = pl.opts[ly.node].pick(target)
        folded = replace(ly, pe=pe, simd=simd)
        gains.append((pl._mvau(folded).bram18 - pl._mvau(replace(folded, external_weights=True)).bram18, ly.node))
    bus = 0  # the layers streaming weights share the DRAM bus: together within one interval
    for gain, node in sorted(gains, reverse=True):
        if bram <= budget or gain <= 0:
            break
        if bus + pl.stream_cycles[node] > target:
            continue  # streaming this layer's weights would make the DRAM bus the bottleneck
        ext.add(node)
        bus += pl.stream_cycles[node]
        bram -= gain
    return frozenset(ext)


def plan_dataflow(workload: Workload, device: DeviceProfile) -> Design:
    """Fold every layer for the smallest initiation interval whose design fits the part.

    At every candidate interval the weights that do not fit the BRAM stream from DRAM (largest first),
    so a faster design may trade on-chip weights for wider engines."""
    spec = device.fpga
    assert spec is not None
    params = params_of(spec, device.source)
    limits = limits_of(spec)
    share = float(params["target_utilization"])
    pl = _Planner(workload, spec, params, device)
    candidates = pl.candidates()
    notes: list[str] = []
    budget = share * limits["bram18"]

    def at(target: int) -> tuple[Resources, frozenset[str]]:
        ext = _external_set(pl, target, budget)
        return pl.total(target, ext), ext

    total, external = at(candidates[-1])
    if _fits(total, limits, share):
        lo, hi = 0, len(candidates) - 1
        while lo < hi:  # smallest target that fits (resources shrink as the target grows)
            mid = (lo + hi) // 2
            if _fits(at(candidates[mid])[0], limits, share):
                hi = mid
            else:
                lo = mid + 1
        target = candidates[lo]
        total, external = at(target)
    else:
        target = candidates[-1]
        notes.append(f"the design exceeds {share:.0%} of the part even fully folded")
    layers, total = pl.build(target, external)
    if external:
        notes.append(f"{len(external)} layers stream their weights from DRAM every frame (BRAM too small)")
    return Design("dataflow", tuple(layers), target, total, limits, _fits(total, limits, 1.0), tuple(notes),
                  shared=pl.fifo, meets_target=_fits(total, limits, share))


def design_for_folding(workload: Workload, device: DeviceProfile, folding: Mapping[str, tuple[int, int]]) -> Design:
    """A dataflow design with the (PE, SIMD) of each named MAC layer fixed (e.g. a published design's
    folding); unnamed layers are folded for the slowest named layer's cycles."""
    spec = device.fpga
    assert spec is not None
    params = params_of(spec, device.source)
    limits = limits_of(spec)
    pl = _Planner(workload, spec, params)
    unknown = sorted(set(folding) - {ly.node for ly in pl.base if ly.kind == "mvau"})
    if unknown:
        raise KeyError(f"not MAC layers of the graph: {', '.join(unknown)}")
    fixed = [replace(ly, pe=folding[ly.node][0], simd=folding[ly.node][1]) for ly in pl.base if ly.node in folding]
    target = max((ly.cycles for ly in fixed), default=pl.candidates()[-1])
    layers, _ = pl.build(target, frozenset())
    out: list[Layer] = []
    total = pl.fifo
    for ly in layers:
        if ly.node in folding:
            pe, simd = folding[ly.node]
            ly = replace(ly, pe=pe, simd=simd)
            ly = replace(ly, resources=pl._mvau(ly))
        total = total + ly.resources
        out.append(ly)
    return Design("dataflow", tuple(out), max(ly.cycles for ly in out), total, limits, _fits(total, limits, 1.0),
                  shared=pl.fifo)


#: significant bits of an operand as a multiplier sees it (floats: the mantissa with its hidden bit)
_MANTISSA = {"fp32": 24, "fp16": 11, "bf16": 8}


def _eff_bits(kind: str, bits: int, name: str) -> int:
    if kind == "float":
        return _MANTISSA.get(name, 24 if bits > 16 else 11)
    return 1 if kind in ("binary", "ternary") else bits


def overlay_passes(layer: Operands, engine: Operands) -> int:
    """Passes the overlay engine needs for a layer whose operands are wider than its own: each
    operand is split into engine-width pieces (a 24-bit fp32 mantissa on an 8-bit engine: 3 pieces),
    one pass per pair of pieces (ASSUMED: the engine composes partial products; in practice the
    host quantizes such a layer's input instead). A float engine runs integers exactly: one pass."""
    wl = _eff_bits(layer.w_kind, layer.w_bits, layer.w_name)
    al = _eff_bits(layer.a_kind, layer.a_bits, layer.a_name)
    we = _eff_bits(engine.w_kind, engine.w_bits, engine.w_name)
    ae = _eff_bits(engine.a_kind, engine.a_bits, engine.a_name)
    return math.ceil(wl / max(we, 1)) * math.ceil(al / max(ae, 1))


def _size_overlay(macs: Sequence[Layer], engine: Any, budget: Mapping[str, float],
                  max_lanes: int) -> tuple[int, int]:
    """The PE x SIMD of one overlay engine: the shape with the fewest compute cycles over its MAC
    layers among those whose datapath fits ``budget`` (DSP, LUT, FF). SIMD is a power of two (the
    reduction tree), PE any count (layers pad to a multiple of it)."""
    def fits(r: Resources) -> bool:
        return r.dsp <= budget["dsp"] and r.lut <= budget["lut"] and r.ff <= budget["ff"]

    best: tuple[int, int, int] | None = None
    simd = 1
    while simd <= max_lanes:
        if not fits(engine(1, simd)):
            break
        lo, hi = 1, max(1, max_lanes // simd)
        while lo < hi:  # widest PE that fits at this SIMD (resources grow with PE)
            mid = (lo + hi + 1) // 2
            if fits(engine(mid, simd)):
                lo = mid
            else:
                hi = mid - 1
        pe = lo
        cycles = sum(ly.pixels * math.ceil(ly.mh / pe) * math.ceil(ly.mw / simd) * ly.passes for ly in macs)
        if best is None or (cycles, pe * simd) < (best[0], best[1] * best[2]):
            best = (cycles, pe, simd)
        simd *= 2
    return (best[1], best[2]) if best else (1, 1)


#: overlay engine classes: products that need multipliers (float / int: DSPs or LUT multipliers) and
#: products that need none (binary / ternary: XNOR-popcount or add / subtract lanes in LUTs). A binary
#: engine cannot compute a float or int product by repeating passes, so a graph mixing the two gets
#: one engine of each.
ENGINE_CLASSES = {"int": "float/int", "float": "float/int", "xnor": "binary/ternary", "addsub": "binary/ternary"}

#: LUT / FF shares of the multiply engine tried when two engines split the budget
_SPLITS = tuple(i / 20 for i in range(1, 20))


@dataclass(frozen=True)
class OverlayEngine:
    """One engine of an overlay: the class of products it computes, its operand types, shape and datapath."""

    name: str  # float/int | binary/ternary
    ops: Operands
    pe: int
    simd: int
    resources: Resources
    nodes: tuple[str, ...]


def _engine_ops(layers: Sequence[Layer]) -> Operands:
    """The operand types carrying most of these layers' MACs (ties: float, then the wider)."""
    share_of: dict[Operands, int] = {}
    for ly in layers:
        if ly.ops:
            share_of[ly.ops] = share_of.get(ly.ops, 0) + ly.pixels * ly.mh * ly.mw
    return max(share_of, key=lambda o: (share_of[o], o.lane_kind == "float", o.w_bits + o.a_bits),
               default=Operands("int", 8, "int", 8))


def plan_overlay(workload: Workload, device: DeviceProfile) -> Design:
    """Layer-sequential engines sized to the part (unless the profile fixes PE x SIMD).

    MAC layers are grouped by ``ENGINE_CLASSES``; each group present gets one engine built for the
    operand types carrying most of its MACs (layers with wider operands take passes, see
    ``overlay_passes``). The datapaths share ``target_utilization`` of the DSPs and half of it of the
    LUTs / FFs (the other half: DMA, address generation, buffer control, ASSUMED). With two engines the
    multiply engine may use all of that DSP share and a fraction f of the LUT / FF share, the
    binary/ternary engine the rest; f is the one of 0.05, 0.10 ... 0.95 whose engines give the fewest
    compute cycles over the graph."""
    spec = device.fpga
    assert spec is not None
    params = params_of(spec, device.source)
    limits = limits_of(spec)
    share = float(params["target_utilization"])
    acc = int(params["acc_bits"]) or None
    max_lanes = int(params["max_lanes"])
    base = _base_layers(workload, spec, params)
    macs = [ly for ly in base if ly.kind == "mvau"]
    groups: dict[str, list[Layer]] = {}
    for ly in macs:
        groups.setdefault(ENGINE_CLASSES[ly.ops.lane_kind] if ly.ops else "float/int", []).append(ly)
    if not groups:
        groups["float/int"] = []
    names = sorted(groups, key=lambda n: n != "float/int")  # the multiply engine first
    ops_of = {n: _engine_ops(groups[n]) for n in names}
    groups = {n: [replace(ly, passes=overlay_passes(ly.ops, ops_of[n]), engine=n) if ly.ops else
                  replace(ly, engine=n) for ly in groups[n]] for n in names}

    @functools.lru_cache(maxsize=None)
    def engine(name: str, p: int, s: int) -> Resources:
        shape = EngineShape(mh=p, mw=s, pe=p, simd=s)
        datapath = engine_resources(shape, ops_of[name], spec.dsp_mult_bits, params, acc_bits=acc).parts["datapath"]
        return datapath.scaled(int(params["overlay_pixel_par"]))  # one PE x SIMD array per parallel pixel

    full = {"dsp": share * limits["dsp"], "lut": share / 2 * limits["lut"], "ff": share / 2 * limits["ff"]}
    fixed_pe, fixed_simd = int(params["overlay_pe"]), int(params["overlay_simd"])

    def sized(name: str, budget: Mapping[str, float]) -> tuple[int, int]:
        if fixed_pe and fixed_simd:
            return fixed_pe, fixed_simd
        return _size_overlay(groups[name], functools.partial(engine, name), budget, max_lanes)

    def cycles(name: str, fold: tuple[int, int]) -> int:
        return sum(replace(ly, pe=fold[0], simd=fold[1]).cycles for ly in groups[name])

    if len(names) == 1:
        folds = {names[0]: sized(names[0], full)}
    else:
        mul, low = names
        best: tuple[int, dict[str, tuple[int, int]]] | None = None
        for f in _SPLITS:
            fm = sized(mul, {"dsp": full["dsp"], "lut": f * full["lut"], "ff": f * full["ff"]})
            used = engine(mul, *fm)
            fl = sized(low, {"dsp": full["dsp"] - used.dsp, "lut": (1 - f) * full["lut"],
                             "ff": (1 - f) * full["ff"]})
            total_cycles = cycles(mul, fm) + cycles(low, fl)
            if best is None or total_cycles < best[0]:
                best = (total_cycles, {mul: fm, low: fl})
        assert best is not None
        folds = best[1]
    engines = tuple(OverlayEngine(n, ops_of[n], *folds[n], engine(n, *folds[n]),
                                  tuple(ly.node for ly in groups[n])) for n in names)
    core = Resources()
    for e in engines:
        core = core + e.resources
    # on-chip buffers: the rest of the BRAM budget holds weight and activation tiles
    buf_bram = max(0, int(share * limits["bram18"]) - core.bram18)
    total = core + Resources(bram18=buf_bram)
    by_node = {ly.node: ly for n in names for ly in groups[n]}
    primary = engines[0] if len(engines) == 1 else max(
        engines, key=lambda e: sum(by_node[x].pixels * by_node[x].mh * by_node[x].mw for x in e.nodes))
    pix = int(params["overlay_pixel_par"])
    layers = tuple(replace(by_node[ly.node], pe=folds[by_node[ly.node].engine][0],
                           simd=folds[by_node[ly.node].engine][1], pixel_par=pix) if ly.kind == "mvau" else
                   replace(ly, lanes=primary.pe * primary.simd) if ly.kind == "stream" else ly for ly in base)
    notes = tuple(f"overlay engine {e.pe} PE x {e.simd} SIMD for {e.ops.w_bits}-bit x {e.ops.a_bits}-bit "
                  f"{e.ops.lane_kind} operands ({e.name}, {len(e.nodes)} layers, {e.resources.dsp} DSP, "
                  f"{e.resources.lut} LUT)" for e in engines)
    return Design("overlay", layers, 0, total, limits, _fits(total, limits, 1.0), notes,
                  shared=Resources(bram18=buf_bram), engines=engines)


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
    arch = params_of(spec, device.source)["architecture"]
    if arch == "overlay":
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
            for i, res in booked.items():
                costs[i] = replace(costs[i], resources=res)
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
