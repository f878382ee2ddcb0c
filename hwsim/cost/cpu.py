"""CPU cost model: multi-core SIMD (NEON-class) processors with a cache hierarchy.

MACs run on SIMD lanes at the profile's per-dtype rate (``macs_per_cycle_per_core``): fp32 4 lanes
on A53/A72, int8 8 (widening SMLAL), fp16 at the fp32 rate where the ISA has no fp16 arithmetic.
Binary x binary products run as XNOR + popcount on ``popcount.word_bits``-wide words; ternary or
binary weights against wider activations run as add/subtract/skip at the activation's SIMD rate
(a SIMD add costs the same issue slot as an FMA: no speed-up on a CPU, only less weight traffic).
Utilization: the best vectorized dimension (output channels, output pixels or the reduction) rounded
up to whole vectors, and register tiles of 4 x lanes outputs dealt to the cores in waves (split-K
when there are fewer tiles than cores).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from hwsim.cost.common import (
    DTYPE_BITS, ComputeClass, best_lane_utilization, lane_utilization, lookup_rate, split_items, work_utilization,
)
from hwsim.cost.registry import UnsupportedOpError, register_cost_model
from hwsim.cost.rules import MacUnit, RooflineModel
from hwsim.cost.work import OpWork
from hwsim.hardware.profile import DeviceProfile

#: Output vectors per work block a core takes at a time (a 4 x lanes register tile).
BLOCK_VECTORS = 4


class CpuCostModel(RooflineModel):
    kind = "cpu"

    def mac_unit(self, work: OpWork, cc: ComputeClass, device: DeviceProfile) -> MacUnit:
        spec = device.cpu
        assert spec is not None and work.gemm is not None
        g = work.gemm
        cores = spec.cores
        if cc.mode == "xnor":
            word = spec.popcount_word_bits
            per_core = word / spec.popcount_cycles_per_word
            util = lane_utilization(g.k, word)  # the reduction axis is packed into words
            util *= work_utilization(split_items(g, BLOCK_VECTORS, 1, cores), cores)
            return MacUnit("cpu.popcount", per_core * cores, word, cores, util,
                           (f"{word}-bit XNOR+popcount, {spec.popcount_cycles_per_word:g} cycles/word",))
        found = lookup_rate(spec.macs_per_cycle_per_core, cc.key)
        if found is None:
            raise UnsupportedOpError(f"no SIMD rate for {cc.key} on {device.name}")
        rate, used = found
        notes: tuple[str, ...] = () if used == cc.key else (f"{cc.key} runs at the {used} rate",)
        if cc.mode == "addsub":
            notes += (f"{cc.name}: add/subtract/skip at the {used} SIMD rate",)
        lanes = max(1, spec.simd_width_bits // DTYPE_BITS[used])
        util = best_lane_utilization(g, lanes)
        util *= work_utilization(split_items(g, BLOCK_VECTORS, lanes, cores), cores)
        return MacUnit(f"cpu.simd.{used}", rate * cores, lanes, cores, util, notes, energy_key=used)

    def vector_rates(self, device: DeviceProfile) -> tuple[Mapping[str, float], int]:
        spec = device.cpu
        assert spec is not None
        return spec.vector_ops_per_cycle_per_core, spec.cores

    def lane_scale(self, device: DeviceProfile, cc: ComputeClass) -> float:
        spec = device.cpu
        assert spec is not None
        key = "int8" if cc.mode == "xnor" else cc.key
        found = lookup_rate(spec.macs_per_cycle_per_core, key)
        fp32 = spec.macs_per_cycle_per_core["fp32"]
        return max(1.0, found[0] / fp32) if found else 1.0

    def innermost_capacity(self, device: DeviceProfile) -> float:
        assert device.cpu is not None
        return device.cpu.register_file_bytes

    def overhead_cycles(self, work: OpWork, device: DeviceProfile, bytes_by_level: Mapping[str, float]) -> int:
        assert device.cpu is not None
        s = device.cpu.op_overhead_s
        if bytes_by_level.get(device.dram.name):
            s += device.dram.latency_s  # first miss before streaming overlaps
        return int(math.ceil(s * device.clock_hz))


MODEL = register_cost_model(CpuCostModel())
