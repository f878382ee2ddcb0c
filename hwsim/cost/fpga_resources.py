"""FPGA resources of one layer engine: LUTs, flip-flops, DSP slices and BRAM18 blocks, by bit width.

An engine is a FINN-style matrix-vector unit: ``pe`` processing elements, each reducing ``simd``
products per cycle into an accumulator, fed from PE-local weight memories. Its cost is built from
primitives whose formulas are written out here (``docs/fpga.md`` derives each one):

* **Lane (one product).** int x int: a LUT multiplier, FINN-R's fit ``(2*ceil((W+A)/6) - 1) * (W+A)``
  LUTs (Blott et al., TRETS 2018, as used by FINN's estimator), or a share of a DSP slice when the
  product is wide enough (``dsp_min_bits``). Several narrow products pack into one DSP when they share
  an operand: lanes spaced ``W+A+guard`` bits apart must fit the DSP's wide input port (Xilinx WP486:
  two int8 MACs per DSP48E2, whose A port is 27 bits; a 25-bit DSP48E1 holds only one). binary x binary:
  no multiplier at all, the XNOR is absorbed into the first compressor level of the popcount.
  binary / ternary x int-A: add / subtract / skip of the activation, a conditional negation merged
  into the adder tree's first level (one LUT per activation bit). Floating point: a DSP-based
  multiplier and a LUT adder (Xilinx PG060-class figures, ASSUMED, named in FP_MAC below).
* **Reduction.** A binary tree of ripple-carry adders, one LUT per output bit (7-series / UltraScale
  CARRY4/CARRY8 chains). Popcount: 6-input LUTs compress three XNOR pairs into a 2-bit count
  (two LUTs per three lanes), then the tree adds the counts.
* **Accumulator and threshold.** An ``acc_bits`` adder + register per PE, a comparator per threshold
  (a carry chain, one LUT per bit) and the thresholds in LUTRAM (RAM64X1: one LUT per 64 x 1 bit).
* **Weights.** Per PE a memory of depth ``wmem = (MW/SIMD)*(MH/PE)`` and width ``SIMD*W`` bits: BRAM18
  in its best aspect ratio (16Kx1 ... 512x36), or LUTRAM when it is small (``lutram_max_bits``).
  Hard-wired (unrolled) weights need no memory; zero ternary weights then need no adder at all.
* **Control.** FINN-R's per-engine constant ``c0`` (300 LUTs) and factor ``c1`` (1.1) on the datapath.

These are estimates of synthesis results, not synthesis: ``tests/golden/test_finn_resources.py``
states how far they land from BNN-PYNQ's published Vivado reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hwsim.hardware.peaks import FPGA_FLOAT_MAC

#: BRAM18 aspect ratios (depth, width) in simple dual-port mode (Xilinx UG473 / UG573).
BRAM18_SHAPES: tuple[tuple[int, int], ...] = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
BRAM18_BITS = 18 * 1024

#: Floating-point MAC lanes (one multiplier + one adder): (DSPs, LUTs, FFs); the table and its source live
#: with the device peaks, which draw the FPGA's float roof from the same figures.
FP_MAC: Mapping[str, tuple[int, int, int]] = FPGA_FLOAT_MAC

#: Default coefficients; a profile overrides any of them in ``fpga.model_params``.
DEFAULT_PARAMS: Mapping[str, Any] = {
    "c0_luts": 300,  # FINN-R per-engine constant (control, stream handshakes)
    "c1": 1.1,  # FINN-R factor on the datapath LUTs
    "dsp_min_bits": 5,  # products with an operand this wide or wider go to DSPs (FINN: LUT below ~4 bits)
    "dsp_guard_bits": 2,  # guard bits between products packed in one DSP (WP486 spacing = 2W + 2)
    "dsp_out_bits": 48,  # DSP accumulator / P port width
    "lutram_max_bits": 2048,  # memories up to this size go to LUTRAM (Vivado/HLS auto style, ASSUMED)
    "ff_per_lut": 1.0,  # registers per datapath LUT (pipelined datapath, ASSUMED)
}


@dataclass(frozen=True)
class Resources:
    """A resource bill. ``adders`` counts multi-bit adders (tree + accumulators), ``multipliers`` the
    multiplier instances (LUT or DSP), so savings of binary/ternary layers can be shown beside LUTs."""

    lut: int = 0
    ff: int = 0
    dsp: int = 0
    bram18: int = 0
    lutram: int = 0  # LUTs used as memory (included in ``lut``)
    adders: int = 0
    multipliers: int = 0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def scaled(self, k: int) -> "Resources":
        return Resources(*(a * k for a in self.as_tuple()))

    def as_tuple(self) -> tuple[int, ...]:
        return (self.lut, self.ff, self.dsp, self.bram18, self.lutram, self.adders, self.multipliers)

    def as_dict(self) -> dict[str, int]:
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram18": self.bram18, "lutram": self.lutram,
                "adders": self.adders, "multipliers": self.multipliers}


@dataclass(frozen=True)
class Operands:
    """Operand types of a layer's products: ``w`` / ``a`` are dtype kinds (float, int, uint, binary,
    ternary, fixed) with bit widths."""

    w_kind: str
    w_bits: int
    a_kind: str
    a_bits: int
    w_name: str = ""
    a_name: str = ""

    @property
    def lane_kind(self) -> str:
        """xnor (both binary), addsub (one operand binary/ternary), float, or int."""
        low = ("binary", "ternary")
        if self.w_kind == "binary" and self.a_kind == "binary":
            return "xnor"
        if self.w_kind in low or self.a_kind in low:
            return "addsub"
        if self.w_kind == "float" or self.a_kind == "float":
            return "float"
        return "int"

    @property
    def float_name(self) -> str:
        names = {self.w_name, self.a_name}
        if "fp32" in names or max(self.w_bits, self.a_bits) > 16:
            return "fp32"
        return "bf16" if "bf16" in names else "fp16"

    @property
    def product_bits(self) -> int:
        """Width of one product (the adder tree's leaves)."""
        kind = self.lane_kind
        if kind == "xnor":
            return 1
        if kind == "addsub":
            other = self.a_bits if self.w_kind in ("binary", "ternary") else self.w_bits
            return other + 1  # a negated operand needs one more bit
        return self.w_bits + self.a_bits


# --- primitives -------------------------------------------------------------------------------------
def adder_tree_luts(n: int, leaf_bits: int) -> tuple[int, int]:
    """(LUTs, adders) of a binary tree summing ``n`` operands of ``leaf_bits`` bits (one LUT per output bit)."""
    luts = adders = 0
    width = leaf_bits
    while n > 1:
        pairs = n // 2
        width += 1
        luts += pairs * width
        adders += pairs
        n = pairs + (n % 2)
    return luts, adders


def popcount_luts(n: int) -> tuple[int, int]:
    """(LUTs, adders) of XNOR + popcount over ``n`` bit pairs: LUT6s turn three XNOR pairs into a 2-bit
    count (two LUTs per triple), then an adder tree sums the counts."""
    if n <= 0:
        return 0, 0
    triples = math.ceil(n / 3)
    tree, adders = adder_tree_luts(triples, 2)
    return 2 * triples + tree, adders


def lut_multiplier(w_bits: int, a_bits: int) -> int:
    """LUTs of one W x A LUT-based multiplier (FINN-R's regression, Blott et al. 2018)."""
    s = w_bits + a_bits
    return (2 * math.ceil(s / 6) - 1) * s


def products_per_dsp(w_bits: int, a_bits: int, dsp_mult_bits: tuple[int, int], guard: int, out_bits: int) -> int:
    """Products of one shared operand that one DSP slice computes (WP486-style packing).

    Lanes sit ``W + A + guard`` bits apart in the wide input port; all must fit the port and the
    accumulator. An operand wider than the narrow port needs several DSPs (returned as a negative
    count of DSPs per product, -k)."""
    wide, narrow = max(dsp_mult_bits), min(dsp_mult_bits)
    if min(w_bits, a_bits) > narrow or max(w_bits, a_bits) > wide:
        per = math.ceil(max(w_bits, a_bits) / wide) * math.ceil(min(w_bits, a_bits) / narrow)
        return -per
    spacing = w_bits + a_bits + guard
    packed = 1 + max(0, (wide - min(w_bits, a_bits)) // spacing)
    return max(1, min(packed, out_bits // spacing))


def acc_bits_for(ops: Operands, reduction: int) -> int:
    """Accumulator width: product bits grown by log2 of the reduction length (+1 for sign)."""
    if ops.lane_kind == "xnor":
        return max(1, math.ceil(math.log2(reduction + 1))) + 1
    return ops.product_bits + max(1, math.ceil(math.log2(max(reduction, 2))))


def memory_blocks(depth: int, width_bits: int, params: Mapping[str, Any]) -> tuple[int, int]:
    """(BRAM18 blocks, LUTRAM LUTs) of one memory of ``depth`` words x ``width_bits``: LUTRAM when it is
    small, else BRAM18 in the aspect ratio that needs the fewest blocks."""
    if depth <= 0 or width_bits <= 0:
        return 0, 0
    bits = depth * width_bits
    if bits <= int(params["lutram_max_bits"]):
        return 0, lutram_luts(depth, width_bits)
    best = min(math.ceil(depth / d) * math.ceil(width_bits / w) for d, w in BRAM18_SHAPES)
    return best, 0


def lutram_luts(depth: int, width_bits: int) -> int:
    """RAM64X1: one LUT stores 64 x 1 bit."""
    return math.ceil(depth / 64) * width_bits


# --- one engine ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EngineShape:
    """A matrix-vector engine: MH output rows (channels), MW reduction length, folded PE x SIMD.

    ``nonzero_fraction`` matters only for hard-wired ternary weights (zeros cost no adder)."""

    mh: int
    mw: int
    pe: int
    simd: int
    thresholds: int = 0  # thresholds per output channel (2^B - 1 for a B-bit thresholded output)
    hardwired: bool = False
    nonzero_fraction: float = 1.0
    weight_numel: int | None = None  # stored weights (default mh * mw)

    @property
    def wmem(self) -> int:
        return math.ceil(self.mw / self.simd) * math.ceil(self.mh / self.pe)

    @property
    def tmem(self) -> int:
        return math.ceil(self.mh / self.pe)


@dataclass(frozen=True)
class EngineBill:
    total: Resources
    parts: Mapping[str, Resources] = field(default_factory=dict)


def lane_resources(ops: Operands, simd: int, fpga_mult_bits: tuple[int, int], params: Mapping[str, Any],
                   active_lanes: int | None = None) -> Resources:
    """One PE's products and reduction tree over ``simd`` lanes (``active_lanes`` < simd when hard-wired
    zero weights are dropped)."""
    n = simd if active_lanes is None else active_lanes
    kind = ops.lane_kind
    if kind == "xnor":
        luts, adders = popcount_luts(n)
        return Resources(lut=luts, adders=adders)
    if kind == "addsub":
        # conditional negation merged into the first tree level: one LUT per operand bit per lane
        other = ops.product_bits - 1
        tree, adders = adder_tree_luts(n, ops.product_bits)
        return Resources(lut=n * other + tree, adders=adders)
    if kind == "float":
        dsp, lut, ff = FP_MAC[ops.float_name]
        # floating point does not tree-reduce cheaply: each lane has its own adder (the FP_MAC figure)
        return Resources(lut=n * lut, ff=n * ff, dsp=n * dsp, adders=n, multipliers=n)
    # integer products
    tree, adders = adder_tree_luts(n, ops.product_bits)
    if max(ops.w_bits, ops.a_bits) >= int(params["dsp_min_bits"]):
        per = products_per_dsp(ops.w_bits, ops.a_bits, fpga_mult_bits, int(params["dsp_guard_bits"]),
                               int(params["dsp_out_bits"]))
        dsp = n * -per if per < 0 else math.ceil(n / per)
        return Resources(lut=tree, dsp=dsp, adders=adders, multipliers=n)
    return Resources(lut=n * lut_multiplier(ops.w_bits, ops.a_bits) + tree, adders=adders, multipliers=n)


def engine_resources(shape: EngineShape, ops: Operands, fpga_mult_bits: tuple[int, int],
                     params: Mapping[str, Any], acc_bits: int | None = None) -> EngineBill:
    """Resources of one folded engine: PE x (lanes + accumulator + thresholds) + weight memory + control.
    ``acc_bits`` fixes the accumulator / threshold width (BNN-PYNQ's HLS library uses 16); default:
    the minimal width for the reduction length."""
    acc = acc_bits or acc_bits_for(ops, shape.mw)
    if shape.hardwired and ops.lane_kind == "addsub" and ops.w_kind == "ternary":
        active = max(1, math.ceil(shape.simd * shape.nonzero_fraction))
    else:
        active = None
    lanes = lane_resources(ops, shape.simd, fpga_mult_bits, params, active)
    accum = Resources(lut=acc, ff=acc, adders=1)
    thr = Resources()
    if shape.thresholds:
        t_luts = lutram_luts(shape.tmem, acc) * shape.thresholds
        thr = Resources(lut=shape.thresholds * acc + t_luts, lutram=t_luts)
    per_pe = lanes + accum + thr
    datapath = per_pe.scaled(shape.pe)
    c1 = float(params["c1"])
    logic = datapath.lut - datapath.lutram
    lut = int(round(int(params["c0_luts"]) + c1 * logic)) + datapath.lutram
    ff = datapath.ff + int(round(float(params["ff_per_lut"]) * logic))
    core = Resources(lut=lut, ff=ff, dsp=datapath.dsp, lutram=datapath.lutram, adders=datapath.adders,
                     multipliers=datapath.multipliers)
    weights = Resources()
    if not shape.hardwired:
        width = shape.simd * ops.w_bits
        bram, lutram = memory_blocks(shape.wmem, width, params)
        weights = Resources(lut=lutram, bram18=bram, lutram=lutram).scaled(shape.pe)
    return EngineBill(total=core + weights, parts={"datapath": core, "weights": weights})
