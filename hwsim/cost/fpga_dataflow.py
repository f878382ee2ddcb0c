"""FINN-style dataflow designs (Umuroglu et al., FPGA 2017; Blott et al., TRETS 2018): one engine per
layer, all streaming at once, folded into PE x SIMD lanes by a target initiation interval as FINN's
SetFolding does; weights that cannot fit stream from DRAM ("external" weights). See ``hwsim.cost.fpga``."""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hwsim.cost.common import transfer_cycles
from hwsim.cost.finn_folding import read_finn_folding
from hwsim.cost.fpga_design import (
    Design, Layer, _base_layers, _divisors, _fifo_resources, _fits, _mvau_resources, _stream_unit, limits_of,
    params_of,
)
from hwsim.cost.fpga_resources import Resources, memory_blocks
from hwsim.cost.work import Workload
from hwsim.hardware.profile import DeviceProfile, FpgaSpec


# --- the folding search -------------------------------------------------------------------------------
@dataclass
class _Options:
    """Pareto-optimal foldings of one MAC layer: lanes ascending, cycles strictly descending."""

    cycles: list[int]  # negated for bisect on an ascending list
    folds: list[tuple[int, int]]

    def pick(self, target: int) -> tuple[int, int]:
        i = bisect.bisect_left(self.cycles, -target)
        if i >= len(self.folds):
            return self.folds[-1]
        return self.folds[i]


def _options(ly: Layer, max_lanes: int) -> _Options:
    cycles, folds = _pareto(ly.mh, ly.mw, ly.pixels, max_lanes)
    return _Options(list(cycles), list(folds))


def _fold_widths(n: int) -> list[int]:
    """Lane counts tried for an extent of ``n``: its divisors (FINN's rule: PE | MH, SIMD | MW) and the
    powers of two below it. A power of two that does not divide ``n`` pads the extent up to
    ``lanes x ceil(n / lanes)`` with zero rows / columns, as a designer pads a pruned layer (45 or 90
    channels) to a foldable size; the padded lanes compute zeros (counted in the cycles and in the
    weight memory). With them a layer pruned from a power-of-two width can always take the original
    layer's folding, so pruning never forces a slower design."""
    return sorted(set(_divisors(n)) | {1 << k for k in range(max(n, 1).bit_length()) if (1 << k) < n})


@functools.lru_cache(maxsize=4096)
def _pareto(mh: int, mw: int, pixels: int, max_lanes: int) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    cands: list[tuple[int, int, int, int]] = []
    for pe in _fold_widths(mh):
        for simd in _fold_widths(mw):
            if pe * simd > max_lanes:
                break
            cyc = pixels * math.ceil(mh / pe) * math.ceil(mw / simd)
            cands.append((pe * simd, -simd, cyc, pe))  # fewer lanes first; FINN widens SIMD before PE
    cands.sort()
    cycles: list[int] = []
    folds: list[tuple[int, int]] = []
    best = math.inf
    for lanes, neg_simd, cyc, pe in cands:
        if cyc < best:
            best = cyc
            cycles.append(-cyc)
            folds.append((pe, -neg_simd))
    return tuple(cycles), tuple(folds)


