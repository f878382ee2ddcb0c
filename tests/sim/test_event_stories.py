"""Story tests of the event engine (SimPy's style): tiny scenarios whose exact event logs are written out."""

from __future__ import annotations

import simpy

from hwsim.cost.types import OpCost
from hwsim.cost.work import prepare
from hwsim.hardware import load_device
from hwsim.ir import Node, OpGraph, TensorSpec
from hwsim.sim.engines import EngineInput
from hwsim.sim.event import TileWork, _Machine, run_events, split_even, tile_work
from hwsim.sim.fpga_pipeline import frame_departures, pipeline_latency


def machine() -> tuple[simpy.Environment, _Machine, list]:
    env = simpy.Environment()
    log: list = []
    return env, _Machine(env, ["dram"], log), log


def test_double_buffered_tiles_overlap_load_and_compute() -> None:
    env, m, log = machine()
    env.process(m.run_op("conv", 0, TileWork(load=(10, 10), stage=(20, 20), store=(5, 5))))
    env.run()
    assert log == [
        (0, "load_start", "conv", 0), (10, "load_end", "conv", 0),
        (10, "compute_start", "conv", 0), (10, "load_start", "conv", 1),  # tile 1 loads while tile 0 computes
        (20, "load_end", "conv", 1),
        (30, "compute_end", "conv", 0), (30, "store_start", "conv", 0), (30, "compute_start", "conv", 1),
        (35, "store_end", "conv", 0),
        (50, "compute_end", "conv", 1), (50, "store_start", "conv", 1), (55, "store_end", "conv", 1),
    ]


def test_loads_and_stores_contend_for_the_bus() -> None:
    """Compute is short: tile 1's load and tile 0's store both want the bus; the load came first."""
    env, m, log = machine()
    env.process(m.run_op("fc", 0, TileWork(load=(10, 10, 10), stage=(1, 1, 1), store=(8, 8, 8))))
    env.run()
    bus = [(t, w, i) for t, w, _, i in log if w.endswith("_start") and not w.startswith("compute")]
    assert bus == [(0, "load_start", 0), (10, "load_start", 1), (20, "store_start", 0), (28, "load_start", 2),
                   (38, "store_start", 1), (46, "store_start", 2)]
    assert env.now == 54  # the bus carried 3 x 10 + 3 x 8 = 54 cycles back to back


def test_only_two_tiles_in_flight() -> None:
    """With two buffers, tile 2 cannot load before tile 0 has been stored."""
    env, m, log = machine()
    env.process(m.run_op("x", 0, TileWork(load=(1, 1, 1), stage=(10, 10, 10), store=(1, 1, 1))))
    env.run()
    t = {(w, i): c for c, w, _, i in log}
    assert t[("load_start", 2)] == t[("store_end", 0)] == 12


def test_overhead_comes_first() -> None:
    env, m, log = machine()
    env.process(m.run_op("k", 7, TileWork(load=(0,), stage=(3,), store=(0,))))
    env.run()
    assert log == [(7, "compute_start", "k", 0), (10, "compute_end", "k", 0)]


def test_split_even_sums_exactly() -> None:
    assert split_even(10, 3) == [4, 3, 3] and sum(split_even(12345, 32)) == 12345


def _stage_graph(n: int, batch: int = 1) -> OpGraph:
    nodes = [Node(f"s{i}", "relu", (f"s{i - 1}" if i else "x",), (f"s{i}",)) for i in range(n)]
    return OpGraph.build("chain", [TensorSpec("x", (batch, 16))], nodes, [f"s{n - 1}"])


def _stage(node: str, compute: int, dram: int = 0) -> OpCost:
    return OpCost(node=node, op="relu", unit="mvau", compute_cycles=compute, transfer_bytes={"bram": 0, "dram": dram},
                  transfer_cycles={"bram": 0, "dram": dram}, extra={"pipeline_stage": True})


