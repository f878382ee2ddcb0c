"""``COST_MODELS["systolic"]``: a rows x cols systolic array (Edge-TPU-like) costed as SCALE-Sim does.

conv2d, linear and matmul are lowered to GEMMs (``hwsim.cost.systolic_math``) and folded onto the
array in the profile's dataflow (``array.dataflow``: os, ws or is); their compute cycles are
SCALE-Sim's (held within 1% of the real tool on ResNet-18 by ``tests/golden/test_scalesim.py``).
SRAM traffic is the operand reads the dataflow implies; DRAM traffic is each operand once, or once per
fold of the other dimension when it does not fit its SRAM (ifmap / filter / ofmap buffers of the
profile). Everything else (pooling, activations, normalisation, elementwise, data movement) runs on a
vector unit at the array's output edge: ``array.model_params.vector_lanes`` lanes (default: cols),
one operation per lane per cycle.

Dtypes: the array's rate table ``macs_per_cycle_per_pe`` (int8: 1). A dtype without a rate (fp32 on an
int8 array) is costed at one MAC per PE per cycle, as SCALE-Sim does for every layer, and says so in
the cost's notes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from hwsim.cost.common import compute_class, lookup_rate, streaming_level_bytes, transfer_cycles, vector_cycles
from hwsim.cost.registry import CostModel, Rule, register_cost_model
from hwsim.cost.memo import CostMemo
from hwsim.cost.systolic_energy import gemm_energy_pj, level_energy_pj
from hwsim.cost.systolic_math import ArrayMapping, Gemm, map_gemm, sram_traffic
from hwsim.cost.types import OpCost
from hwsim.cost.work import OpWork, Workload
from hwsim.errors import DeviceProfileError
from hwsim.hardware.profile import DeviceProfile, SystolicSpec

SOURCE = "hwsim.cost.systolic (SCALE-Sim compute model, Samajdar et al. ISPASS 2020)"


def _params(spec: SystolicSpec) -> Mapping[str, object]:
    return spec.model_params or {}


#: How a depthwise conv (one input channel per group) uses the array (``array.model_params.depthwise``):
#: ``channel_parallel`` (default): channels across the columns, output pixels down the rows, the kh x kw
#: window through time; each column is fed its own channel's input (a per-column input feed instead of
#: one broadcast row, ASSUMED: the Edge TPU's depthwise datapath is not published, but a 64 x 64 array
#: that ran depthwise on one column would take ~13 ms for MobileNetV2 against the ~2.5 ms Coral
#: publishes). ``per_group``: SCALE-Sim's own convention, one single-filter GEMM per channel (one column).
DEPTHWISE_MODES = ("channel_parallel", "per_group")


def depthwise_mode(spec: SystolicSpec) -> str:
    mode = str(_params(spec).get("depthwise", "channel_parallel"))
    if mode not in DEPTHWISE_MODES:
        raise DeviceProfileError(f"depthwise must be one of {', '.join(DEPTHWISE_MODES)}, got {mode!r}",
                                 where="array.model_params.depthwise")
    return mode


def lower(work: OpWork, spec: SystolicSpec | None = None) -> Gemm:
    """The GEMM the array runs: output pixels x filters x window, repeated per group / batched product.

    A grouped conv runs one small GEMM per group, as SCALE-Sim runs a depthwise layer as one
    single-channel layer per channel; a depthwise conv in ``channel_parallel`` mode (the default) runs
    as one GEMM whose filters are the channels (see ``DEPTHWISE_MODES``).
    """
    g = work.gemm
    assert g is not None, work.node
    if work.depthwise and g.n == 1 and spec is not None and depthwise_mode(spec) == "channel_parallel":
        return Gemm(pixels=g.m, filters=g.batch, window=g.k, repeats=1)
    return Gemm(pixels=g.m, filters=g.n, window=g.k, repeats=g.batch)


def mac_rate(work: OpWork, spec: SystolicSpec, notes: list[str]) -> tuple[float, str]:
    cc = compute_class(work.weight.dtype if work.weight else work.rhs_dtype, work.act_dtype)
    found = lookup_rate(spec.macs_per_cycle_per_pe, cc.key)
    if found is None and cc.mode != "mac":
        found = lookup_rate(spec.macs_per_cycle_per_pe, "int8")
    if found is None:
        notes.append(f"no {cc.key} rate on the array: {cc.key} MACs costed at 1 MAC per PE per cycle "
                     f"(SCALE-Sim's dtype-agnostic convention)")
        return 1.0, cc.energy_key
    rate, key = found
    if key != cc.key:
        notes.append(f"{cc.name} runs at the array's {key} rate")
    return rate, cc.energy_key


@dataclass(frozen=True)
class OnChipPlan:
    """Where a workload's data lives on an array device for one inference in steady state.

    ``resident``: nodes whose weights stay in the parameter cache across inferences.
    ``activation_bytes``: with one unified on-chip SRAM (``array.model_params.unified_sram``), what the
    cached parameters leave for activations (ifmap / ofmap buffers and inter-layer residency); None:
    the profile's separate ifmap / ofmap buffers and its last on-chip level.
    ``link_bytes``: per node, bytes of the graph's input / output that cross the host link every
    inference (``array.model_params.host_io``; an accelerator attached to a host over USB or PCIe)."""

    resident: frozenset[str] = frozenset()
    activation_bytes: float | None = None
    link_bytes: Mapping[str, int] = field(default_factory=dict)


def _flag(spec: SystolicSpec, key: str) -> bool:
    return str(_params(spec).get(key, False)).lower() in ("true", "1", "yes", "on")


def layer_overhead_cycles(spec: SystolicSpec) -> int:
    """Fixed cycles per layer the array runs (``array.model_params.layer_overhead_cycles``, default 0):
    instruction issue, DMA set-up and pipeline fill/drain that no MAC count captures."""
    return int(float(_params(spec).get("layer_overhead_cycles", 0)))  # type: ignore[arg-type]


def _dram_bytes(work: OpWork, m: ArrayMapping, spec: SystolicSpec, device: DeviceProfile,
                plan: OnChipPlan = OnChipPlan()) -> float:
    """Each operand crosses DRAM once, or once per fold of the other dimension when it overflows its SRAM.
    An activation that fits the on-chip SRAM stays there between layers (never re-read from DRAM);
    weights held in the parameter cache (``plan.resident``) are not re-read in steady state; the graph's
    input / output cross the host link (``plan.link_bytes``)."""
    llc = device.last_on_chip
    if plan.activation_bytes is None:
        ifmap_cap, ofmap_cap, filter_cap = spec.ifmap_sram_bytes, spec.ofmap_sram_bytes, spec.filter_sram_bytes
        resident = (lambda b: llc is not None and b <= llc.usable_bytes)
    else:  # one pool: what the cached parameters leave stages activations and streamed weights alike
        ifmap_cap = ofmap_cap = filter_cap = plan.activation_bytes
        resident = (lambda b: b <= plan.activation_bytes)  # type: ignore[operator]
    in_b = work.in_bytes[0] if work.in_bytes else 0
    w_b = work.param_bytes if work.weight else (work.in_bytes[1] if len(work.in_bytes) > 1 else 0)
    refetch_in = {"os": m.col_folds, "ws": m.col_folds, "is": 1}[m.dataflow]
    refetch_w = {"os": m.row_folds, "ws": 1, "is": m.col_folds}[m.dataflow]
    psum_out = {"os": 1, "ws": m.row_folds, "is": m.row_folds}[m.dataflow]
    ifmap = 0.0 if resident(in_b) else in_b * (1 if in_b <= ifmap_cap else refetch_in)
    filt = 0.0 if work.node in plan.resident else w_b * (1 if w_b <= filter_cap else refetch_w)
    out = work.out_bytes
    ofmap = 0.0 if resident(out) and out <= ofmap_cap else out * (1 if out <= ofmap_cap else psum_out)
    return ifmap + filt + ofmap + plan.link_bytes.get(work.node, 0)


def resident_weight_nodes(workload: Workload, spec: SystolicSpec, capacity: float | None = None) -> frozenset[str]:
    """Nodes whose weights stay in the parameter cache across inferences: layers in graph order while
    their weights fit ``capacity`` (default ``array.param_cache``; the Edge TPU compiler caches parameters
    layer by layer from the start of the model and streams the rest from the host on every inference;
    coral.ai docs, Edge TPU compiler: 'parameter data caching')."""
    left = spec.param_cache_bytes if capacity is None else capacity
    out: set[str] = set()
    for w in workload.ops:
        if w.gemm is None or w.weight is None:
            continue
        if w.param_bytes > left:
            break
        left -= w.param_bytes
        out.add(w.node)
    return frozenset(out)


def on_chip_plan(workload: Workload, device: DeviceProfile) -> OnChipPlan:
    """The steady-state placement of one inference (see ``OnChipPlan``).

    ``unified_sram``: one on-chip SRAM (the last on-chip memory level) holds both the cached parameters
    and the activations. The largest layer's input + output must fit for the layer to run from chip, so
    the parameter cache gets what that leaves (at most ``array.param_cache``) and the activations get
    the rest of the pool."""
    spec = device.systolic
    assert spec is not None
    capacity = None
    act: float | None = None
    llc = device.last_on_chip
    if _flag(spec, "unified_sram") and llc is not None:
        pool = float(llc.size_bytes)
        peak = max(((w.in_bytes[0] if w.in_bytes else 0) + w.out_bytes for w in workload.ops if w.gemm is not None),
                   default=0)
        capacity = max(0.0, min(spec.param_cache_bytes, pool - peak))
    resident = resident_weight_nodes(workload, spec, capacity)
    if capacity is not None:
        act = float(llc.size_bytes) - sum(w.param_bytes for w in workload.ops if w.node in resident)  # type: ignore[union-attr]
    link: dict[str, int] = {}
    if _flag(spec, "host_io"):
        gemms = [w for w in workload.ops if w.gemm is not None]
        if gemms:  # a fully quantized model takes its input at the width its layers exchange (TFLite
            # full-integer models: uint8 input), even where hwsim's graph keeps a float input tensor
            first, last = gemms[0], gemms[-1]
            bits = min(first.act_dtype.bits, first.out_dtype.bits)
            link[first.node] = link.get(first.node, 0) + math.ceil(first.in_numel * bits / 8)
            link[last.node] = link.get(last.node, 0) + last.out_bytes
    return OnChipPlan(resident, act, link)


def cost_gemm(work: OpWork, device: DeviceProfile, plan: OnChipPlan = OnChipPlan()) -> OpCost:
    spec = device.systolic
    assert spec is not None
    resident = plan.resident
    notes: list[str] = []
    rate, ekey = mac_rate(work, spec, notes)
    if work.weight is not None and (work.weight.encoding != "dense" or work.weight.density < 1.0):
        notes.append(f"{work.weight.encoding} weights (density {work.weight.density:.2f}): the array computes "
                     "the dense GEMM (no zero skipping); DRAM moves the stored bytes")
    g = lower(work, spec)
    m = map_gemm(g, spec.rows, spec.cols, spec.dataflow, rate)
    reads = sram_traffic(g, m)
    a_b = work.in_bytes[0] / max(work.in_numel, 1) if len(work.in_bytes) == 1 else work.act_dtype.bits / 8
    w_b = work.weight.bytes_per_element if work.weight else a_b
    o_b = work.out_bytes / max(work.out_numel, 1)
    # partial sums of ws / is row folds are accumulated at 4 bytes (int32 / fp32 accumulators)
    psum_b = max(o_b, 4.0) if m.dataflow in ("ws", "is") and m.row_folds > 1 else o_b
    sram = reads.ifmap * a_b + reads.filter * w_b + reads.ofmap * psum_b + work.other_param_bytes
    by_level: dict[str, float] = {}
    for lv in device.memory:
        by_level[lv.name] = sram if lv.on_chip else _dram_bytes(work, m, spec, device, plan)
    if plan.link_bytes.get(work.node):
        notes.append(f"{plan.link_bytes[work.node]:,} B of the graph's input / output cross the host link")
    overhead = layer_overhead_cycles(spec)
    extra_cycles = 0.0
    if work.arith:  # bias adds and Winograd transforms run on the vector unit
        extra_cycles = vector_cycles(work.arith, _vector_rates(spec), 1.0, _vector_lanes(spec), notes)
    energy = gemm_energy_pj(device, macs=work.macs, mac_key=ekey, array_cycles=m.compute_cycles,
                            vector_pj=_arith_energy(work, device), bytes_by_level=by_level, notes=notes)
    return OpCost(
        node=work.node, op=work.op, unit=f"array{spec.rows}x{spec.cols}-{m.dataflow}",
        compute_cycles=int(m.compute_cycles + math.ceil(extra_cycles)),
        transfer_bytes={k: int(round(v)) for k, v in by_level.items()},
        transfer_cycles=transfer_cycles(device, by_level), overhead_cycles=overhead, energy_pj=energy,
        ops={"macs": work.macs, **{k: int(v) for k, v in work.arith.items()}}, source=SOURCE, notes=tuple(notes),
        extra={"sr": m.sr, "sc": m.sc, "t": m.t, "row_folds": m.row_folds, "col_folds": m.col_folds,
               "array_cycles": m.compute_cycles, "mapping_efficiency": round(m.mapping_efficiency, 6),
               "utilization": round(work.macs / max(m.compute_cycles * spec.rows * spec.cols * rate, 1), 6),
               "weights_resident": work.node in resident,
               "first_inference_weight_bytes": int(work.param_bytes) if work.node in resident else 0},
    )


def _vector_lanes(spec: SystolicSpec) -> int:
    return int(_params(spec).get("vector_lanes", spec.cols))  # type: ignore[call-overload]


def _vector_rates(spec: SystolicSpec) -> dict[str, float]:
    return {k: 1.0 for k in ("add", "mul", "cmp", "div", "sqrt", "exp", "erf", "fft", "transform_filter", "move")}


def _arith_energy(work: OpWork, device: DeviceProfile) -> float:
    table = device.energy.op_pj
    return float(sum(n * table.get(k, table.get("add", 0.0)) for k, n in work.arith.items()))


def cost_vector(work: OpWork, device: DeviceProfile) -> OpCost:
    """Non-GEMM ops on the output-edge vector unit; their data streams through the SRAM once."""
    spec = device.systolic
    assert spec is not None
    notes: list[str] = []
    arith = dict(work.arith)
    if work.macs:  # structured products (FFT-based layers) have no GEMM: multiply-adds on the vector unit
        arith["mul"] = arith.get("mul", 0) + work.macs
        arith["add"] = arith.get("add", 0) + work.macs
        notes.append("structured-matrix products run on the vector unit (the array needs a dense GEMM)")
    cycles = vector_cycles(arith, _vector_rates(spec), 1.0, _vector_lanes(spec), notes)
    by_level = streaming_level_bytes(work, device)
    energy = {"compute": _arith_energy(work, device)} | level_energy_pj(device, by_level)
    return OpCost(
        node=work.node, op=work.op, unit="vector", compute_cycles=int(math.ceil(cycles)),
        transfer_bytes={k: int(round(v)) for k, v in by_level.items()},
        transfer_cycles=transfer_cycles(device, by_level), energy_pj=energy,
        ops={k: int(v) for k, v in arith.items()}, source=SOURCE, notes=tuple(notes),
    )


def cost_view(work: OpWork, device: DeviceProfile) -> OpCost:
    """Reshape, flatten, identity, dropout: a reinterpretation, no data moves."""
    zero = {lv.name: 0 for lv in device.memory}
    return OpCost(node=work.node, op=work.op, unit="none", compute_cycles=0, transfer_bytes=dict(zero),
                  transfer_cycles=dict(zero), energy_pj={"compute": 0.0, "onchip": 0.0, "dram": 0.0}, source=SOURCE)


def cost_array_or_vector(work: OpWork, device: DeviceProfile) -> OpCost:
    return cost_gemm(work, device) if work.gemm is not None else cost_vector(work, device)


def _fuses(spec: SystolicSpec, kind: str) -> bool:
    v = _params(spec).get(f"fuse_{kind}", True)
    return str(v).lower() not in ("false", "0", "no", "off")


def cost_fused(work: OpWork, device: DeviceProfile) -> OpCost:
    """An op run in its producer's output path (``hwsim.cost.rules``' fusion, mirrored): a batchnorm
    after a conv / linear is folded into its weights and bias at compile time (one bias add per output
    remains), a pointwise activation is applied by the vector unit as the array's outputs drain; no
    memory traffic of its own. The vector unit works beside the array (``overlaps_producer``), so the
    schedule overlaps these cycles with the producer's (``hwsim.sim.fusion``)."""
    spec = device.systolic
    assert spec is not None
    zero = {lv.name: 0 for lv in device.memory}
    notes: list[str] = []
    if work.fuse_kind == "batchnorm":
        arith: Mapping[str, int] = {"add": work.out_numel}
        notes.append(f"batchnorm folded into {work.fuse_into}'s weights and bias at compile time")
    else:
        arith = dict(work.arith)
        notes.append(f"{work.op} applied on {work.fuse_into}'s outputs as they leave the array")
    cycles = vector_cycles(arith, _vector_rates(spec), 1.0, _vector_lanes(spec), notes)
    energy = {"compute": float(sum(n * device.energy.op_pj.get(k, device.energy.op_pj.get("add", 0.0))
                                   for k, n in arith.items())), "onchip": 0.0, "dram": 0.0}
    return OpCost(node=work.node, op=work.op, unit="vector", compute_cycles=int(math.ceil(cycles)),
                  transfer_bytes=dict(zero), transfer_cycles=dict(zero), energy_pj=energy, ops=dict(arith),
                  source=SOURCE, notes=tuple(dict.fromkeys(notes)),
                  extra={"fused_into": work.fuse_into, "overlaps_producer": True})


