"""The event engine simulates each distinct op once (an op's span depends only on its overhead and tile
work: ops run one after another on an idle machine). Its spans equal those of one simpy run of the whole
sequence (the traced path), op for op."""

from __future__ import annotations

import pytest

from hwsim.cost.registry import cost_model
from hwsim.cost.work import prepare
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.sim.engines import EngineInput
from hwsim.sim.event import run_events
from hwsim.sim.fusion import charge_fused

from testutils import WORKLOADS


@pytest.mark.parametrize("model,device", [("resnet18", "cpu-a53"), ("transformer_tiny", "gpu-jetson-nano"),
                                          ("mobilenet_v2", "systolic-32x32")])
def test_replayed_spans_equal_one_whole_simulation(model: str, device: str) -> None:
    g = load_model(WORKLOADS / f"{model}.json")
    dev = load_device(device)
    work = prepare(g)
    inp = EngineInput(g, work, dev, charge_fused(cost_model(dev.kind).cost_graph(work, dev)), "baseline")
    replayed, _ = run_events(inp)
    whole, log = run_events(inp, trace=True)
    assert log  # the traced run really is one simpy simulation of the sequence
    assert [(t.start_cycle, t.end_cycle) for t in replayed.ops] == [(t.start_cycle, t.end_cycle) for t in whole.ops]
    assert replayed.total_cycles == whole.total_cycles > 0
