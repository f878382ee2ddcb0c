"""The analytic engine: sequential ops, roofline per op, static energy, liveness peak memory, fit checks."""

from __future__ import annotations

import pytest
from devicegraphs import conv_graph, small_net

from hwsim.cost.memory import ModelDoesNotFitError, footprint
from hwsim.cost.work import prepare
from hwsim.errors import UnknownNameError
from hwsim.hardware import load_device
from hwsim.ir import FP32, Node, OpGraph, TensorSpec
from hwsim.sim import ENGINES, get_engine, op_costs, simulate
from hwsim.sim.fusion import charge_fused

DEVICES = ("cpu-a53", "cpu-a72", "gpu-jetson-nano", "gpu-orin-nano")


@pytest.mark.parametrize("dev", DEVICES)
def test_ops_run_back_to_back_at_their_roofline(dev: str) -> None:
    g = small_net()
    d = load_device(dev)
    r = simulate(g, d)
    costs = charge_fused(op_costs(g, d))  # a fused op is charged only what it adds to its producer's kernel
    assert [o.node for o in r.ops] == [n.name for n in g.nodes]
    t = 0
    for o, c in zip(r.ops, costs):
        assert o.start_cycle == t and o.cycles == max(c.compute_cycles, c.memory_cycles) + c.overhead_cycles
        t = o.end_cycle
    assert r.total_cycles == t
    assert r.seconds == pytest.approx(t / d.clock_hz)


def test_energy_components_add_up_with_static_power_times_time() -> None:
    d = load_device("cpu-a72")
    r = simulate(small_net(), d)
    costs = op_costs(small_net(), d)
    assert r.energy_pj["static"] == pytest.approx(d.static_power_w * r.seconds * 1e12)
    for comp in ("compute", "onchip", "dram"):
        assert r.energy_pj[comp] == pytest.approx(sum(c.energy_pj.get(comp, 0.0) for c in costs))
    assert r.energy_total_pj == pytest.approx(sum(r.energy_pj.values()))
    assert set(r.transfer_bytes) == {"l1", "l2", "dram"}


def test_peak_activation_memory_from_liveness() -> None:
    # x(4 KB) -> a -> b; x also feeds c = add(b, x): x stays live until the add
    x = TensorSpec("x", (1, 1024), FP32)
    nodes = [Node("r1", "relu", ("x",), ("a",)), Node("r2", "relu", ("a",), ("b",)),
             Node("s", "add", ("b", "x"), ("c",))]
    g = OpGraph.build("live", [x], nodes, ["c"])
    w = prepare(g)
    kb = 4096
    # step r2: x, a, b live = 3 tensors; step s: x, b, c = 3 tensors; never 4
    assert w.peak_activation_bytes == 3 * kb
    assert w.live_after[-1] == kb  # only the output is left
    r = simulate(g, "cpu-a53")
    assert r.peak_activation_bytes == 3 * kb and r.footprint_bytes == 3 * kb and r.fits_memory


def test_weights_count_in_their_stored_format() -> None:
    g = conv_graph(c=16, k=32, kernel=3, stored_bits=16 * 32 * 9, encoding="dense")  # 1 bit per weight
    fp = footprint(prepare(g), load_device("cpu-a53"))
    assert fp.weight_bytes == 16 * 32 * 9 // 8


def test_a_model_whose_weights_fit_no_memory_is_refused() -> None:
    g = conv_graph(c=512, k=512, h=4)  # 9.4 MB of fp32 weights
    with pytest.raises(ModelDoesNotFitError) as e:
        simulate(g, "cpu-a53", overrides={"memory.dram.size": "4 MiB"})
    assert "do not fit" in str(e.value) and "9.00 MiB" in str(e.value)
    r = simulate(g, "cpu-a53", overrides={"memory.dram.size": "4 MiB"}, check_fit=False)
    assert r.fits_memory is False


def test_overrides_change_the_result_and_are_recorded() -> None:
    g = conv_graph(c=64, k=64, h=56)
    slow = simulate(g, "cpu-a53", overrides={"memory.dram.bandwidth": "0.01 GB/s"})
    fast = simulate(g, "cpu-a53")
    assert slow.total_cycles > fast.total_cycles
    assert slow.extra["overrides"] == {"memory.dram.bandwidth": "0.01 GB/s"}
    assert simulate(g, "cpu-a53", overrides={"clock": "2.8 GHz"}).seconds < fast.seconds


def test_engine_registry_lists_known_engines() -> None:
    assert "analytic" in ENGINES or get_engine("analytic")
    with pytest.raises(UnknownNameError, match="analytic"):
        get_engine("quantum")


def test_result_is_deterministic_and_serialisable() -> None:
    import json

    a = simulate(small_net(), "gpu-orin-nano").as_dict()
    b = simulate(small_net(), "gpu-orin-nano").as_dict()
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
