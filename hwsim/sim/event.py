"""The ``event`` engine: a simpy simulation of DMA engines, compute units, double-buffered tiles, a
shared DRAM bus and, on FPGA dataflow designs, the layer pipeline.

Layer-sequential devices (CPU, GPU, systolic, FPGA overlay): ops run one after another. Each op pays
its fixed overhead, then its work is cut into tiles (as many as its off-chip traffic needs buffers of
half the last on-chip level and of at least ``MIN_TILE_BYTES``; at most ``MAX_TILES``). A load DMA engine brings tile i in over the DRAM
bus, the compute unit works on it (on-chip transfers overlap the compute: a tile's stage takes the
longer of the two), a store DMA engine writes its results back over the same bus. Two tile buffers
(double buffering) let tile i+1 load while tile i computes. The bus serves one transfer at a time, so
loads and stores contend for it.

FPGA dataflow designs (costs marked ``pipeline_stage``): every engine is a simpy process working row by
row (output rows of its feature map; one row for vectors), starting a row as soon as the input rows its
window needs have been produced, frames following each other through unbounded FIFOs; engines with
off-chip traffic (the first layer's input, the last layer's output, weights that did not fit the BRAM)
contend for the bus.

The result is never below the analytic lower bound (each op is at least its overhead plus the longest
of its compute, on-chip and DRAM time), and equals it when nothing overlaps. Simulated time is integer
cycles. ``run_events(..., trace=True)`` also returns the event log the story tests assert.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import simpy

from hwsim.cost.memory import footprint
from hwsim.cost.types import OpCost
from hwsim.cost.work import OpWork
from hwsim.sim.engines import EngineInput, register_engine
from hwsim.sim.fpga_pipeline import needed_row, split_rows, stream_stages
from hwsim.sim.result import OpTiming, RunResult

#: Most tiles one op is cut into (the fill of a double-buffered pipeline of n tiles costs ~1/n of it).
MAX_TILES = 32
#: Tile buffers per op (double buffering).
BUFFERS = 2
#: Smallest tile worth a DMA transfer (ASSUMED: a few DRAM bursts); ops are cut into tiles of at least this.
MIN_TILE_BYTES = 4096

TraceEvent = tuple[int, str, str, int]  # (cycle, what, node, tile or frame)


@dataclass(frozen=True)
class TileWork:
    """One op cut into tiles: per-tile load, stage (compute / on-chip) and store cycles."""

    load: tuple[int, ...]
    stage: tuple[int, ...]
    store: tuple[int, ...]


def split_even(total: int, n: int) -> list[int]:
    """``total`` cycles over ``n`` tiles, differing by at most one, summing exactly to ``total``."""
    q, r = divmod(int(total), n)
    return [q + (1 if i < r else 0) for i in range(n)]


def store_share(work: OpWork | None) -> float:
    """Share of an op's off-chip traffic that is writes: its output over everything it touches."""
    if work is None:
        return 0.0
    total = work.act_in_bytes + work.out_bytes + work.param_bytes
    return work.out_bytes / total if total else 0.0


def tile_work(cost: OpCost, work: OpWork | None, offchip: Sequence[str], tile_bytes: float) -> TileWork:
    dram_cycles = sum(cost.transfer_cycles.get(n, 0) for n in offchip)
    dram_bytes = sum(cost.transfer_bytes.get(n, 0) for n in offchip)
    onchip = max((v for k, v in cost.transfer_cycles.items() if k not in offchip), default=0)
    n = 1
    if dram_cycles:
        need = math.ceil(dram_bytes / tile_bytes) if tile_bytes > 0 else 1  # tiles must fit a buffer
        n = max(1, min(MAX_TILES, max(need, math.ceil(dram_bytes / MIN_TILE_BYTES))))
    stores = int(round(dram_cycles * store_share(work)))
    loads = dram_cycles - stores
    comp = split_even(cost.compute_cycles, n)
    on = split_even(onchip, n)
    return TileWork(load=tuple(split_even(loads, n)), stage=tuple(max(c, o) for c, o in zip(comp, on)),
                    store=tuple(split_even(stores, n)))


