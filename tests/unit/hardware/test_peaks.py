"""Derived peaks: every device has an fp32 roof for the fp32 baseline, or says why it has none."""

from __future__ import annotations

import pytest

from hwsim.hardware.loader import list_devices, load_device
from hwsim.hardware.peaks import FPGA_FLOAT_MAC, best_peak, no_native_path_note
from hwsim.pipeline.devices import device_peaks
from hwsim.report.report import _roof


@pytest.mark.parametrize("name", list_devices())
def test_fp32_roof_or_a_reason(name):
    dev = load_device(name)
    peak, note = best_peak(dev, "fp32"), no_native_path_note(dev, "fp32")
    assert (peak is None) != (note is None)
    roof = _roof(device_peaks(dev), dev.kind)
    assert roof is not None
    if peak is not None:
        assert roof[2] == "fp32 peak" and roof[0] == peak.ops_per_s
    else:
        assert dev.kind == "systolic" and "int8" in note and roof[2] == "int8 peak"


def test_fpga_fp32_peak_is_the_float_lanes_the_part_holds():
    dev = load_device("fpga-small")  # XC7Z020: 220 DSP48E1, 53,200 LUTs, 100 MHz
    dsp, lut, _ = FPGA_FLOAT_MAC["fp32"]
    lanes = min(220 // dsp, 53200 // lut)  # 73: DSP-bound
    assert lanes == 73
    assert best_peak(dev, "fp32").ops_per_s == pytest.approx(2 * lanes * 100e6)
    # below the int8 DSP peak (one int8 MAC per DSP), as a float MAC needs three DSPs
    assert best_peak(dev, "fp32").ops_per_s < best_peak(dev, "int8").ops_per_s


def test_systolic_array_says_it_has_no_fp32_path():
    peaks = device_peaks(load_device("systolic-32x32"))
    assert "fp32" not in peaks["ops_per_s"]
    assert "no fp32 path" in peaks["no_path"]["fp32"]
