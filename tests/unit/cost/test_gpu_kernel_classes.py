"""GPU kernel classes, the per-kernel time floor and GPU runtimes (issue 10, GPU latency).

The Jetson Nano's depthwise convolutions run at their own fitted efficiency (``gpu.efficiency.depthwise``),
a kernel too small to cover ``gpu.min_kernel_time`` is charged the floor, and a runtime named by
``gpu.runtime`` scales the efficiencies and may bring its own floor."""

from __future__ import annotations

import math

import pytest
from devicegraphs import conv_graph

from hwsim.errors import DeviceProfileError
from hwsim.hardware import load_device
from hwsim.sim import op_costs

DW = dict(c=96, k=96, h=56, groups=96)  # a MobileNetV2 depthwise 3x3 layer, 56 x 56 x 96


def test_depthwise_conv_on_jetson_nano_runs_at_the_depthwise_class_efficiency() -> None:
    d = load_device("jetson-nano")
    dw = op_costs(conv_graph(**DW), d)[0]
    dense = op_costs(conv_graph(c=96, k=96, h=56), d)[0]
    assert dw.extra["kernel_class"] == "depthwise" and dense.extra["kernel_class"] == "gemm"
    assert dw.extra["efficiency"] == d.gpu.efficiency["depthwise"] < d.gpu.efficiency["gemm"]
    # 9 MACs per output on 128 fp32 CUDA cores at the class's efficiency (one SM: no wave loss)
    macs = 56 * 56 * 96 * 9
    expected = macs / (128 * dw.extra["utilization"] * d.gpu.efficiency["depthwise"])
    assert dw.compute_cycles == pytest.approx(expected, rel=1e-3)
    twice = op_costs(conv_graph(**DW), load_device("jetson-nano", {"gpu.efficiency.depthwise": str(
        2 * d.gpu.efficiency["depthwise"])}))[0]
    assert twice.compute_cycles == pytest.approx(dw.compute_cycles / 2, rel=1e-3)


def test_a_tiny_kernel_is_charged_the_floor_a_big_one_is_not() -> None:
    base = load_device("jetson-nano", {"gpu.min_kernel_time": "0 us"})
    floored = load_device("jetson-nano", {"gpu.min_kernel_time": "50 us"})
    launch = math.ceil(base.gpu.launch_overhead_s * base.clock_hz)
    floor = math.ceil(50e-6 * floored.clock_hz)
    tiny = conv_graph(c=8, k=8, h=4, kernel=1)
    t0, t1 = op_costs(tiny, base)[0], op_costs(tiny, floored)[0]
    work = max(t0.compute_cycles, *t0.transfer_cycles.values())
    assert work < floor and t0.overhead_cycles == launch
    assert t1.overhead_cycles == launch + floor - work
    assert t1.lower_bound_cycles == launch + floor
    assert any("kernel time floor" in n for n in t1.notes)
    big = conv_graph(c=256, k=256, h=28)
    b0, b1 = op_costs(big, base)[0], op_costs(big, floored)[0]
    assert max(b0.compute_cycles, *b0.transfer_cycles.values()) > floor
    assert b1.overhead_cycles == b0.overhead_cycles == launch and b1.lower_bound_cycles == b0.lower_bound_cycles


def test_a_gpu_runtime_scales_the_efficiencies_and_brings_its_floor() -> None:
    trt = load_device("jetson-nano")
    ocv = load_device("jetson-nano", {"gpu.runtime": "opencv-cuda"})
    assert ocv.gpu.efficiency["gemm"] == pytest.approx(trt.gpu.efficiency["gemm"] * 0.55)
    assert ocv.gpu.efficiency["depthwise"] == pytest.approx(trt.gpu.efficiency["depthwise"])  # no factor named
    assert trt.gpu.min_kernel_time_s == 0.0 and ocv.gpu.min_kernel_time_s == pytest.approx(150e-6)
    g = conv_graph(c=256, k=256, h=28)
    assert op_costs(g, ocv)[0].compute_cycles == pytest.approx(op_costs(g, trt)[0].compute_cycles / 0.55, rel=1e-3)


def test_an_unknown_gpu_runtime_is_an_error_naming_the_key() -> None:
    with pytest.raises(DeviceProfileError, match="runtime 'onnxruntime' is not one of this profile's runtimes"):
        load_device("jetson-nano", {"gpu.runtime": "onnxruntime"})
    with pytest.raises(DeviceProfileError, match="gpu.runtimes.opencv-cuda"):  # past the peak under the runtime
        load_device("jetson-nano", {"gpu.runtime": "opencv-cuda", "gpu.runtimes.opencv-cuda.efficiency.gemm": "2.0"})
