"""Inference runtimes as a modelled dimension of a CPU profile (``cpu.runtimes`` / ``cpu.runtime``) and the
kernel classes their factors act on (hwsim.cost.rules.efficiency_key)."""

from __future__ import annotations

import pytest
from testutils import WORKLOADS

from hwsim.compress.method import apply_method
from hwsim.cost.rules import efficiency_key
from hwsim.cost.common import compute_class, conv_buffers
from hwsim.cost.work import prepare
from hwsim.errors import DeviceProfileError
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.hardware.profile import kernel_efficiency


def test_winograd_and_integer_kernels_fall_back_to_the_gemm_efficiency() -> None:
    table = {"gemm": 0.4, "vector": 0.5}
    assert kernel_efficiency(table, "winograd") == 0.4
    assert kernel_efficiency(table, "integer") == 0.4
    assert kernel_efficiency(table, "depthwise") == 1.0  # no entry, no fallback: the roofline peak
    assert kernel_efficiency({"gemm": 0.4, "winograd": 0.1}, "winograd") == 0.1


def test_a_runtime_multiplies_each_class_of_the_base_efficiency() -> None:
    base = load_device("pi4")
    ncnn = load_device("pi4", {"cpu.runtime": "ncnn"})
    factors = {"gemm": 1.4, "winograd": 0.5, "depthwise": 0.05, "vector": 0.02}
    assert base.cpu.runtime is None and ncnn.cpu.runtime == "ncnn"
    for key, f in factors.items():
        assert kernel_efficiency(ncnn.cpu.efficiency, key) == pytest.approx(
            kernel_efficiency(base.cpu.efficiency, key) * f)
    # a class the runtime does not name keeps the base value
    assert kernel_efficiency(ncnn.cpu.efficiency, "integer") == pytest.approx(base.cpu.efficiency["gemm"])


def test_an_unknown_runtime_names_the_file_and_the_choices() -> None:
    with pytest.raises(DeviceProfileError, match="runtime 'tvm' is not one of this profile's runtimes") as e:
        load_device("pi4", {"cpu.runtime": "tvm"})
    assert "pi4" in str(e.value) and "ncnn" in str(e.value)


def test_a_runtime_cannot_push_a_kernel_past_the_peak() -> None:
    with pytest.raises(DeviceProfileError, match=r"cpu\.runtimes\.ncnn.*past the peak"):
        load_device("pi4", {"cpu.runtime": "ncnn", "cpu.runtimes.ncnn.depthwise": "1.5"})


def _ops(model: str, method: str):  # type: ignore[no-untyped-def]
    g = load_model(WORKLOADS / f"{model}.json")
    return {w.node: w for w in prepare(apply_method(g, method).graph if method != "baseline" else g).ops}


def _key(w) -> str:  # type: ignore[no-untyped-def]
    wdt = w.weight.dtype if w.weight else None
    return efficiency_key(w, compute_class(wdt, w.act_dtype), conv_buffers(w))


def test_kernel_classes_of_real_layers() -> None:
    wino = _ops("resnet18", "winograd-f4")
    assert _key(wino["layer1.0.conv1"]) == "winograd"  # 3x3 stride 1
    assert _key(wino["conv1"]) == "gemm"  # 7x7 stride 2: no Winograd
    assert _key(_ops("resnet18", "int8")["layer1.0.conv1"]) == "integer"
    mnv2 = _ops("mobilenet_v2", "baseline")
    assert _key(mnv2["features.1.conv.0.0"]) == "depthwise"
    assert _key(mnv2["features.1.conv.1"]) == "gemm"


def test_ncnn_is_slower_than_xnnpack_on_depthwise_networks() -> None:
    """The fitted factors say ncnn's depthwise layers are its weak point: MobileNetV2 slows down more than
    ResNet-50 (mostly 1x1 GEMMs) when the runtime switches (the published Pi 4 tables: ncnn 72.6 ms vs
    XNNPACK 46 ms on MobileNetV2)."""
    from hwsim.sim import simulate

    def ratio(model: str) -> float:
        g = load_model(WORKLOADS / f"{model}.json")
        x = simulate(g, load_device("pi4"), check_fit=False).seconds
        n = simulate(g, load_device("pi4", {"cpu.runtime": "ncnn"}), check_fit=False).seconds
        return n / x

    assert ratio("mobilenet_v2") > 1.5 * ratio("resnet50")


def test_a_sustained_fraction_scales_the_level_bandwidth() -> None:
    """``memory.<level>.sustained_fraction``: the share of the peak (pin-rate) bandwidth streaming
    kernels get; the Orin Nano profiles carry the fraction measured on the same SoC's LPDDR5."""
    peak = load_device("orin-nano", {"memory.dram.sustained_fraction": "1"})
    dev = load_device("orin-nano")
    assert peak.memory[-1].bandwidth_bytes_per_s == pytest.approx(68e9)
    assert dev.memory[-1].bandwidth_bytes_per_s == pytest.approx(68e9 * 0.746)
    with pytest.raises(DeviceProfileError, match="sustained_fraction"):
        load_device("orin-nano", {"memory.dram.sustained_fraction": "1.2"})
