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

Fusion (profile key ``<kind>.fusion``, on by default, as TFLite, ONNX Runtime, TensorRT and ncnn do):
an inference batchnorm right after a conv / linear is folded into its weights and bias when the model
is loaded (a bias add per output remains), and a pointwise activation runs in its producer's epilogue
while the output tile is still in registers (its arithmetic is paid, its memory traffic and dispatch
are not).
``hwsim.cost.work`` marks which ops may fuse (the tensor between them has no other reader).

Efficiency (profile key ``<kind>.efficiency``): the named share of a unit's peak that real kernels of a
class reach (gemm, depthwise, vector), each value citing a measurement; compute cycles are divided by
it. Missing keys are 1.0: the roofline peak.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hwsim.cost.common import (
    WINOGRAD_ALGORITHMS, ComputeClass, ConvBuffers, compute_class, conv_buffers, gemm_level_bytes,
    streaming_level_bytes, transfer_cycles, vector_cycles, workspace_level_bytes,
)
from hwsim.units import format_bytes
from hwsim.cost.energy import op_energy
from hwsim.cost.registry import CostModel, Rule
from hwsim.cost.memo import CostMemo
from hwsim.cost.sparse import SparseView, dense_fallback, sparse_cycles, sparse_view
from hwsim.cost.types import OpCost
from hwsim.cost.work import OpWork, Workload
from hwsim.hardware.profile import DeviceProfile, Fusion, kernel_efficiency