class _Machine:
    """The simulated hardware: one compute unit and one bus per off-chip level (shared by all DMA)."""

    def __init__(self, env: simpy.Environment, offchip: Sequence[str], trace: list[TraceEvent] | None) -> None:
        self.env = env
        self.compute = simpy.Resource(env, capacity=1)
        self.bus = simpy.Resource(env, capacity=1)  # every off-chip level shares the one DRAM interface
        self.trace = trace

    def log(self, what: str, node: str, i: int) -> None:
        if self.trace is not None:
            self.trace.append((int(self.env.now), what, node, i))

    def transfer(self, cycles: int, what: str, node: str, i: int):  # type: ignore[no-untyped-def]
        if cycles <= 0:
            return
        with self.bus.request() as req:
            yield req
            self.log(f"{what}_start", node, i)
            yield self.env.timeout(cycles)
            self.log(f"{what}_end", node, i)

    def run_op(self, node: str, overhead: int, tw: TileWork):  # type: ignore[no-untyped-def]
        """Overhead, then load -> compute -> store over double-buffered tiles."""
        env = self.env
        if overhead:
            yield env.timeout(overhead)
        n = len(tw.stage)
        free = simpy.Container(env, capacity=BUFFERS, init=BUFFERS)
        loaded: simpy.Store = simpy.Store(env)
        computed: simpy.Store = simpy.Store(env)

        def loader():  # type: ignore[no-untyped-def]
            for i in range(n):
                yield free.get(1)
                yield from self.transfer(tw.load[i], "load", node, i)
                yield loaded.put(i)

        def computer():  # type: ignore[no-untyped-def]
            for i in range(n):
                yield loaded.get()
                with self.compute.request() as req:
                    yield req
                    self.log("compute_start", node, i)
                    yield env.timeout(tw.stage[i])
                    self.log("compute_end", node, i)
                yield computed.put(i)

        def storer():  # type: ignore[no-untyped-def]
            for i in range(n):
                yield computed.get()
                yield from self.transfer(tw.store[i], "store", node, i)
                yield free.put(1)

        yield env.all_of([env.process(loader()), env.process(computer()), env.process(storer())])


def op_span(overhead: int, tw: TileWork, offchip: Sequence[str]) -> int:
    """Cycles one op takes on an idle machine: the same simpy run as in the sequence, on its own."""
    env = simpy.Environment()
    m = _Machine(env, offchip, None)
    env.process(m.run_op("", overhead, tw))
    env.run()
    return int(env.now)


def _sequential(inp: EngineInput, trace: list[TraceEvent] | None) -> list[tuple[int, int]]:
    device = inp.device
    offchip = [lv.name for lv in device.memory if not lv.on_chip]
    llc = device.last_on_chip
    tile_bytes = llc.usable_bytes / BUFFERS if llc else 0.0
    works = {w.node: w for w in inp.workload.ops}
    if trace is None:
        # Ops run one after another and each finds the machine idle (its loads, computes and stores
        # all end before the next op starts), so an op's span depends only on its overhead and tiles:
        # ops with the same tile work (the repeated layers of a network) are simulated once.
        spans: list[tuple[int, int]] = []
        known: dict[tuple[int, TileWork], int] = {}
        t = 0
        for c in inp.costs:
            key = (c.overhead_cycles, tile_work(c, works.get(c.node), offchip, tile_bytes))
            d = known.get(key)
            if d is None:
                d = known[key] = op_span(key[0], key[1], offchip)
            spans.append((t, t + d))
            t += d
        return spans
    env = simpy.Environment()
    m = _Machine(env, offchip, trace)
    spans = []

    def main():  # type: ignore[no-untyped-def]
        for c in inp.costs:
            start = int(env.now)
            m.log("op_start", c.node, 0)
            yield from m.run_op(c.node, c.overhead_cycles, tile_work(c, works.get(c.node), offchip, tile_bytes))
            m.log("op_end", c.node, 0)
            spans.append((start, int(env.now)))

    env.process(main())
    env.run()
    return spans


def _frames(inp: EngineInput) -> int:
    shape = inp.graph.tensor(inp.graph.inputs[0]).shape if inp.graph.inputs else ()
    return int(shape[0]) if shape else 1


