"""Layer-sequential overlays: generic PE x SIMD engines (one per class of products: float/int on
multipliers, binary/ternary on LUTs) sized to the part, or fixed by a DPU-like preset
(``fpga.model_params.overlay_preset``), reused by every layer. See ``hwsim.cost.fpga``."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hwsim.cost.fpga_design import BRAM18_BITS, Design, Layer, _base_layers, _fits, limits_of, params_of
from hwsim.cost.fpga_resources import EngineShape, Operands, Resources, engine_resources
from hwsim.cost.work import Workload
from hwsim.hardware.profile import DeviceProfile


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
    # on-chip buffers: as many BRAM18 as the largest MAC layer's weights + input + output need, within
    # the rest of the BRAM budget (a design that needs less instantiates less: a quantized or pruned
    # model uses fewer blocks; tiles beyond the budget stream from DRAM, see ``_cost_overlay_layer``)
    sizes = {w.node: (w.param_bytes, sum(w.in_bytes) + w.out_bytes) for w in workload.ops if w.gemm is not None}
    largest = max(sizes, key=lambda n: (sum(sizes[n]), n), default=None)
    need = sum(sizes[largest]) if largest else 0
    wanted = math.ceil(need * 8 / BRAM18_BITS)
    budget = max(0, int(share * limits["bram18"]) - core.bram18)
    buf_bram = min(budget, wanted)
    total = core + Resources(bram18=buf_bram)
    capped = ()
    if wanted > budget and largest is not None:
        capped = (f"BRAM capped at the budget: the tile buffers take the {buf_bram} BRAM18 left of "
                  f"{share:.0%} of {limits['bram18']}; holding the largest layer ({largest}: {sizes[largest][0]:,} B "
                  f"of weights as stored + {sizes[largest][1]:,} B in/out activations) on chip would take "
                  f"{wanted:,}, so every method that needs more uses the same {buf_bram} and streams the rest "
                  "from DRAM",)
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
    return Design("overlay", layers, 0, total, limits, _fits(total, limits, 1.0), notes + capped,
                  shared=Resources(bram18=buf_bram), engines=engines, bram18_wanted=core.bram18 + wanted)


