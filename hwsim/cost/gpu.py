"""GPU cost model: SMs with CUDA cores and tensor cores, shared memory, L2 and DRAM.

Products run on tensor cores when the profile gives a rate for the compute dtype (fp16/bf16/int8/
int4/binary mma), else on CUDA cores (fp32 FFMA, fp16 HFMA2, int8 DP4A; binary as 32-bit XOR +
popc + add). The faster of the two is used, as a library heuristic would pick it. Utilization:
thread-block (CTA) tiles of ``cta_tile`` (halved down to a quarter when that fills more SMs) dealt
to the SMs in waves, and mma tile quantization (16 x 8 x 16) on tensor cores. Kernel classes (the
profile's ``gpu.efficiency``): GEMM-like convs and matmuls (``gemm``), depthwise/grouped convs
(``depthwise``), elementwise and other vector work (``vector``). Every kernel pays the launch overhead and
takes at least ``gpu.min_kernel_time`` (a kernel too small to fill the SMs cannot hide its fixed costs);
fused epilogue ops are no kernels of their own. ``gpu.runtime`` names another runtime's factors and floor
(hwsim.hardware.loader).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from hwsim.cost.common import (
    ComputeClass, best_lane_utilization, lane_utilization, lookup_rate, split_items, work_utilization,
)
from hwsim.cost.registry import UnsupportedOpError, register_cost_model
from hwsim.cost.rules import MacUnit, RooflineModel
from hwsim.cost.work import Gemm, OpWork
from hwsim.hardware.profile import DeviceProfile

WARP = 32
MMA_TILE = (16, 8, 16)  # m, n, k of one mma.sync


def _wave_utilization(g: Gemm, tile: int, sms: int) -> tuple[float, int]:
    best, best_t = 0.0, tile
    for t in (tile, tile // 2, tile // 4):
        if t < 8:
            continue
        u = work_utilization(split_items(g, t, t, sms), sms)
        if u > best + 1e-9:
            best, best_t = u, t
    return best, best_t


class GpuCostModel(RooflineModel):
    kind = "gpu"

    def mac_unit(self, work: OpWork, cc: ComputeClass, device: DeviceProfile) -> MacUnit:
        spec = device.gpu
        assert spec is not None and work.gemm is not None
        g = work.gemm
        wave, tile = _wave_utilization(g, spec.cta_tile, spec.sms)
        warps = max(1, spec.cuda_cores // WARP)  # warps issuing at once: who decodes sparse indices in parallel
        candidates: list[MacUnit] = []
        tc_key = "binary" if cc.mode == "xnor" else cc.key
        tc_note = f"tensor cores ({tc_key}), CTA tile {tile}"
        if tc_key == "fp32" and "tf32" in spec.tensor_core_macs_per_cycle:
            # TensorRT (and cuDNN's default math mode since Ampere) runs fp32 convolutions and GEMMs as
            # TF32 on tensor cores unless the user forbids it (TensorRT builder flag TF32, on by default)
            tc_key, tc_note = "tf32", f"fp32 run as TF32 on tensor cores (TensorRT default), CTA tile {tile}"
        tc_rate = spec.tensor_core_macs_per_cycle.get(tc_key) if spec.tensor_cores else None
        if tc_rate:
            mm, nn, kk = MMA_TILE
            util = lane_utilization(g.m, mm) * lane_utilization(g.n, nn) * lane_utilization(g.k, kk)
            candidates.append(MacUnit(f"gpu.tensor.{tc_key}", tc_rate * spec.tensor_cores, WARP, warps,
                                      util * wave, (tc_note,), energy_key=tc_key))
        if cc.mode == "xnor":
            rates = spec.vector_ops_per_cycle_per_sm
            words = 1.0 / (2.0 / rates["add"] + 1.0 / spec.popcount_per_cycle_per_sm)  # xor, popc, add
            util = lane_utilization(g.k, 32) * wave  # the reduction is packed into 32-bit words
            candidates.append(MacUnit("gpu.cuda.popc", 32 * words * spec.sms, 32, warps, util,
                                      ("32-bit XOR + popc on CUDA cores",)))
        else:
            found = lookup_rate(spec.cuda_core_macs_per_cycle, cc.key)
            if found is None:
                raise UnsupportedOpError(f"no CUDA-core rate for {cc.key} on {device.name}")
            rate, used = found
            notes: tuple[str, ...] = () if used == cc.key else (f"{cc.key} runs at the {used} rate",)
            util = best_lane_utilization(g, WARP) * wave
            candidates.append(MacUnit(f"gpu.cuda.{used}", rate * spec.cuda_cores, WARP, warps, util,
                                      notes + (f"CTA tile {tile}",), energy_key=used))
            fp16 = spec.cuda_core_macs_per_cycle.get("fp16")
            if cc.key == "int8" and fp16 and fp16 > rate:
                # TensorRT picks the fastest precision each layer allows: on a GPU without fast int8
                # (Maxwell sm_53: no DP4A) an int8-calibrated engine runs the layer in fp16
                candidates.append(MacUnit("gpu.cuda.fp16", fp16 * spec.cuda_cores, WARP, warps, util,
                                          ("int8 layer run in fp16: no fast int8 on this GPU (TensorRT's "
                                           "precision choice)", f"CTA tile {tile}"), energy_key="fp16"))
        return max(candidates, key=lambda u: u.macs_per_cycle * u.utilization)

    def vector_rates(self, device: DeviceProfile) -> tuple[Mapping[str, float], int]:
        assert device.gpu is not None
        return device.gpu.vector_ops_per_cycle_per_sm, device.gpu.sms

    def lane_scale(self, device: DeviceProfile, cc: ComputeClass) -> float:
        spec = device.gpu
        assert spec is not None
        found = lookup_rate(spec.cuda_core_macs_per_cycle, cc.key if cc.mode != "xnor" else "int8")
        return max(1.0, found[0] / spec.cuda_core_macs_per_cycle["fp32"]) if found else 1.0

    def innermost_capacity(self, device: DeviceProfile) -> float:
        assert device.gpu is not None
        return device.gpu.register_file_bytes_per_sm

    def issuers(self, device: DeviceProfile) -> int:
        """Warp schedulers: one per 32 CUDA cores (four per SM on Maxwell and Ampere), as ``mac_unit``
        counts them, so ``energy.instruction`` is the energy per scheduler per busy cycle for every op."""
        assert device.gpu is not None
        return max(1, device.gpu.cuda_cores // WARP)

    def overhead_cycles(self, work: OpWork, device: DeviceProfile, bytes_by_level: Mapping[str, float]) -> int:
        assert device.gpu is not None
        return int(math.ceil(device.gpu.launch_overhead_s * device.clock_hz))

    def floor_cycles(self, work: OpWork, device: DeviceProfile) -> int:
        assert device.gpu is not None
        return int(math.ceil(device.gpu.min_kernel_time_s * device.clock_hz))


MODEL = register_cost_model(GpuCostModel())