def test_fpga_pipeline_fill_then_one_frame_per_interval() -> None:
    g = _stage_graph(3, batch=3)
    costs = (_stage("s0", 30), _stage("s1", 60), _stage("s2", 30))  # per 3 frames: 10, 20, 10 per frame
    inp = EngineInput(g, prepare(g), load_device("fpga-small"), costs, "baseline")
    result, log = run_events(inp, trace=True)
    ends = {(n, f): c for c, w, n, f in log if w == "stage_end"}
    want = frame_departures([10, 20, 10], 3)
    assert [[ends[(f"s{k}", f)] for k in range(3)] for f in range(3)] == want == [[10, 30, 40], [20, 50, 60],
                                                                                 [30, 70, 80]]
    assert result.total_cycles == pipeline_latency([10, 20, 10], 3) == 80
    assert result.extra["frames"] == 3


def test_fpga_stages_share_the_dram_bus() -> None:
    """Two stages each move 10 cycles of data off chip per frame: the second waits for the bus."""
    g = _stage_graph(2, batch=2)
    costs = (_stage("s0", 2, dram=20), _stage("s1", 2, dram=20))
    inp = EngineInput(g, prepare(g), load_device("fpga-small"), costs, "baseline")
    result, log = run_events(inp, trace=True)
    dram = [(c, n, f) for c, w, n, f in log if w == "dram_start"]
    # at cycle 10 s0 moves on to frame 1 and asks for the bus just before s1 (woken by frame 0) does
    assert dram == [(0, "s0", 0), (10, "s0", 1), (20, "s1", 0), (30, "s1", 1)]
    assert result.total_cycles == 40  # the bus, not the 2-cycle engines, sets the pace
    assert result.total_cycles > pipeline_latency([10, 10], 2)  # 30 without contention


def test_engines_stream_rows_to_each_other() -> None:
    """A 3x3 conv starts on its first output row once two input rows exist (padding 1), not at the
    end of the producer's frame."""
    g = OpGraph.build("rows", [TensorSpec("x", (1, 4, 4, 4))], [
        Node("a", "relu", ("x",), ("a",)),
        Node("b", "conv2d", ("a",), ("b",), {"out_channels": 4, "kernel": 3, "padding": 1})], ["b"])
    costs = (_stage("a", 40), _stage("b", 80))  # 4 rows each: 10 and 20 cycles per row
    inp = EngineInput(g, prepare(g), load_device("fpga-small"), costs, "baseline")
    result, log = run_events(inp, trace=True)
    starts = {n: c for c, w, n, f in log if w == "stage_start"}
    assert starts == {"a": 0, "b": 20}  # rows 0 and 1 of a are done at 20
    # b's rows end at 40, 60, 80, 100 (its 20-cycle rows are the slower stream): 100 < 40 + 80
    assert result.total_cycles == 100
    assert simulate_analytic_total(inp) == 100


def simulate_analytic_total(inp: EngineInput) -> int:
    from hwsim.sim.analytic import run_analytic

    return run_analytic(inp).total_cycles


def test_tile_count_follows_offchip_bytes() -> None:
    dev = load_device("systolic-32x32")
    c = OpCost(node="n", op="relu", unit="u", compute_cycles=100, transfer_bytes={"sram": 10, "dram": 3 * 4096},
               transfer_cycles={"sram": 40, "dram": 30})
    tw = tile_work(c, None, ["dram"], dev.last_on_chip.usable_bytes / 2)
    assert len(tw.stage) == 3 and sum(tw.stage) == 100 and sum(tw.load) == 30 and sum(tw.store) == 0
    none = tile_work(c.__class__(**{**c.__dict__, "transfer_cycles": {"sram": 40, "dram": 0},
                                    "transfer_bytes": {"sram": 10, "dram": 0}}), None, ["dram"], 1.0)
    assert none == TileWork(load=(0,), stage=(100,), store=(0,))
