"""Default energy per operation and per byte: Horowitz (ISSCC 2014, 45 nm, 0.9 V), scaled to a process node.

Sources (copied from ../shared/anchors, ids in brackets):
  [energy.horowitz_fp]  fp16 add 0.4, fp16 mult 1.1, fp32 add 0.9, fp32 mult 3.7 pJ
  [energy.horowitz_int] int8 add 0.03, int16 add 0.05, int32 add 0.1, int8 mult 0.2, int32 mult 3.1 pJ
  [energy.horowitz_mem] SRAM 8 KB 10, 32 KB 20, 1 MB 100 pJ per 64-bit access; DRAM 1300-2600 pJ per 64 bits

A MAC is one multiply plus one add into the accumulator: int MACs accumulate in 32 bits (int8 MAC =
0.2 + 0.1 pJ), fp16 MACs in fp16 (mixed-precision units accumulate in fp32; that is a profile choice).
Entries marked ASSUMED are not Horowitz numbers: int4 multiply (quadratic in bits from int8), binary
XNOR + popcount bit (a 1-bit full adder: int8 add / 8 per bit, times 2 for XNOR and compressor tree),
bf16 (taken equal to fp16).

Process scaling rule: dynamic logic and SRAM energy scale linearly with the feature size at constant
voltage, E(node) = E(45 nm) x node / 45 (switched capacitance ~ L; supply voltage has barely scaled
since 45 nm, so the V^2 factor is held at 1). It is a first-order rule; Stillmaker & Baas (2017) give
measured factors within ~1.5x of it between 45 and 14 nm. DRAM energy is set by the DRAM interface, not
the logic node, and is never scaled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

HOROWITZ_NODE_NM = 45.0

#: Energy of one MAC at 45 nm by compute dtype name (pJ): multiply + accumulate.
MAC_PJ_45NM: Mapping[str, float] = {
    "fp32": 3.7 + 0.9,
    "fp16": 1.1 + 0.4,
    "bf16": 1.1 + 0.4,  # ASSUMED equal to fp16 (8-bit mantissa multiplier is smaller; conservative)
    "int32": 3.1 + 0.1,
    "int16": 0.8 + 0.1,  # ASSUMED multiply: int8 mult x (16/8)^2 (array multiplier area ~ bits^2)
    "int8": 0.2 + 0.1,
    "int4": 0.05 + 0.1,  # ASSUMED multiply: int8 mult x (4/8)^2; accumulate in int32
    "ternary": 0.1,  # add/subtract/skip: the accumulate only (int32 add)
    "binary": 2 * 0.03 / 8,  # ASSUMED: XNOR + one popcount-tree full adder per bit
}

#: Energy of non-MAC arithmetic at 45 nm (pJ per op, fp32 datapath).
OP_PJ_45NM: Mapping[str, float] = {
    "add": 0.9,
    "mul": 3.7,
    "cmp": 0.9,  # ASSUMED: a comparison is a subtraction (fp32 add)
    "div": 4 * 3.7,  # ASSUMED: iterative divide ~ 4 multiplies (Newton-Raphson)
    "sqrt": 4 * 3.7,  # ASSUMED like div
    "exp": 8 * 3.7,  # ASSUMED: polynomial/range reduction ~ 8 multiply-adds
    "erf": 8 * 3.7,  # ASSUMED like exp
    "fft": 0.9 + 3.7 / 2,  # ASSUMED: an FFT flop is half adds, half multiplies
    "transform_filter": 0.9,
    "move": 0.0,  # data movement is paid as memory traffic, not arithmetic
}

#: SRAM energy per byte at 45 nm by array size (bytes -> pJ/byte): 64-bit access energy / 8.
_SRAM_POINTS = ((8 * 1024, 10 / 8), (32 * 1024, 20 / 8), (1024 * 1024, 100 / 8))
#: DRAM energy per byte, low end of Horowitz's 1300-2600 pJ per 64 bits (DDR3-class interface): the
#: default of an off-chip level that names no ``type``.
DRAM_PJ_PER_BYTE = 1300 / 8


@dataclass(frozen=True)
class DramEnergy:
    """Energy of moving one bit to or from an off-chip DRAM of one type (array + I/O, per bit transferred)."""

    pj_per_bit: float
    source: str
    assumed: bool  # True: derived by a stated rule, not read in a source

    @property
    def pj_per_byte(self) -> float:
        return self.pj_per_bit * 8


_LPDDR4_PJ_PER_BIT = 13.5
#: I/O-voltage rule for the low-power types no figure was read for: half of LPDDR4's energy per bit is
#: taken as I/O (Li, Reddy, Jacob, MEMSYS 2018: "the majority of power and energy is spent in the I/O
#: interface") and scaled with VDDQ^2 (LPDDR4 1.1 V; LPDDR4X 0.6 V; LPDDR5 0.5 V).
def _lp_io_scaled(vddq: float) -> float:
    return round(_LPDDR4_PJ_PER_BIT * (0.5 + 0.5 * (vddq / 1.1) ** 2), 1)


#: Energy per bit by DRAM type (``memory.<level>.type`` of an off-chip level).
DRAM_TYPES: Mapping[str, DramEnergy] = {
    "DDR3": DramEnergy(1300 / 64, "Horowitz ISSCC 2014, low end of 1300-2600 pJ per 64-bit access "
                       "[energy.horowitz_mem]", assumed=False),
    "LPDDR2": DramEnergy(1300 / 64, "ASSUMED equal to DDR3 (no LPDDR2 figure read)", assumed=True),
    "DDR4": DramEnergy(round(1300 / 64 * (1.2 / 1.5) ** 2, 1),
                       "ASSUMED: DDR3's figure x (VDD 1.2 V / 1.5 V)^2", assumed=True),
    "LPDDR4": DramEnergy(_LPDDR4_PJ_PER_BIT, "13-14 pJ/bit, LPDDR4 at 3.2 Gb/s/pin (H. Ha, Stanford PhD thesis, "
                         "DramDSE simulation; as tabulated in the Dongyunkam/DRAM_info README)", assumed=False),
    "LPDDR4X": DramEnergy(_lp_io_scaled(0.6), "ASSUMED: LPDDR4 with half its energy (I/O) scaled by "
                          "(VDDQ 0.6 V / 1.1 V)^2", assumed=True),
    "LPDDR5": DramEnergy(_lp_io_scaled(0.5), "ASSUMED: LPDDR4 with half its energy (I/O) scaled by "
                         "(VDDQ 0.5 V / 1.1 V)^2", assumed=True),
}


def node_scale(process_nm: float) -> float:
    """Factor applied to 45 nm logic/SRAM energy for a device built in ``process_nm``."""
    return process_nm / HOROWITZ_NODE_NM


def sram_pj_per_byte_45nm(size_bytes: float) -> float:
    """SRAM access energy per byte by array size, log-log interpolated between Horowitz's points."""
    (s0, e0), (s1, e1), (s2, e2) = _SRAM_POINTS
    if size_bytes <= s0:
        return e0 * math.sqrt(max(size_bytes, 1.0) / s0) if size_bytes < s0 else e0
    pts = _SRAM_POINTS
    for (sa, ea), (sb, eb) in zip(pts, pts[1:]):
        if size_bytes <= sb:
            t = math.log(size_bytes / sa) / math.log(sb / sa)
            return math.exp(math.log(ea) + t * (math.log(eb) - math.log(ea)))
    # beyond 1 MB: extrapolate with the last slope (wire energy grows ~ sqrt of the array size)
    t = math.log(size_bytes / s1) / math.log(s2 / s1)
    return math.exp(math.log(e1) + t * (math.log(e2) - math.log(e1)))


def default_mac_pj(process_nm: float) -> dict[str, float]:
    s = node_scale(process_nm)
    return {k: v * s for k, v in MAC_PJ_45NM.items()}


def default_op_pj(process_nm: float) -> dict[str, float]:
    s = node_scale(process_nm)
    return {k: v * s for k, v in OP_PJ_45NM.items()}


def default_level_pj_per_byte(size_bytes: float, on_chip: bool, process_nm: float,
                              dram_type: str | None = None) -> float:
    if not on_chip:
        return DRAM_TYPES[dram_type].pj_per_byte if dram_type else DRAM_PJ_PER_BYTE
    return sram_pj_per_byte_45nm(size_bytes) * node_scale(process_nm)
