"""Properties of the event engine (hypothesis): never below the analytic lower bound, never above the
fully serial schedule, equal to the analytic result where nothing overlaps or contends, and the FPGA
pipeline equal to its closed form without contention."""

from __future__ import annotations

from finn_models import lfc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testutils import LENET5_DOC

from hwsim.cost.types import OpCost
from hwsim.cost.work import prepare
from hwsim.frontends.model_json import parse_model
from hwsim.hardware import load_device
from hwsim.ir import Node, OpGraph, TensorSpec
from hwsim.sim import op_costs, simulate
from hwsim.sim.engines import EngineInput
from hwsim.sim.event import run_events
from hwsim.sim.fpga_pipeline import frame_departures, pipeline_latency

CPU = load_device("cpu-a72")
FPGA = load_device("fpga-small")


def chain(n: int, batch: int = 1) -> OpGraph:
    nodes = [Node(f"s{i}", "relu", (f"s{i - 1}" if i else "x",), (f"s{i}",)) for i in range(n)]
    return OpGraph.build("chain", [TensorSpec("x", (batch, 64))], nodes, [f"s{n - 1}"])


op = st.fixed_dictionaries({
    "compute": st.integers(0, 50_000), "onchip": st.integers(0, 50_000), "dram": st.integers(0, 50_000),
    "dram_bytes": st.integers(0, 2_000_000), "overhead": st.integers(0, 2_000),
})


def cost(i: int, d: dict, stage: bool = False) -> OpCost:
    return OpCost(node=f"s{i}", op="relu", unit="u", compute_cycles=d["compute"],
                  transfer_bytes={"l1": 0, "l2": 0, "dram": d["dram_bytes"] if d["dram"] else 0},
                  transfer_cycles={"l1": d["onchip"], "l2": 0, "dram": d["dram"]},
                  overhead_cycles=0 if stage else d["overhead"], extra={"pipeline_stage": stage})


def run(g: OpGraph, costs: tuple[OpCost, ...], device=CPU) -> int:
    return run_events(EngineInput(g, prepare(g), device, costs, "baseline"))[0].total_cycles


@settings(max_examples=80, deadline=None)
@given(st.lists(op, min_size=1, max_size=6))
def test_between_the_roofline_and_the_serial_schedule(ops: list[dict]) -> None:
    g = chain(len(ops))
    costs = tuple(cost(i, d) for i, d in enumerate(ops))
    total = run(g, costs)
    lower = sum(c.lower_bound_cycles for c in costs)
    serial = sum(c.overhead_cycles + max(c.compute_cycles, c.transfer_cycles["l1"]) + c.transfer_cycles["dram"]
                 for c in costs)
    assert lower <= total <= serial


@settings(max_examples=60, deadline=None)
@given(st.lists(op, min_size=1, max_size=6), st.data())
def test_equals_analytic_when_nothing_overlaps(ops: list[dict], data: st.DataObject) -> None:
    # each op either computes (with its on-chip traffic) or moves data off chip, never both
    plain = []
    for d in ops:
        if data.draw(st.booleans()):
            plain.append({**d, "dram": 0})
        else:
            plain.append({**d, "compute": 0, "onchip": 0})
    g = chain(len(plain))
    costs = tuple(cost(i, d) for i, d in enumerate(plain))
    lower = sum(c.lower_bound_cycles for c in costs)
    total = run(g, costs)
    assert abs(total - lower) <= 0.05 * max(lower, 1)
    assert total == lower  # exactly, in fact: split tiles sum to the op's totals


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 5_000), min_size=1, max_size=5), st.integers(1, 6))
def test_pipeline_matches_its_closed_form(per_frame: list[int], frames: int) -> None:
    g = chain(len(per_frame), batch=frames)
    costs = tuple(cost(i, {"compute": c * frames, "onchip": 0, "dram": 0, "dram_bytes": 0, "overhead": 0}, True)
                  for i, c in enumerate(per_frame))
    assert run(g, costs, FPGA) == pipeline_latency(per_frame, frames) == frame_departures(per_frame, frames)[-1][-1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3_000), st.integers(0, 3_000)), min_size=1, max_size=4), st.integers(1, 4))
def test_pipeline_never_beats_its_bound(stages: list[tuple[int, int]], frames: int) -> None:
    g = chain(len(stages), batch=frames)
    costs = tuple(cost(i, {"compute": c * frames, "onchip": 0, "dram": d * frames, "dram_bytes": d, "overhead": 0},
                       True) for i, (c, d) in enumerate(stages))
    bound = pipeline_latency([max(c, d) for c, d in stages], frames)
    bus = frames * sum(d for _, d in stages)  # one shared bus carries every stage's traffic
    assert run(g, costs, FPGA) >= max(bound, bus)


bandwidth = st.sampled_from(["1 GB/s", "4 GB/s", "12.8 GB/s", "50 GB/s"])
clock = st.sampled_from(["400 MHz", "1 GHz", "1.8 GHz"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["cpu-a53", "cpu-a72", "gpu-jetson-nano", "systolic-32x32"]), bandwidth, clock)
def test_real_costs_never_below_analytic(device: str, bw: str, clk: str) -> None:
    g = parse_model(LENET5_DOC)
    dev = load_device(device, {"memory.dram.bandwidth": bw, "clock": clk})
    a = simulate(g, dev)
    e = simulate(g, dev, engine="event")
    assert e.total_cycles >= a.total_cycles
    assert e.total_cycles <= 1.25 * a.total_cycles  # tiles of >= 4 KiB keep the fill small
    for ta, te in zip(a.ops, e.ops):
        assert te.cycles >= ta.cycles


def test_fpga_lfc_event_equals_analytic_at_batch_one() -> None:
    g = lfc()
    a, e = simulate(g, FPGA), simulate(g, FPGA, engine="event")
    assert e.total_cycles == a.total_cycles  # no DRAM contention: the pipeline fill is the stage sum
    stages = [c for c in op_costs(g, FPGA) if c.extra.get("pipeline_stage")]
    assert e.total_cycles == pipeline_latency([c.lower_bound_cycles for c in stages])
    batch = lfc(batch=8)
    eb = simulate(batch, FPGA, engine="event")
    assert eb.total_cycles < 8 * e.total_cycles  # frames overlap in the pipeline
    per = [c.lower_bound_cycles // 8 for c in op_costs(batch, FPGA) if c.extra.get("pipeline_stage")]
    assert eb.total_cycles >= pipeline_latency(per, 8)
    assert simulate(batch, FPGA).total_cycles == eb.total_cycles  # analytic uses the same closed form
