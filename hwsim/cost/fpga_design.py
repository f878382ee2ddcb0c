"""The layers of an FPGA design, shared by both architectures of ``hwsim.cost.fpga``: the model's
parameters (``fpga.model_params`` over ``FPGA_DEFAULTS``, DPU-like presets), one ``Layer`` per op
(MAC engines, stream engines, fused and view ops) with its resources, and the ``Design`` a planner
returns (``hwsim.cost.fpga_dataflow``: one engine per layer; ``hwsim.cost.fpga_overlay``: engines
reused layer after layer)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hwsim.cost.fpga_resources import (
    DEFAULT_PARAMS, FP_MAC, EngineShape, Operands, Resources, engine_resources, lut_multiplier, memory_blocks,
)
from hwsim.cost.work import OpWork, Workload
from hwsim.errors import DeviceProfileError
from hwsim.hardware.profile import FpgaSpec
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
    # a given FINN build instead of hwsim's own folding search (both make the design a dataflow one)
    "folding_config": "",  # path of a FINN folding_config.json: the PE / SIMD of every MAC engine (finn_folding)
    "target_fps": 0,  # FINN's target_fps: every layer folded by FINN's SetFolding for clock / target_fps cycles
    "mvau_wwidth_max": 36,  # FINN's mvau_wwidth_max: SetFolding's cap on SIMD x weight bits (FINN's default)
}

MAC_GROUPS = ("conv", "dense", "matmul")
BRAM18_BITS = 18 * 1024  # one BRAM18 block

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
    if float(p["target_fps"]) < 0:
        raise DeviceProfileError(f"target_fps must be >= 0, got {p['target_fps']}", source=source or None,
                                 where="fpga.model_params.target_fps")
    if p["folding_config"] or float(p["target_fps"]):
        if p["architecture"] == "overlay" or preset:
            raise DeviceProfileError("folding_config / target_fps describe a FINN dataflow build; this profile's "
                                     "architecture is an overlay", source=source or None, where="fpga.model_params")
        p["architecture"] = "dataflow"
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
    #: overlay: BRAM18 the design would use with no budget (buffers holding its largest layer); above
    #: ``totals.bram18`` when the buffers are capped
    bram18_wanted: int | None = None

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


#: activations FINN's streamlining turns into thresholds when their output is a quantized integer
_THRESHOLD_ACTIVATIONS = ("relu", "relu6", "hardtanh", "clip")


def _fusions(workload: Workload, quantized_thresholds: bool = False) -> dict[str, str]:
    """Streamlining (FINN): a batchnorm and the quantizing activation right after a conv/linear become that
    engine's thresholds: a sign (binary output), and, for a dataflow design (``quantized_thresholds``), a
    ReLU-like activation whose output is an integer type of at most ``MAX_THRESHOLD_BITS`` bits (2^bits - 1
    thresholds per channel, FINN's MultiThreshold). The overlay keeps those as layers of their own: its fitted per-layer
    overhead (a DPU-like engine's) was fitted with them counted.

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
        if j < len(ops) and (ops[j].op == "sign" or (quantized_thresholds and _quantizing_activation(ops[j]))):
            for n in chain + [ops[j].node]:
                fused[n] = w.node
    return fused


#: widest activation streamlined into thresholds: 2^4 - 1 = 15 per channel. hwsim keeps threshold memory in
#: LUTRAM (BNN-PYNQ's one threshold per channel); the 31-255 per channel of 5- to 8-bit activations would need
#: a block-RAM threshold model hwsim does not have, so those keep a stream engine of their own
MAX_THRESHOLD_BITS = 4


def _quantizing_activation(w: OpWork) -> bool:
    return (w.op in _THRESHOLD_ACTIVATIONS and w.out_dtype.kind in ("int", "uint")
            and w.out_dtype.bits <= MAX_THRESHOLD_BITS)


def _threshold_counts(workload: Workload, fused: Mapping[str, str]) -> dict[str, int]:
    """Thresholds per output channel of each MAC engine something fused into: 1 for a fused sign,
    2^bits - 1 for a fused b-bit activation (engines with nothing fused are absent: 0)."""
    return {fused[w.node]: 1 if w.op == "sign" else 2 ** w.out_dtype.bits - 1
            for w in workload.ops if w.node in fused and w.op != "batchnorm"}


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


def _base_layers(workload: Workload, spec: FpgaSpec, params: Mapping[str, Any],
                 dataflow: bool = False) -> list[Layer]:
    fused = _fusions(workload, quantized_thresholds=dataflow)
    thresholds_of = _threshold_counts(workload, fused)
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
            thresholds = thresholds_of.get(w.node, 0)
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


