"""GPU power while busy (issue 10, GPU energy): the GPU's energy beyond per-operation arithmetic and traffic is
``energy.instruction`` per warp scheduler per busy cycle, for every kind of op, and the Jetson Nano's value is
the GPU rail reading it was derived from; the host core that drives an inference is ``host_power``."""

from __future__ import annotations

import pytest
from devicegraphs import conv_graph, small_net

from hwsim.analysis.validation import _graph, default_workloads_dir
from hwsim.hardware import load_device
from hwsim.sim import op_costs, simulate

#: the GPU rail reading behind jetson-nano's energy.instruction (jetson-nano.yaml, <vecad-tegra>): POM_5V_GPU
#: 2206 mW average at GR3D 99 % while a Darknet YOLO conv net ran; the GPU busy, per second of busy time
NANO_GPU_RAIL_BUSY_W = 2.206 / 0.99


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
    assert r.extra["board_energy_j"] == pytest.approx(sum(parts.values()))
    # the generic chip-only profile has no board beside it: no host term, no board energy
    generic = simulate(conv_graph(c=64, k=64, h=28), load_device("gpu-jetson-nano"))
    assert "board_energy_j" not in generic.extra
