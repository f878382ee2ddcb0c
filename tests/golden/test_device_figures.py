"""Device profile peaks against published figures (tests/golden/data/device_anchors.json, copied from
the shared anchors with their sources), and XNOR-Net's storage headline.

Sources: pigirons/cpufp measured peaks (cpu.a53_peak, cpu.a72_pi4_peak), Jetson Nano and Orin Nano
datasheet tables (jetson.*), Xilinx utilization reports (fpga.*), coral.ai (coral.edgetpu), Horowitz
ISSCC 2014 energy (energy.horowitz_*), Rastegari et al. ECCV 2016 (xnor.headline).
"""

from __future__ import annotations

import json

import pytest
from devicegraphs import xnor_conv_graph
from testutils import GOLDEN_DATA

from hwsim.hardware import load_device
from hwsim.hardware.peaks import best_peak
from hwsim.ir.counting import count_graph

FIG = json.loads((GOLDEN_DATA / "device_anchors.json").read_text())["figures"]


def value(fid: str) -> dict:
    return FIG[fid]["value"]


def test_a53_fp32_peak_matches_cpufp() -> None:
    p = best_peak(load_device("cpu-a53"), "fp32")
    assert p is not None
    assert p.ops_per_s / 1e9 == pytest.approx(value("cpu.a53_peak")["4_core_fp32"], rel=0.01)


def test_a72_fp32_peak_matches_cpufp_on_pi4() -> None:
    d = load_device("cpu-a72")
    p = best_peak(d, "fp32")
    assert p is not None
    assert p.ops_per_s / 1e9 == pytest.approx(value("cpu.a72_pi4_peak")["4_core_fp32"], rel=0.01)
    assert d.clock_hz == pytest.approx(1.5e9)  # rpi4.spec
    assert d.static_power_w == pytest.approx(value("rpi4.power")["idle"])


def test_jetson_nano_fp16_peak_and_memory() -> None:
    d = load_device("gpu-jetson-nano")
    p = best_peak(d, "fp16")
    assert p is not None and p.ops_per_s / 1e9 == pytest.approx(472, rel=0.01)  # "472 GFLOPS (FP16)"
    assert d.dram.bandwidth_bytes_per_s == pytest.approx(25.6e9)
    assert d.gpu is not None and d.gpu.cuda_cores == 128
    assert d.level("l2").size_bytes == value("jetson.nano")["L2_KB"] * 1024


def test_orin_nano_sparse_int8_marketing_figure() -> None:
    """40 TOPS is a 2:4-sparse int8 figure: twice the dense tensor-core peak."""
    d = load_device("gpu-orin-nano")
    p = best_peak(d, "int8")
    assert p is not None and 2 * p.ops_per_s / 1e12 == pytest.approx(40, rel=0.05)
    assert d.dram.bandwidth_bytes_per_s == pytest.approx(68e9)
    assert d.gpu is not None and (d.gpu.cuda_cores, d.gpu.tensor_cores) == (1024, 32)


def test_fpga_resources_match_the_parts() -> None:
    s = load_device("fpga-small").fpga
    z = value("fpga.xc7z020")
    assert s is not None and (s.lut, s.ff, s.dsp, s.bram36) == (z["LUT"], z["FF"], z["DSP48E1"], z["BRAM36"])
    assert s.bram18 == z["BRAM18"]
    big = load_device("fpga-large").fpga
    u = value("fpga.zu9eg")
    assert big is not None and (big.ff, big.dsp, big.bram36) == (u["FF"], u["DSP48E2"], u["BRAM36"])
    assert big.lut == 274080


def test_systolic_array_is_a_quarter_of_an_edge_tpu() -> None:
    """coral.edgetpu: 4 TOPS int8. A 32x32 array at the same clock as a 64x64 one gives a quarter."""
    p = best_peak(load_device("systolic-32x32"), "int8")
    assert p is not None and p.ops_per_s * 4 / 1e12 == pytest.approx(4.0, rel=0.05)


def test_default_energy_is_horowitz_at_45nm() -> None:
    d = load_device("cpu-a53", {"process_node": "45 nm"})
    fp, it = value("energy.horowitz_fp"), value("energy.horowitz_int")
    assert d.energy.mac_pj["fp32"] == pytest.approx(fp["fp32_mult"] + fp["fp32_add"])
    assert d.energy.mac_pj["fp16"] == pytest.approx(fp["fp16_mult"] + fp["fp16_add"])
    assert d.energy.mac_pj["int8"] == pytest.approx(it["int8_mult"] + it["int32_add"])
    assert d.energy.op_pj["add"] == pytest.approx(fp["fp32_add"])


def test_binary_weights_are_32x_smaller_than_fp32() -> None:
    """xnor.headline: ~32x memory saving for binarized layers (from dtype BINARY, 1 bit per weight)."""
    fp = count_graph(xnor_conv_graph(binary=False)).weight_bytes
    b = count_graph(xnor_conv_graph(binary=True)).weight_bytes
    assert fp / b == pytest.approx(32.0)
    assert "32x" in value("xnor.headline")["memory_saving"]