def efficiency_key(work: OpWork, cc: ComputeClass, buffers: ConvBuffers | None) -> str:
    """The kernel class whose efficiency a GEMM-shaped op runs at (schema ``EFFICIENCY_KEYS``):
    depthwise, winograd (the products of a Winograd conv, in the transform domain), integer (integer
    products), else gemm."""
    if work.depthwise:
        return "depthwise"
    if buffers is not None and buffers.algorithm in WINOGRAD_ALGORITHMS:
        return "winograd"
    if cc.mode == "mac" and cc.key.startswith("int"):
        return "integer"
    return "gemm"


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
    #: the energy-table key of what this unit really executes per MAC (int8 products on a 16-bit
    #: multiply-add pay the 16-bit MAC energy); None: the compute class's own key
    energy_key: str | None = None


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

    def issuers(self, device: DeviceProfile) -> int:
        """Instruction-issuing units that ``energy.instruction`` is charged per, per busy cycle, for
        vector and fused work (GEMM-like work names its own in ``MacUnit.workers``): by default the
        vector units (CPU cores)."""
        return self.vector_rates(device)[1]

    def overhead_cycles(self, work: OpWork, device: DeviceProfile, bytes_by_level: Mapping[str, float]) -> int:
        return 0

    def floor_cycles(self, work: OpWork, device: DeviceProfile) -> int:
        """The least time a dispatched kernel takes whatever its work (0: none); the part its work does not
        cover is charged as overhead."""
        return 0

    @staticmethod
    def efficiency(device: DeviceProfile, key: str) -> float:
        """The profile's kernel efficiency for a kernel class (``kernel_efficiency``: its own entry, else
        its fallback class's, else 1.0)."""
        return kernel_efficiency(getattr(device.spec, "efficiency", {}), key)

    @staticmethod
    def fusion(device: DeviceProfile) -> Fusion:
        return getattr(device.spec, "fusion", None) or Fusion()

    def cost_graph(self, workload: Workload, device: DeviceProfile) -> tuple[OpCost, ...]:
        """Every op's cost; ops the device's engine fuses into their producer get the fused rule."""
        fusion = self.fusion(device)
        cost = CostMemo(lambda w: self.cost_op(w, device))
        out = []
        for w in workload.ops:
            if (w.fuse_kind == "batchnorm" and fusion.batchnorm) or (w.fuse_kind == "activation" and fusion.activation):
                out.append(self.fused_rule(w, device))
            else:
                out.append(cost(w))
        return tuple(out)

    # --- rules -------------------------------------------------------------------------------------
    def _finish(self, work: OpWork, device: DeviceProfile, unit: str, compute: float,
                bytes_by_level: Mapping[str, float], energy: dict[str, float], notes: list[str],
                ops: Mapping[str, int], extra: Mapping[str, object] | None = None, *, issuers: int = 1) -> OpCost:
        tb = {k: int(math.ceil(v)) for k, v in bytes_by_level.items()}
        cycles = int(math.ceil(compute))
        tc = transfer_cycles(device, tb)
        overhead = self.overhead_cycles(work, device, tb)
        work_cycles = max(cycles, max(tc.values(), default=0))
        floor = self.floor_cycles(work, device)
        if floor > work_cycles:
            overhead += floor - work_cycles
            notes = [*notes, f"kernel time floor: {floor} cycles (the work alone needs {work_cycles})"]
        busy = work_cycles + overhead
        energy = {**energy, "compute": energy.get("compute", 0.0) + self._core_pj(device, busy, issuers)}
        return OpCost(
            node=work.node, op=work.op, unit=unit, compute_cycles=cycles, transfer_bytes=tb,
            transfer_cycles=tc, overhead_cycles=overhead,
            energy_pj=energy, ops=dict(ops), source=f"hwsim.cost.{self.kind}", notes=tuple(dict.fromkeys(notes)),
            extra=dict(extra or {}),
        )

    def _arith(self, work: OpWork, device: DeviceProfile, cc: ComputeClass, notes: list[str],
               arith: Mapping[str, int] | None = None) -> float:
        arith = work.arith if arith is None else arith
        if not arith:
            return 0.0
        rates, units = self.vector_rates(device)
        return vector_cycles(arith, rates, self.lane_scale(device, cc), units, notes) / self.efficiency(
            device, "vector")

    def gemm_rule(self, work: OpWork, device: DeviceProfile) -> OpCost:
        if work.gemm is None:
            return self.structured_rule(work, device)
        rhs_act = work.group == "matmul"
        huffman_live = device.sparse.huffman_on_the_fly
        view = None if rhs_act else sparse_view(work.weight, huffman_on_the_fly=huffman_live)
        wpe = work.weight.stored_bytes_per_element if (work.weight and huffman_live and not rhs_act) else None
        cost = self._gemm_cost(work, device, view, wpe)
        if view is not None and view.skips_zeros and device.sparse.dense_fallback and work.weight is not None:
            dview, dwpe = dense_fallback(work.weight)
            dense = self._gemm_cost(work, device, dview, dwpe, (
                f"sparse {view.structure} would be slower than dense here: expanded to dense "
                f"{'codes' if dview is not None else 'values'} at load time",))
            if dense.lower_bound_cycles < cost.lower_bound_cycles:
                return dense
        return cost

    def _gemm_cost(self, work: OpWork, device: DeviceProfile, view: SparseView | None, wpe: float | None,
                   more_notes: tuple[str, ...] = ()) -> OpCost:
        """A GEMM-shaped op with its weights executed as ``view`` says, read at ``wpe`` bytes per element
        (None: the weight's run-time bytes)."""
        g = work.gemm
        assert g is not None
        rhs_act = work.group == "matmul"
        wdt = work.rhs_dtype if rhs_act else (work.weight.dtype if work.weight else None)
        cc = compute_class(wdt, work.act_dtype)
        mu = self.mac_unit(work, cc, device)
        notes = [*more_notes, *mu.notes]
        buffers = None if rhs_act else conv_buffers(work)
        eff_key = efficiency_key(work, cc, buffers)
        eff = self.efficiency(device, eff_key)
        mac_cycles = work.macs * cc.planes / (mu.macs_per_cycle * mu.utilization * eff)
        arith = work.arith
        if buffers is not None and buffers.filter_kept and arith.get("transform_filter"):
            arith = {k: v for k, v in arith.items() if k != "transform_filter"}
            notes.append(f"{buffers.label}: filter transformed once at load (U, {format_bytes(buffers.filter_bytes)}, "
                         "read as the weights); its transform is no per-inference work")
        extra_cycles = self._arith(work, device, cc, notes, arith)
        extra_pj = 0.0
        rates, units = self.vector_rates(device)
        if cc.mode == "xnor":  # binarize and bit-pack the input activations (XNOR-Net's N_I term)
            extra_cycles += work.in_numel * 2 / (rates.get("cmp", rates["add"]) * units)
            notes.append("xnor-popcount; input binarized and bit-packed")
        if cc.dequant and work.weight is not None:  # integer weights scaled to the float compute dtype
            extra_cycles += work.weight.numel / (rates["mul"] * units)
            notes.append(f"{work.weight.dtype.name} weights dequantized to {cc.key}")
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
        inner = self.innermost_capacity(device)
        bytes_by_level = gemm_level_bytes(work, device, inner, rhs_is_activation=rhs_act,
                                          weight_bytes_per_element=wpe)
        if buffers is not None:  # the transform phases' workspace, where it does not fit
            spill = workspace_level_bytes(device, inner, buffers)
            bytes_by_level = {k: v + spill.get(k, 0.0) for k, v in bytes_by_level.items()}
            crossed = [k for k, v in spill.items() if v]
            notes.append(f"{buffers.label} workspace {format_bytes(buffers.workspace_bytes)} per inference, written and "
                         f"read back through {', '.join(crossed) if crossed else 'no memory level'}")
        energy = op_energy(device, macs=effectual, cc=cc, arith=arith, data_bits=work.act_dtype.bits,
                           bytes_by_level=bytes_by_level, extra_compute_pj=extra_pj, energy_key=mu.energy_key)
        return self._finish(work, device, mu.name, mac_cycles + extra_cycles, bytes_by_level, energy, notes,
                            {"mac": int(effectual), **arith},
                            {"compute_class": cc.name, "utilization": round(mu.utilization, 4),
                             "efficiency": eff, "kernel_class": eff_key, "sparse_imbalance": round(sp_imb, 4)},
                            issuers=mu.workers)

    def vector_rule(self, work: OpWork, device: DeviceProfile) -> OpCost:
        cc = compute_class(None, work.act_dtype)
        notes: list[str] = []
        cycles = self._arith(work, device, cc, notes)
        if work.macs:  # a non-GEMM group op that still multiplies-accumulates
            cycles += self._vector_macs(work, device, cc)
        bytes_by_level = streaming_level_bytes(work, device)
        energy = op_energy(device, macs=work.macs, cc=cc if work.macs else None, arith=work.arith,
                           data_bits=work.act_dtype.bits, bytes_by_level=bytes_by_level)
        return self._finish(work, device, f"{self.kind}.vector", cycles, bytes_by_level, energy, notes,
                            {"mac": work.macs, **work.arith} if work.macs else work.arith,
                            issuers=self.issuers(device))

    def structured_rule(self, work: OpWork, device: DeviceProfile) -> OpCost:
        wdt = work.weight.dtype if work.weight else None
        cc = compute_class(wdt, work.act_dtype)
        notes: list[str] = ["structured product: no reusable weight matrix, streaming traffic"]
        cycles = self._arith(work, device, cc, notes) + self._vector_macs(work, device, cc)
        bytes_by_level = streaming_level_bytes(work, device)
        energy = op_energy(device, macs=work.macs, cc=cc, arith=work.arith, data_bits=work.act_dtype.bits,
                           bytes_by_level=bytes_by_level)
        return self._finish(work, device, f"{self.kind}.vector", cycles, bytes_by_level, energy, notes,
                            {"mac": work.macs, **work.arith}, issuers=self.issuers(device))

    @staticmethod
    def _core_pj(device: DeviceProfile, busy_cycles: float, issuers: int) -> float:
        """Core energy beyond the arithmetic and the memory accesses (front end, out-of-order machinery,
        register file, clock tree): the profile's ``energy.instruction`` per issuer per cycle the op
        keeps the cores busy, stalled on memory or not (one vector / warp instruction slot per cycle)."""
        return device.energy.instruction_pj * busy_cycles * issuers

    def _vector_macs(self, work: OpWork, device: DeviceProfile, cc: ComputeClass) -> float:
        if not work.macs:
            return 0.0
        rates, units = self.vector_rates(device)
        fma = min(rates.get("mul", rates["add"]), rates["add"]) * self.lane_scale(device, cc)
        return work.macs * cc.planes / (fma * units * self.efficiency(device, "vector"))

    def fused_rule(self, work: OpWork, device: DeviceProfile) -> OpCost:
        """An op run inside its producer's kernel: no memory traffic of its own, no dispatch.

        A folded batchnorm leaves one bias add per output (its scale is in the producer's weights); a
        fused activation's arithmetic runs on the vector units in the epilogue."""
        zero = {lv.name: 0 for lv in device.memory}
        cc = compute_class(None, work.act_dtype)
        notes: list[str] = []
        if work.fuse_kind == "batchnorm":  # what remains of it: the bias add, one per output
            arith: Mapping[str, int] = {"add": work.out_numel}
            notes.append(f"batchnorm folded into {work.fuse_into}'s weights and bias at load time")
        else:
            arith = work.arith
            notes.append(f"{work.op} applied in {work.fuse_into}'s epilogue")
        rates, units = self.vector_rates(device)
        cycles = vector_cycles(arith, rates, self.lane_scale(device, cc), units, notes) / self.efficiency(
            device, "vector")
        energy = op_energy(device, macs=0, cc=None, arith=arith, data_bits=work.act_dtype.bits, bytes_by_level={})
        energy["compute"] += self._core_pj(device, math.ceil(cycles), self.issuers(device))
        return OpCost(node=work.node, op=work.op, unit=f"{self.kind}.vector", compute_cycles=int(math.ceil(cycles)),
                      transfer_bytes=zero, transfer_cycles=dict(zero), energy_pj=energy, ops=dict(arith),
                      source=f"hwsim.cost.{self.kind}", notes=tuple(dict.fromkeys(notes)),
                      extra={"fused_into": work.fuse_into})

    def view_rule(self, work: OpWork, device: DeviceProfile) -> OpCost:
        zero = {lv.name: 0 for lv in device.memory}
        return OpCost(node=work.node, op=work.op, unit="none", compute_cycles=0, transfer_bytes=zero,
                      transfer_cycles=dict(zero), energy_pj={"compute": 0.0, "onchip": 0.0, "dram": 0.0},
                      source=f"hwsim.cost.{self.kind}", notes=("view: a reinterpretation, no data movement",))
