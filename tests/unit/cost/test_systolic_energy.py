"""Array GEMM energy on a systolic device: per operation by default, from the chip's rated busy power when the
profile gives one (``array.busy_power``; the Edge TPU's 2 W at 4 TOPS)."""

from __future__ import annotations

import pytest

from hwsim.cost.systolic_energy import busy_energy_pj, mac_energy_pj
from hwsim.errors import HwsimError
from hwsim.hardware import load_device
from hwsim.ir import INT8, Node, OpGraph, TensorSpec
from hwsim.sim import op_costs


def _conv(c: int = 32, k: int = 64, h: int = 28) -> OpGraph:
    return OpGraph.build("g", [TensorSpec("x", (1, c, h, h), INT8)],
                         [Node("conv", "conv2d", ("x",), ("y",),
                               {"out_channels": k, "kernel": 3, "stride": 1, "padding": 1})], ["y"])


def test_busy_power_charges_the_array_cycles_above_static() -> None:
    dev = load_device("coral-usb", {"array.busy_power": "2 W", "static_power": "0.3 W"})
    cost = op_costs(_conv(), dev)[0]
    cycles = cost.extra["array_cycles"]
    assert cycles > 0
    expected = (2.0 - 0.3) * cycles / dev.clock_hz * 1e12  # pJ
    vector = cost.energy_pj["compute"] - expected  # the bias adds on the vector unit, per operation
    assert 0 <= vector < 0.01 * expected
    assert cost.energy_pj["onchip"] == 0.0  # the rated power covers the SRAMs feeding the array
    assert any("busy power" in n for n in cost.notes)
    # twice the power above static, twice the array energy
    dev2 = load_device("coral-usb", {"array.busy_power": "3.7 W", "static_power": "0.3 W"})
    assert busy_energy_pj(dev2, cycles) == pytest.approx(2 * expected)


def test_without_busy_power_the_array_is_costed_per_operation() -> None:
    dev = load_device("systolic-32x32")
    assert dev.systolic is not None and dev.systolic.busy_power_w is None
    cost = op_costs(_conv(), dev)[0]
    assert busy_energy_pj(dev, 1000) is None
    assert cost.energy_pj["compute"] >= cost.ops["macs"] * mac_energy_pj(dev, "int8") > 0
    assert cost.energy_pj["onchip"] > 0
    assert not any("busy power" in n for n in cost.notes)


def test_busy_power_is_per_cycle_not_per_mac() -> None:
    """An under-filled array (8 filters on 64 columns) pays for the cycles it is clocked, not the MACs done."""
    dev = load_device("coral-usb")
    narrow, wide = op_costs(_conv(k=8), dev)[0], op_costs(_conv(k=64), dev)[0]
    assert wide.ops["macs"] == 8 * narrow.ops["macs"]
    assert narrow.extra["array_cycles"] == wide.extra["array_cycles"]  # one column fold either way
    assert narrow.energy_pj["compute"] == pytest.approx(wide.energy_pj["compute"], rel=0.01)


def test_busy_power_below_static_is_refused_naming_the_key() -> None:
    with pytest.raises(HwsimError, match="busy_power"):
        load_device("coral-usb", {"array.busy_power": "0.1 W"})
