"""GPU power while busy (issue 10, GPU energy): the GPU's energy beyond per-operation arithmetic and traffic is
``energy.instruction`` per warp scheduler per busy cycle, for every kind of op, and the Jetson Nano's value is
the GPU rail reading it was derived from; the host core that drives an inference is ``host_power``, and the rest
of the module above idle while it runs (SoC, memory controller, DRAM) ``soc_active_power``."""

from __future__ import annotations

import statistics

import pytest
from devicegraphs import conv_graph, small_net

from hwsim.analysis.validation import _graph, default_workloads_dir
from hwsim.hardware import load_device
from hwsim.sim import op_costs, simulate

#: the GPU rail reading behind jetson-nano's energy.instruction (jetson-nano.yaml, <vecad-tegra>): POM_5V_GPU
#: 2206 mW average at GR3D 99 % while a Darknet YOLO conv net ran; the GPU busy, per second of busy time
NANO_GPU_RAIL_BUSY_W = 2.206 / 0.99
#: the tegrastats readings behind jetson-nano's soc_active_power (jetson-nano.yaml): the module outside its GPU and
#: CPU rails, POM_5V_IN - POM_5V_GPU - POM_5V_CPU (mW, averages), under sustained GPU loads (<vecad-tegra>,
#: <aiblox-stress>, <cvstarter-tegra>) and idle with the memory clock at 204 MHz (<mviai-tegra>, <es-tegra>)
NANO_REST_LOADED_MW = (7870 - 2206 - 3110, 8742 - 3086 - 3134, 5591 - 2170 - 845)
NANO_REST_IDLE_MW = (877 - 104, 919 - 145)


@pytest.mark.parametrize("profile", ["jetson-nano", "gpu-jetson-nano", "orin-nano"])
def test_busy_gpu_energy_is_charged_per_warp_scheduler_for_every_op(profile: str) -> None:
    on = load_device(profile, {"energy.instruction": "100 pJ"})
    off = load_device(profile, {"energy.instruction": "0 pJ"})
    schedulers = on.gpu.cuda_cores // 32  # four per SM on Maxwell and Ampere
    assert schedulers == 4 * on.gpu.sms
    costs_on, costs_off = op_costs(small_net(), on), op_costs(small_net(), off)
    kinds = set()
    for a, b in zip(costs_on, costs_off, strict=True):
        fused = "fused_into" in (a.extra or {})
        busy = a.compute_cycles if fused else a.lower_bound_cycles
        extra_pj = a.energy_pj["compute"] - b.energy_pj["compute"]
        assert extra_pj == pytest.approx(100.0 * busy * schedulers, rel=1e-9), (a.node, a.unit)
        kinds.add("fused" if fused else a.unit.split(".")[1] if "." in a.unit else a.unit)
    assert {"fused", "vector"} <= kinds and any(k in ("cuda", "tensor") for k in kinds)


def test_jetson_nano_conv_net_power_on_the_gpu_is_its_rail_reading() -> None:
    """The per-scheduler energy was derived from a conv net's GPU rail reading less what hwsim charges for
    ResNet's arithmetic and on-chip traffic: a ResNet's GPU-side power (all but DRAM and static) gives the
    reading back, within the 47 pJ rounding of that subtraction."""
    dev = load_device("jetson-nano")
    for model in ("resnet18", "resnet50"):
        r = simulate(_graph(default_workloads_dir(), model, "baseline", 224), dev, method="baseline", check_fit=False)
        gpu_w = (r.energy_pj["compute"] + r.energy_pj["onchip"]) / 1e12 / r.seconds
        assert gpu_w == pytest.approx(NANO_GPU_RAIL_BUSY_W, rel=0.03), model
    idle_gpu = load_device("jetson-nano", {"energy.instruction": "0 pJ"})
    r0 = simulate(_graph(default_workloads_dir(), "resnet18", "baseline", 224), idle_gpu, method="baseline",
                  check_fit=False)
    assert (r0.energy_pj["compute"] + r0.energy_pj["onchip"]) / 1e12 / r0.seconds < 0.1 * NANO_GPU_RAIL_BUSY_W


def test_jetson_nano_board_energy_carries_the_host_core() -> None:
    dev = load_device("jetson-nano")
    assert dev.host_power_w == pytest.approx(0.74)
    r = simulate(_graph(default_workloads_dir(), "mobilenet_v2", "baseline", 224), dev, method="baseline",
                 check_fit=False)
    parts = r.extra["board_energy_parts"]
    assert parts["host"] == pytest.approx(0.74 * r.seconds)
    assert parts["soc_active"] == pytest.approx(dev.soc_active_power_w * r.seconds)
    assert r.extra["board_energy_j"] == pytest.approx(sum(parts.values()))
    # the generic chip-only profile has no board beside it: no host term, no board energy
    generic = simulate(conv_graph(c=64, k=64, h=28), load_device("gpu-jetson-nano"))
    assert "board_energy_j" not in generic.extra


def test_jetson_nano_soc_active_power_is_its_rail_readings() -> None:
    """The rest of the module above idle while a load runs is the median loaded reading less the idle one, and
    it is charged only where a profile gives it."""
    dev = load_device("jetson-nano")
    expected_w = (statistics.median(NANO_REST_LOADED_MW) - statistics.mean(NANO_REST_IDLE_MW)) / 1e3
    assert dev.soc_active_power_w == pytest.approx(expected_w, abs=0.005)
    other = load_device("jetson-nano", {"soc_active_power": "0.5 W"})
    g = _graph(default_workloads_dir(), "mobilenet_v2", "baseline", 224)
    a = simulate(g, dev, method="baseline", check_fit=False)
    b = simulate(g, other, method="baseline", check_fit=False)
    assert a.seconds == pytest.approx(b.seconds)
    assert a.extra["board_energy_j"] - b.extra["board_energy_j"] == pytest.approx((expected_w - 0.5) * a.seconds,
                                                                                  rel=0.01)
    coral = load_device("coral-devboard")  # a board idle and a host, no SoC term: none charged
    assert coral.soc_active_power_w is None
    rc = simulate(_graph(default_workloads_dir(), "mobilenet_v2", "int8", 224), coral, method="int8",
                  check_fit=False)
    assert rc.extra["board_energy_parts"]["soc_active"] == 0.0


def test_soc_active_power_needs_a_chip_scope_profile() -> None:
    from hwsim.errors import HwsimError

    with pytest.raises(HwsimError, match="power_scope: chip"):
        load_device("pi4", {"soc_active_power": "1 W"})