def finn_set_folding(mh: int, mw: int, pixels: int, w_bits: int, target: int, wwidth_max: int) -> tuple[int, int]:
    """(PE, SIMD) of a matrix-vector engine as FINN's SetFolding picks them for ``target`` cycles per frame
    (finn.transformation.fpgadataflow.set_folding): SIMD rises through the divisors of MW until the engine
    takes fewer than ``target`` cycles, or until SIMD x the weight bits would pass ``wwidth_max`` (FINN's
    mvau_wwidth_max, 36 by default; the last SIMD within it is kept); then PE rises through the divisors of
    MH until the target is met or PE = MH. Cycles per frame: pixels x MW / SIMD x MH / PE."""
    def cycles(pe: int, simd: int) -> int:
        return pixels * (mw // simd) * (mh // pe)

    simd = 1
    for s in _divisors(mw):
        prev, simd = simd, s
        if cycles(1, simd) < target:
            break
        if w_bits * simd > wwidth_max:
            simd = prev
            break
    pe = 1
    for p in _divisors(mh):
        pe = p
        if cycles(pe, simd) < target:
            break
    return pe, simd


def _stream_lanes(ly: Layer, target: int, max_lanes: int) -> int:
    if not ly.work_items:
        return 1
    return max(1, min(max_lanes, math.ceil(ly.work_items / max(target, 1))))


class _Planner:
    """Folds the layers of one workload for one part; per-layer resources are cached by folding."""

    def __init__(self, workload: Workload, spec: FpgaSpec, params: Mapping[str, Any],
                 device: DeviceProfile | None = None) -> None:
        self.spec, self.params = spec, params
        #: cycles to stream each MAC layer's weights from DRAM once (external weights, per inference)
        self.stream_cycles = {w.node: (transfer_cycles(device, {device.dram.name: w.param_bytes})[device.dram.name]
                                       if device is not None else 0) for w in workload.ops}
        self.base = _base_layers(workload, spec, params, dataflow=True)
        works = {w.node: w for w in workload.ops}
        self.units = {ly.node: _stream_unit(works[ly.node], params, spec) for ly in self.base if ly.kind == "stream"}
        self.max_lanes = int(params["max_lanes"])
        self.opts = {ly.node: _options(ly, self.max_lanes) for ly in self.base if ly.kind == "mvau"}
        self.fifo = _fifo_resources(self.base, params)
        self._cache: dict[tuple[str, int, int, bool], Resources] = {}

    def _mvau(self, ly: Layer) -> Resources:
        key = (ly.node, ly.pe, ly.simd, ly.external_weights)
        r = self._cache.get(key)
        if r is None:
            r = self._cache[key] = _mvau_resources(ly, self.spec, self.params)
        return r

    def _stream(self, ly: Layer) -> Resources:
        key = (ly.node, ly.lanes, 0, False)
        r = self._cache.get(key)
        if r is None:
            r = self.units[ly.node].scaled(ly.lanes) + Resources(lut=int(self.params["c0_luts"]) // 3)
            if ly.line_buffer_bits:
                bram, lutram = memory_blocks(math.ceil(ly.line_buffer_bits / 64), 64, self.params)
                r = r + Resources(lut=lutram, bram18=bram, lutram=lutram)
            self._cache[key] = r
        return r

    def candidates(self) -> list[int]:
        c = {-x for o in self.opts.values() for x in o.cycles}
        c |= {ly.work_items for ly in self.base if ly.kind == "stream" and ly.work_items}
        return sorted(c) or [1]

    def _folded(self, ly: Layer, target: int, external: frozenset[str]) -> Layer:
        if ly.kind == "mvau":
            pe, simd = self.opts[ly.node].pick(target)
            return replace(ly, pe=pe, simd=simd, external_weights=ly.node in external)
        if ly.kind == "stream":
            return replace(ly, lanes=_stream_lanes(ly, target, self.max_lanes))
        return ly

    def total(self, target: int, external: frozenset[str]) -> Resources:
        """Design totals at ``target`` without building the layer records (the search's inner loop)."""
        acc = list(self.fifo.as_tuple())
        for ly in self.base:
            if ly.kind == "mvau":
                pe, simd = self.opts[ly.node].pick(target)
                ext = ly.node in external
                r = self._cache.get((ly.node, pe, simd, ext))
                if r is None:
                    r = self._mvau(replace(ly, pe=pe, simd=simd, external_weights=ext))
            elif ly.kind == "stream":
                lanes = _stream_lanes(ly, target, self.max_lanes)
                r = self._cache.get((ly.node, lanes, 0, False)) or self._stream(replace(ly, lanes=lanes))
            else:
                continue
            for i, v in enumerate(r.as_tuple()):
                acc[i] += v
        return Resources(*acc)

    def build_set_folding(self, target: int) -> list[Layer]:
        """Every engine folded by FINN's SetFolding rule for ``target`` (weights on chip, as FINN's const /
        decoupled memory modes keep them); stream engines get the lanes the target needs."""
        wwidth = int(self.params["mvau_wwidth_max"])
        out: list[Layer] = []
        for ly in self.base:
            if ly.kind == "mvau":
                w_bits = ly.ops.w_bits if ly.ops is not None else 32
                pe, simd = finn_set_folding(ly.mh, ly.mw, ly.pixels, w_bits, target, wwidth)
                ly = replace(ly, pe=pe, simd=simd)
                ly = replace(ly, resources=self._mvau(ly))
            elif ly.kind == "stream":
                ly = replace(ly, lanes=_stream_lanes(ly, target, self.max_lanes))
                ly = replace(ly, resources=self._stream(ly))
            out.append(ly)
        return out

    def build(self, target: int, external: frozenset[str]) -> tuple[list[Layer], Resources]:
        out: list[Layer] = []
        for ly in self.base:
            ly = self._folded(ly, target, external)
            if ly.kind == "mvau":
                ly = replace(ly, resources=self._mvau(ly))
            elif ly.kind == "stream":
                ly = replace(ly, resources=self._stream(ly))
            out.append(ly)
        return out, self.total(target, external)


def _external_set(pl: "_Planner", target: int, budget: float) -> frozenset[str]:
    """Weights that stream from DRAM at ``target``: none if the design's BRAM fits ``budget``, else the
    layers with the most weight BRAM first until it does (FINN's "external" weights)."""
    total = pl.total(target, frozenset())
    if total.bram18 <= budget:
        return frozenset()
    bram = total.bram18
    ext: set[str] = set()
    gains = []
    for ly in pl.base:
        if ly.kind != "mvau":
            continue
        pe, simd = pl.opts[ly.node].pick(target)
        folded = replace(ly, pe=pe, simd=simd)
        gains.append((pl._mvau(folded).bram18 - pl._mvau(replace(folded, external_weights=True)).bram18, ly.node))
    bus = 0  # the layers streaming weights share the DRAM bus: together within one interval
    for gain, node in sorted(gains, reverse=True):
        if bram <= budget or gain <= 0:
            break
        if bus + pl.stream_cycles[node] > target:
            continue  # streaming this layer's weights would make the DRAM bus the bottleneck
        ext.add(node)
        bus += pl.stream_cycles[node]
        bram -= gain
    return frozenset(ext)


def plan_dataflow(workload: Workload, device: DeviceProfile, target_cycles: int | None = None) -> Design:
    """Fold every layer for the smallest initiation interval whose design fits the part, or, given
    ``target_cycles`` (FINN's target_fps as clock / fps), as FINN's SetFolding folds for it
    (``finn_set_folding``), which is what a FINN build with that target_fps gets.

    At every candidate interval the weights that do not fit the BRAM stream from DRAM (largest first),
    so a faster design may trade on-chip weights for wider engines."""
    spec = device.fpga
    assert spec is not None
    params = params_of(spec, device.source)
    limits = limits_of(spec)
    share = float(params["target_utilization"])
    pl = _Planner(workload, spec, params, device)
    candidates = pl.candidates()
    notes: list[str] = []
    budget = share * limits["bram18"]

    def at(target: int) -> tuple[Resources, frozenset[str]]:
        ext = _external_set(pl, target, budget)
        return pl.total(target, ext), ext

    if target_cycles is not None:
        return _set_folding_design(pl, max(1, int(target_cycles)), limits, share)
    total, external = at(candidates[-1])
    if _fits(total, limits, share):
        lo, hi = 0, len(candidates) - 1
        while lo < hi:  # smallest target that fits (resources shrink as the target grows)
            mid = (lo + hi) // 2
            if _fits(at(candidates[mid])[0], limits, share):
                hi = mid
            else:
                lo = mid + 1
        target = candidates[lo]
        total, external = at(target)
    else:
        target = candidates[-1]
        notes.append(f"the design exceeds {share:.0%} of the part even fully folded")
    layers, total = pl.build(target, external)
    if external:
        notes.append(f"{len(external)} layers stream their weights from DRAM every frame (BRAM too small)")
    return Design("dataflow", tuple(layers), target, total, limits, _fits(total, limits, 1.0), tuple(notes),
                  shared=pl.fifo, meets_target=_fits(total, limits, share))


def _set_folding_design(pl: _Planner, target: int, limits: Mapping[str, int], share: float) -> Design:
    """FINN's SetFolding at ``target`` cycles per frame, with its two-pass relaxation: when an engine cannot
    get under the target, fold the whole pipeline again for the interval that engine sets."""
    layers = pl.build_set_folding(target)
    notes = [f"folded by FINN's SetFolding rule for {target} cycles per frame (target_fps; "
             f"mvau_wwidth_max {int(pl.params['mvau_wwidth_max'])})"]
    slowest = max((ly.cycles for ly in layers if ly.kind == "mvau"), default=0)
    if slowest > target:
        layers = pl.build_set_folding(slowest)
        notes.append(f"an engine needs {slowest} cycles: folded again for that interval (SetFolding's second pass)")
    total = pl.fifo
    for ly in layers:
        total = total + ly.resources
    if not _fits(total, limits, share):
        notes.append(f"the design exceeds {share:.0%} of the part at that interval")
    interval = max((ly.cycles for ly in layers if ly.kind == "mvau"), default=target)
    return Design("dataflow", tuple(layers), interval, total, limits, _fits(total, limits, 1.0), tuple(notes),
                  shared=pl.fifo, meets_target=_fits(total, limits, share))


def design_for_folding(workload: Workload, device: DeviceProfile, folding: Mapping[str, tuple[int, int]]) -> Design:
    """A dataflow design with the (PE, SIMD) of each named MAC layer fixed (e.g. a published design's
    folding); unnamed layers are folded for the slowest named layer's cycles."""
    spec = device.fpga
    assert spec is not None
    pl = _Planner(workload, spec, params_of(spec, device.source))
    unknown = sorted(set(folding) - {ly.node for ly in pl.base if ly.kind == "mvau"})
    if unknown:
        raise KeyError(f"not MAC layers of the graph: {', '.join(unknown)}")
    return _folded_design(pl, folding, limits_of(spec))


def design_for_finn_config(workload: Workload, device: DeviceProfile, path: Path) -> Design:
    """The design of a FINN build's own ``folding_config.json`` (``hwsim.cost.finn_folding``): FINN's
    engine i folds the graph's i-th MAC layer."""
    spec = device.fpga
    assert spec is not None
    pl = _Planner(workload, spec, params_of(spec, device.source))
    folding = read_finn_folding(path, [ly.node for ly in pl.base if ly.kind == "mvau"])
    design = _folded_design(pl, folding, limits_of(spec))
    return replace(design, notes=design.notes + (f"folding from {path} (FINN)",))


def _folded_design(pl: _Planner, folding: Mapping[str, tuple[int, int]], limits: Mapping[str, int]) -> Design:
    fixed = [replace(ly, pe=folding[ly.node][0], simd=folding[ly.node][1]) for ly in pl.base if ly.node in folding]
    target = max((ly.cycles for ly in fixed), default=pl.candidates()[-1])
    layers, _ = pl.build(target, frozenset())
    out: list[Layer] = []
    total = pl.fifo
    for ly in layers:
        if ly.node in folding:
            pe, simd = folding[ly.node]
            ly = replace(ly, pe=pe, simd=simd)
            ly = replace(ly, resources=pl._mvau(ly))
        total = total + ly.resources
        out.append(ly)
    return Design("dataflow", tuple(out), max(ly.cycles for ly in out), total, limits, _fits(total, limits, 1.0),
                  shared=pl.fifo)


#: significant bits of an operand as a multiplier sees it (floats: the mantissa with its hidden bit)