class SystolicCostModel(CostModel):
    """Ops marked fusable (``OpWork.fuse_kind``) are fused unless ``array.model_params.fuse_batchnorm``
    / ``fuse_activation`` is false (the Edge TPU compiler fuses them, as TFLite does)."""

    kind = "systolic"

    def cost_graph(self, workload: Workload, device: DeviceProfile) -> tuple[OpCost, ...]:
        spec = device.systolic
        assert spec is not None
        plan = on_chip_plan(workload, device)
        other = CostMemo(lambda w: self.cost_op(w, device))
        return tuple(cost_fused(w, device) if w.fuse_kind and _fuses(spec, w.fuse_kind)
                     else cost_gemm(w, device, plan)
                     if w.gemm is not None and self.rule_for(w.op, w.group) is cost_array_or_vector
                     else other(w)
                     for w in workload.ops)

    group_rules: Mapping[str, Rule] = {
        "conv": cost_array_or_vector, "dense": cost_array_or_vector, "matmul": cost_array_or_vector,
        "structured": cost_vector, "norm": cost_vector, "activation": cost_vector, "pool": cost_vector,
        "elementwise": cost_vector, "data": cost_vector, "control": cost_vector, "view": cost_view,
    }


MODEL = register_cost_model(SystolicCostModel())
