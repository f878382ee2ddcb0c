"""Op-group rules shared by the processor-like device kinds (CPU, GPU): a template whose hooks a
kind fills with its compute units (``mac_unit``), vector units and fixed overheads.

Rules by op group:
  conv, dense, matmul  GEMM: tiled traffic per memory level + MAC cycles on the unit for the
                       operands' bit widths (+ sparse / codebook / entropy decoding) + other arithmetic
  structured           products without a reusable weight matrix (FFT, Walsh-Hadamard): MACs at the
                       vector FMA rate + arithmetic, streaming traffic
  norm, activation, pool, elementwise, data, control
                       vector arithmetic by kind, streaming traffic
  view                 free: a reinterpretation moves no data (explicit rule, zero cost)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hwsim.cost.common import (
    ComputeClass, compute_class, gemm_level_bytes, streaming_level_bytes, transfer_cycles, vector_cycles,
)
from hwsim.cost.energy import op_energy
from hwsim.cost.registry import CostModel, Rule
from hwsim.cost.sparse import sparse_cycles, sparse_view
from hwsim.cost.types import OpCost
from hwsim.cost.work import OpWork
from hwsim.hardware.profile import DeviceProfile


@dataclass(frozen=True)
class MacUnit:
    """The unit that runs an op's products: whole-device MACs per cycle at full utilization, its
    vector width (lanes), parallel workers (cores, SMs), and the utilization of this op's shape."""

    name: str
    macs_per_cycle: float
    lanes: int
    workers: int
    utilization: float
    notes: tuple[str, ...] = ()


