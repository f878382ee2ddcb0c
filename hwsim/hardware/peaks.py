"""Derived peaks of a profile: operations per second per unit and bit width, bytes per second per
memory level, and the ridge point (ops per DRAM byte where a kernel turns compute-bound).

One op = one multiply or one add (a MAC is 2 ops), as in GFLOPS/TOPS datasheet figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hwsim.hardware.profile import DeviceProfile

#: Floating-point MAC lanes on an FPGA (one multiplier + one adder): (DSPs, LUTs, FFs). ASSUMED: the order of
#: the Xilinx Floating-Point Operator (PG060) utilization tables for 7-series with full DSP usage for the
#: multiplier and a logic-only adder; a synthesized design varies with latency and options. The FPGA cost
#: model sizes float engines with it (``hwsim.cost.fpga_resources``); the peaks below use it for the roof.
FPGA_FLOAT_MAC: Mapping[str, tuple[int, int, int]] = {
    "fp32": (3, 430, 600),
    "fp16": (1, 230, 330),
    "bf16": (1, 210, 300),
}


@dataclass(frozen=True)
class Peak:
    unit: str  # e.g. "simd", "tensor", "cuda", "popcount", "dsp", "array"
    dtype: str
    ops_per_s: float

    @property
    def label(self) -> str:
        return f"{self.unit}.{self.dtype}"


def peak_ops(device: DeviceProfile) -> list[Peak]:
    f = device.clock_hz
    out: list[Peak] = []
    if device.cpu is not None:
        c = device.cpu
        out += [Peak("simd", k, 2 * r * c.cores * f) for k, r in c.macs_per_cycle_per_core.items()]
        out.append(Peak("popcount", "binary", 2 * c.popcount_word_bits / c.popcount_cycles_per_word * c.cores * f))
    elif device.gpu is not None:
        g = device.gpu
        out += [Peak("cuda", k, 2 * r * g.cuda_cores * f) for k, r in g.cuda_core_macs_per_cycle.items()]
        out += [Peak("tensor", k, 2 * r * g.tensor_cores * f) for k, r in g.tensor_core_macs_per_cycle.items()]
        words = 1.0 / (2.0 / g.vector_ops_per_cycle_per_sm["add"] + 1.0 / g.popcount_per_cycle_per_sm)
        out.append(Peak("popc", "binary", 2 * 32 * words * g.sms * f))
    elif device.fpga is not None:
        # one MAC per DSP slice per cycle (operands up to the DSP width); LUT fabric adds more for
        # low-bit operands: hwsim.cost.fpga sizes that per layer
        out.append(Peak("dsp", "int8", 2 * device.fpga.dsp * f))
        # floating point: as many MAC lanes as the DSPs and LUTs of the whole part hold (an upper bound)
        for dtype, (dsp, lut, _ff) in FPGA_FLOAT_MAC.items():
            lanes = min(device.fpga.dsp // dsp, device.fpga.lut // lut)
            if lanes > 0:
                out.append(Peak("fabric", dtype, 2 * lanes * f))
    elif device.systolic is not None:
        s = device.systolic
        out += [Peak("array", k, 2 * r * s.rows * s.cols * f) for k, r in s.macs_per_cycle_per_pe.items()]
    return out


def best_peak(device: DeviceProfile, dtype: str) -> Peak | None:
    cands = [p for p in peak_ops(device) if p.dtype == dtype]
    return max(cands, key=lambda p: p.ops_per_s) if cands else None


def no_native_path_note(device: DeviceProfile, dtype: str) -> str | None:
    """Why a device has no peak for ``dtype`` and how its cost model runs that dtype anyway, or None."""
    if best_peak(device, dtype) is not None:
        return None
    if device.systolic is not None:
        return (f"no {dtype} path on this int8 array: {dtype} layers are costed at its int8 rate (the "
                "SCALE-Sim convention), so the roof drawn is the int8 one")
    return f"the profile lists no {dtype} rate"


def level_bandwidths(device: DeviceProfile) -> dict[str, float]:
    return {lv.name: lv.bandwidth_bytes_per_s for lv in device.memory}


def ridge_point(device: DeviceProfile, dtype: str = "fp32") -> float | None:
    """Ops per DRAM byte at which the best unit for ``dtype`` becomes compute-bound."""
    p = best_peak(device, dtype)
    if p is None:
        return None
    return p.ops_per_s / device.dram.bandwidth_bytes_per_s
