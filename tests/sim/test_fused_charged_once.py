"""A fused op is charged once (hwsim.sim.fusion): bn1 and relu folded into conv1's kernel add nothing
to the schedule where the epilogue runs beside the array, and exactly their own cycles where they share
the cores with a compute-bound conv."""

from __future__ import annotations

import pytest

from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.sim import simulate
from hwsim.sim.engines import op_costs

from testutils import WORKLOADS


@pytest.fixture(scope="module")
def resnet18():
    return load_model(WORKLOADS / "resnet18.json")


def _spans(run) -> dict[str, int]:
    return {t.node: t.end_cycle - t.start_cycle for t in run.ops}


@pytest.mark.parametrize("engine", ["analytic", "event"])
def test_systolic_epilogue_overlaps_the_array(resnet18, engine: str) -> None:
    dev = load_device("systolic-32x32")
    costs = {c.node: c for c in op_costs(resnet18, dev)}
    assert costs["bn1"].extra["fused_into"] == "conv1" and costs["relu"].extra["fused_into"] == "bn1"
    assert costs["bn1"].compute_cycles == 25_088 and costs["relu"].compute_cycles == 25_088  # the work is costed
    run = simulate(resnet18, dev, engine=engine)
    spans = _spans(run)
    # conv1 is memory-bound (511,168 DRAM cycles) and the vector unit works beside the array
    assert spans["bn1"] == 0 and spans["relu"] == 0
    assert spans["conv1"] == costs["conv1"].lower_bound_cycles if engine == "analytic" else spans["conv1"] > 0
    fused = [n for n, c in costs.items() if c.extra.get("fused_into")]
    assert fused and all(spans[n] == 0 for n in fused if costs[costs[n].extra["fused_into"]].bound == "memory")
    energy = {t.node: t.energy_pj["compute"] for t in run.ops}
    assert energy["bn1"] == costs["bn1"].energy_pj["compute"] > 0  # still charged its energy


def test_cpu_epilogue_on_a_compute_bound_conv_adds_its_own_cycles(resnet18) -> None:
    dev = load_device("cpu-a53")
    costs = {c.node: c for c in op_costs(resnet18, dev)}
    assert costs["conv1"].bound == "compute"
    spans = _spans(simulate(resnet18, dev))
    assert spans["bn1"] == costs["bn1"].compute_cycles and spans["relu"] == costs["relu"].compute_cycles


def test_cpu_epilogue_hidden_behind_a_memory_bound_kernel(resnet18) -> None:
    # a slow DRAM makes conv1 memory-bound; the epilogue then costs cycles only past the memory time
    dev = load_device("cpu-a53", {"memory.dram.bandwidth": "50 MB/s"})
    costs = {c.node: c for c in op_costs(resnet18, dev)}
    conv = costs["conv1"]
    assert conv.bound == "memory"
    spans = _spans(simulate(resnet18, dev))
    room = conv.memory_cycles - conv.compute_cycles
    assert spans["bn1"] == max(0, costs["bn1"].compute_cycles - room)
    assert spans["bn1"] + spans["relu"] == max(0, costs["bn1"].compute_cycles + costs["relu"].compute_cycles - room)