class _Progress:
    """Rows a stage has finished (all frames counted in order), and events for rows others wait on."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.count = 0
        self._waiting: list[tuple[int, int, simpy.Event]] = []
        self._seq = 0

    def at_least(self, n: int) -> simpy.Event | None:
        if self.count >= n:
            return None
        ev = self.env.event()
        self._seq += 1
        heapq.heappush(self._waiting, (n, self._seq, ev))
        return ev

    def advance(self) -> None:
        self.count += 1
        while self._waiting and self._waiting[0][0] <= self.count:
            heapq.heappop(self._waiting)[2].succeed()


def _pipeline(inp: EngineInput, trace: list[TraceEvent] | None) -> list[tuple[int, int]]:
    """FPGA dataflow: one process per engine, rows streaming between engines through FIFOs (an engine
    starts a row as soon as the input rows its window needs exist), off-chip traffic on the shared bus."""
    device = inp.device
    offchip = [lv.name for lv in device.memory if not lv.on_chip]
    frames = _frames(inp)
    env = simpy.Environment()
    m = _Machine(env, offchip, trace)
    costs = list(inp.costs)
    is_stage = [bool(c.extra.get("pipeline_stage")) for c in costs]
    per_frame = [c.lower_bound_cycles // frames for c in costs]
    stages, index = stream_stages(inp.graph, [c.node for c in costs], is_stage, per_frame)
    progress = [_Progress(env) for _ in stages]
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def run(k: int, c: OpCost):  # type: ignore[no-untyped-def]
        st = stages[k]
        comp = split_even(c.compute_cycles, frames)
        onchip = split_even(max((v for n, v in c.transfer_cycles.items() if n not in offchip), default=0), frames)
        dram = split_even(sum(c.transfer_cycles.get(n, 0) for n in offchip), frames)
        for f in range(frames):
            busy = split_rows(max(comp[f], onchip[f]), st.rows)
            bus = split_rows(dram[f], st.rows)
            for r in range(st.rows):
                for p, p_rows, need, stride in st.inputs:
                    ev = progress[p].at_least(f * p_rows + needed_row(r, p_rows, need, stride) + 1)
                    if ev is not None:
                        yield ev
                first.setdefault(k, int(env.now))
                if r == 0:
                    m.log("stage_start", c.node, f)
                work = [env.timeout(busy[r])]
                if bus[r]:
                    work.append(env.process(m.transfer(bus[r], "dram", c.node, f)))
                yield env.all_of(work)
                progress[k].advance()
            m.log("stage_end", c.node, f)
            last[k] = int(env.now)

    for i, k in enumerate(index):
        if k >= 0:
            env.process(run(k, costs[i]))
    env.run()
    spans: list[tuple[int, int]] = []
    t = 0
    for k in index:
        if k < 0:
            spans.append((t, t))
        else:
            spans.append((first[k], last[k]))
            t = last[k]
    return spans


def run_events(inp: EngineInput, *, trace: bool = False) -> tuple[RunResult, list[TraceEvent]]:
    """Simulate; also return the event log (cycle, what, node, tile/frame) when ``trace``."""
    log: list[TraceEvent] | None = [] if trace else None
    pipelined = any(c.extra.get("pipeline_stage") for c in inp.costs)
    spans = _pipeline(inp, log) if pipelined else _sequential(inp, log)
    return _result(inp, spans), (log or [])


@register_engine("event")
def run_event(inp: EngineInput) -> RunResult:
    return run_events(inp)[0]


def _result(inp: EngineInput, spans: Sequence[tuple[int, int]]) -> RunResult:
    device = inp.device
    timings: list[OpTiming] = []
    energy: Counter[str] = Counter()
    traffic: Counter[str] = Counter()
    resources: Counter[str] = Counter()
    for c, (s, e) in zip(inp.costs, spans):
        timings.append(OpTiming(node=c.node, op=c.op, start_cycle=s, end_cycle=e, bound=c.bound,
                                compute_cycles=c.compute_cycles, memory_cycles=c.memory_cycles,
                                energy_pj=dict(c.energy_pj), transfer_bytes=dict(c.transfer_bytes),
                                resources=dict(c.resources), unit=c.unit, overhead_cycles=c.overhead_cycles))
        energy.update(c.energy_pj)
        traffic.update(c.transfer_bytes)
        resources.update(c.resources)
    total = max((e for _, e in spans), default=0)
    energy["static"] += device.static_power_w * (total / device.clock_hz) * 1e12
    fp = footprint(inp.workload, device)
    limits: dict[str, int] = {}
    fits_res: bool | None = None
    if device.fpga is not None and resources:
        f = device.fpga
        limits = {"lut": f.lut, "ff": f.ff, "dsp": f.dsp, "bram18": f.bram18}
        fits_res = all(resources.get(k, 0) <= v for k, v in limits.items())
    extra: dict[str, object] = {"frames": _frames(inp)} if any(c.extra.get("pipeline_stage") for c in inp.costs) else {}
    if device.overrides:
        extra["overrides"] = dict(device.overrides)
    return RunResult(
        model=inp.workload.model, method=inp.method, device=device.name, engine="event",
        clock_hz=device.clock_hz, total_cycles=int(total), ops=tuple(timings),
        energy_pj={k: float(energy.get(k, 0.0)) for k in ("compute", "onchip", "dram", "static")},
        transfer_bytes={lv.name: int(traffic.get(lv.name, 0)) for lv in device.memory},
        weight_bytes=fp.weight_bytes, peak_activation_bytes=fp.peak_activation_bytes,
        footprint_bytes=fp.total_bytes, fits_memory=fp.fits, resources=dict(resources), resource_limits=limits,
        fits_resources=fits_res, notes=tuple(sorted({n for c in inp.costs for n in c.notes})), extra=extra,
    )