class RooflineModel(CostModel):
    """CostModel template for processors: hooks ``mac_unit``, ``vector_rates``, ``lane_scale``,
    ``innermost_capacity``, ``overhead_cycles``."""

    def __init__(self) -> None:
        gemm, vec, view, struct = self.gemm_rule, self.vector_rule, self.view_rule, self.structured_rule
        self.group_rules: Mapping[str, Rule] = {
            "conv": gemm, "dense": gemm, "matmul": gemm, "structured": struct, "norm": vec, "activation": vec,
            "pool": vec, "elementwise": vec, "data": vec, "control": vec, "view": view,
        }

    # --- hooks -------------------------------------------------------------------------------------
    def mac_unit(self, work: OpWork, cc: ComputeClass, device: DeviceProfile) -> MacUnit:
        raise NotImplementedError

    def vector_rates(self, device: DeviceProfile) -> tuple[Mapping[str, float], int]:
        """(ops per cycle per unit by arithmetic kind, number of units)."""
        raise NotImplementedError

    def lane_scale(self, device: DeviceProfile, cc: ComputeClass) -> float:
        """How much faster lane-parallel arithmetic runs at this dtype than at fp32."""
        return 1.0

    def innermost_capacity(self, device: DeviceProfile) -> float:
        raise NotImplementedError

    def overhead_cycles(self, work: OpWork, device: DeviceProfile, bytes_by_level: Mapping[str, float]) -> int:
        return 0

    # --- rules -------------------------------------------------------------------------------------
    def _finish(self, work: OpWork, device: DeviceProfile, unit: str, compute: float,
                bytes_by_level: Mapping[str, float], energy: dict[str, float], notes: list[str],
                ops: Mapping[str, int], extra: Mapping[str, object] | None = None) -> OpCost:
        tb = {k: int(math.ceil(v)) for k, v in bytes_by_level.items()}
        return OpCost(
            node=work.node, op=work.op, unit=unit, compute_cycles=int(math.ceil(compute)), transfer_bytes=tb,
            transfer_cycles=transfer_cycles(device, tb), overhead_cycles=self.overhead_cycles(work, device, tb),
            energy_pj=energy, ops=dict(ops), source=f"hwsim.cost.{self.kind}", notes=tuple(dict.fromkeys(notes)),
            extra=dict(extra or {}),
        )

    def _arith(self, work: OpWork, device: DeviceProfile, cc: ComputeClass, notes: list[str]) -> float:
        if not work.arith:
            return 0.0
        rates, units = self.vector_rates(device)
        return vector_cycles(work.arith, rates, self.lane_scale(device, cc), units, notes)

    def gemm_rule(self, work: OpWork, device: DeviceProfile) -> OpCost:
        if work.gemm is None:
            return self.structured_rule(work, device)
        g = work.gemm
        rhs_act = work.group == "matmul"
        wdt = work.rhs_dtype if rhs_act else (work.weight.dtype if work.weight else None)
        cc = compute_class(wdt, work.act_dtype)
        mu = self.mac_unit(work, cc, device)
        notes = list(mu.notes)
        mac_cycles = work.macs * cc.planes / (mu.macs_per_cycle * mu.utilization)
        extra_cycles = self._arith(work, device, cc, notes)
        extra_pj = 0.0
        rates, units = self.vector_rates(device)
        if cc.mode == "xnor":  # binarize and bit-pack the input activations (XNOR-Net's N_I term)
            extra_cycles += work.in_numel * 2 / (rates.get("cmp", rates["add"]) * units)
            notes.append("xnor-popcount; input binarized and bit-packed")
        if cc.dequant and work.weight is not None:  # integer weights scaled to the float compute dtype
            extra_cycles += work.weight.numel / (rates["mul"] * units)
            notes.append(f"{work.weight.dtype.name} weights dequantized to {cc.key}")
        view = None if rhs_act else sparse_view(work.weight)
        sp_imb = 1.0
        if view is not None:
            sc = sparse_cycles(view, mac_cycles, g, device, lanes=mu.lanes, workers=mu.workers)
            mac_cycles = sc.mac_cycles
            extra_cycles += sc.decode_cycles
            sp_imb = sc.imbalance
            notes.extend(sc.notes)
            # one 32-bit integer add per decoded index (the "ternary" table entry is an int32 add)
            extra_pj += view.index_decodes * math.ceil(g.m / max(mu.lanes, 1)) * device.energy.mac_pj["ternary"]
        effectual = work.macs * (view.effectual_fraction if view is not None and view.skips_zeros else 1.0)
        bytes_by_level = gemm_level_bytes(work, device, self.innermost_capacity(device), rhs_is_activation=rhs_act)
        extra_pj += self._instruction_pj(device, mac_cycles + extra_cycles, mu.workers)
        energy = op_energy(device, macs=effectual, cc=cc, arith=work.arith, data_bits=work.act_dtype.bits,
                           bytes_by_level=bytes_by_level, extra_compute_pj=extra_pj)
        return self._finish(work, device, mu.name, mac_cycles + extra_cycles, bytes_by_level, energy, notes,
                            {"mac": int(effectual), **work.arith},
                            {"compute_class": cc.name, "utilization": round(mu.utilization, 4),
                             "sparse_imbalance": round(sp_imb, 4)})

    def vector_rule(self, work: OpWork, device: DeviceProfile) -> OpCost:
        cc = compute_class(None, work.act_dtype)
        notes: list[str] = []
        cycles = self._arith(work, device, cc, notes)
        if work.macs:  # a non-GEMM group op that still multiplies-accumulates
            cycles += self._vector_macs(work, device, cc)
        bytes_by_level = streaming_level_bytes(work, device)
        energy = op_energy(device, macs=work.macs, cc=cc if work.macs else None, arith=work.arith,
                           data_bits=work.act_dtype.bits, bytes_by_level=bytes_by_level,
                           extra_compute_pj=self._instruction_pj(device, cycles, self.vector_rates(device)[1]))
        return self._finish(work, device, f"{self.kind}.vector", cycles, bytes_by_level, energy, notes,
                            {"mac": work.macs, **work.arith} if work.macs else work.arith)

    def structured_rule(self, work: OpWork, device: DeviceProfile) -> OpCost:
        wdt = work.weight.dtype if work.weight else None
        cc = compute_class(wdt, work.act_dtype)
        notes: list[str] = ["structured product: no reusable weight matrix, streaming traffic"]
        cycles = self._arith(work, device, cc, notes) + self._vector_macs(work, device, cc)
        bytes_by_level = streaming_level_bytes(work, device)
        energy = op_energy(device, macs=work.macs, cc=cc, arith=work.arith, data_bits=work.act_dtype.bits,
                           bytes_by_level=bytes_by_level,
                           extra_compute_pj=self._instruction_pj(device, cycles, self.vector_rates(device)[1]))
        return self._finish(work, device, f"{self.kind}.vector", cycles, bytes_by_level, energy, notes,
                            {"mac": work.macs, **work.arith})

    @staticmethod
    def _instruction_pj(device: DeviceProfile, busy_cycles: float, issuers: int) -> float:
        """Front-end energy: one vector (warp) instruction per issuer per busy compute cycle."""
        return device.energy.instruction_pj * busy_cycles * issuers

    def _vector_macs(self, work: OpWork, device: DeviceProfile, cc: ComputeClass) -> float:
        if not work.macs:
            return 0.0
        rates, units = self.vector_rates(device)
        fma = min(rates.get("mul", rates["add"]), rates["add"]) * self.lane_scale(device, cc)
        return work.macs * cc.planes / (fma * units)

    def view_rule(self, work: OpWork, device: DeviceProfile) -> OpCost:
        zero = {lv.name: 0 for lv in device.memory}
        return OpCost(node=work.node, op=work.op, unit="none", compute_cycles=0, transfer_bytes=zero,
                      transfer_cycles=dict(zero), energy_pj={"compute": 0.0, "onchip": 0.0, "dram": 0.0},
                      source=f"hwsim.cost.{self.kind}", notes=("view: a reinterpretation, no data movement",))
