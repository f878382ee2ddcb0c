"""hwsim calibrate: the parsers of machine facts, the profile it writes (valid, every number traced),
the command's errors; plus the host latency check on a tiny model when onnxruntime is installed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from testutils import LENET5_DOC

from hwsim.analysis import calibrate as cal
from hwsim.cli import main
from hwsim.hardware import load_device

CPUINFO = """processor\t: 0
model name\t: Example CPU 9000
cpu MHz\t\t: 2400.000
processor\t: 1
model name\t: Example CPU 9000
cpu MHz\t\t: 2600.500
"""


def synthetic() -> cal.Calibration:
    return cal.Calibration(
        cpu_model="Example CPU 9000", clock_hz=2.5e9, clock_source="test", cores=2, memory_bytes=8 * 1024**3,
        caches=(cal.CacheLevel(1, 32 * 1024, 2), cal.CacheLevel(2, 1024**2, 2), cal.CacheLevel(3, 16 * 1024**2, 1)),
        gemm=(cal.GemmPoint("fp32", 64, 64**3 / 10e9), cal.GemmPoint("fp32", 512, 512**3 / 40e9),
              cal.GemmPoint("fp64", 512, 512**3 / 20e9),
              *(cal.GemmPoint("int8", 64, 64 * 64 * 64 / r, 1, (64, 64, 64)) for r in (50e9, 60e9, 90e9)),
              *(cal.GemmPoint(cal.ENGINE_FP32, 64, 64 * 64 * 64 / r, 1, (64, 64, 64)) for r in (25e9, 30e9, 30e9))),
        copies=(cal.CopyPoint(8 * 1024, 8 * 1024 * 2 / 10e9), cal.CopyPoint(256 * 1024, 256 * 1024 * 2 / 50e9),
                cal.CopyPoint(4 * 1024**2, 4 * 1024**2 * 2 / 30e9), cal.CopyPoint(128 * 1024**2, 128 * 1024**2 * 2 / 8e9)),
        vector_elems_per_s={"add": 5e9, "mul": 5e9, "cmp": 5e9, "div": 2e9, "sqrt": 1e9, "exp": 1e9, "move": 8e9},
        popcount_words_per_s=1e9, overhead_s=2e-6, date="2026-01-01", software="test",
        notes=("int8 GEMM: onnxruntime 9.9",),
    )


def test_parsers_of_machine_facts() -> None:
    assert cal.cpu_model(CPUINFO) == "Example CPU 9000"
    hz, src = cal.cpu_clock(CPUINFO)
    assert "cpuinfo" in src or "cpufreq" in src
    if "cpuinfo" in src:
        assert hz == pytest.approx(2600.5e6)
    assert cal._parse_size("32K") == 32 * 1024 and cal._parse_size("1M") == 1024**2
    assert cal._count_cpus("0-3,8,10-11") == 7


def test_profile_is_valid_and_traces_every_number(tmp_path: Path) -> None:
    c = synthetic()
    path = tmp_path / "host.yaml"
    text = cal.write_profile(c, path)
    dev = load_device(path)
    assert dev.kind == "cpu" and dev.cpu is not None and dev.cpu.cores == 2
    # fp32: best GEMM 40 GMAC/s over 2 cores at 2.5 GHz = 8 MACs per cycle per core
    assert dev.cpu.macs_per_cycle_per_core["fp32"] == pytest.approx(8.0, rel=1e-5)
    # int8: median of the engine's one-thread int8 GEMMs (60 GMAC/s) / 2.5 GHz, per core
    assert dev.cpu.macs_per_cycle_per_core["int8"] == pytest.approx(24.0, rel=1e-5)
    assert "2.00x the same engine's fp32 MatMul" in text
    assert "fp16" not in dev.cpu.macs_per_cycle_per_core  # NumPy's emulated fp16 is not a measurement
    assert dev.cpu.op_overhead_s == pytest.approx(2e-6, rel=1e-3)
    names = [lv.name for lv in dev.memory]
    assert names == ["l1", "l2", "l3", "dram"]
    bw = {lv.name: lv.bandwidth_bytes_per_s for lv in dev.memory}
    # L1's tiny copies are overhead-bound (10 GB/s): raised to L2's per-core 50 GB/s, x 2 instances
    assert bw["l1"] == pytest.approx(100e9, rel=1e-3) and bw["l2"] == pytest.approx(100e9, rel=1e-3)
    assert bw["l3"] == pytest.approx(30e9, rel=1e-3) and bw["dram"] == pytest.approx(8e9, rel=1e-3)
    assert dev.level("l1").instances == 2
    for line in text.splitlines():  # every value line says where it comes from
        if line.strip() and not line.lstrip().startswith("#") and ":" in line and not line.rstrip().endswith(":"):
            key = line.split(":")[0].strip()
            if key not in ("kind", "description", "cores", "word_bits", "on_chip", "instances"):
                assert "#" in line, line
    assert "Example CPU 9000" in text and "2026-01-01" in text


def test_fp32_rate_is_the_conv_shaped_median(tmp_path: Path) -> None:
    from dataclasses import replace

    c = synthetic()
    convs = tuple(cal.GemmPoint("fp32", n, m * k * n / r, 1, (m, k, n))
                  for (m, k, n), r in zip(cal.CONV_SHAPES[:3], (10e9, 12e9, 30e9)))
    c = replace(c, gemm=c.gemm + convs)
    assert c.conv_gemm_rate() == pytest.approx(12e9)
    cal.write_profile(c, tmp_path / "h.yaml")
    dev = load_device(tmp_path / "h.yaml")
    assert dev.cpu.macs_per_cycle_per_core["fp32"] == pytest.approx(12e9 / 2.5e9, rel=1e-5)


def test_calibrate_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    def fake_measure(quick=False, seed=0, progress=None):
        for name, weight in cal.STEPS:
            progress(name, weight)
        return synthetic()

    monkeypatch.setattr(cal, "measure", fake_measure)
    out = tmp_path / "host.yaml"
    with pytest.raises(SystemExit) as e:
        main(["calibrate", "-o", str(out)])
    assert e.value.code == 0 and out.is_file()
    captured = capsys.readouterr()
    assert "Example CPU 9000" in captured.out
    assert all(f"hwsim calibrate: {name} ..." in captured.err for name, _ in cal.STEPS)  # progress, step by step
    with pytest.raises(SystemExit) as e:
        main(["calibrate", "-o", str(tmp_path / "host.txt")])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["calibrate", "-o", str(tmp_path / "missing" / "host.yaml")])
    assert e.value.code == 2


def test_quick_measurement_is_sane() -> None:
    c = cal.measure(quick=True)
    assert c.cores >= 1 and c.clock_hz > 0
    assert all(p.macs_per_s > 0 and math.isfinite(p.macs_per_s) for p in c.gemm)
    assert all(v > 0 for v in c.vector_elems_per_s.values())
    assert c.copies and all(p.bytes_per_s > 0 for p in c.copies)


def test_host_check_on_a_tiny_model(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from hwsim.analysis.host_check import check, mean_abs_error
    from hwsim.frontends.model_json import parse_model

    path = tmp_path / "host.yaml"
    cal.write_profile(synthetic(), path)
    c = check(parse_model(LENET5_DOC), load_device(path), runs=3)
    assert c.threads == 2 and c.measured_s > 0 and c.predicted_s > 0
    assert c.measured_s <= c.measured_median_s
    assert mean_abs_error([c]) == pytest.approx(abs(c.error))


def test_runtime_graph_fuses_bn_and_relu_into_the_conv() -> None:
    from hwsim.analysis.host_check import runtime_graph
    from hwsim.ir import Node, OpGraph, TensorSpec

    g = OpGraph.build("g", [TensorSpec("x", (1, 3, 8, 8))], [
        Node("conv", "conv2d", ("x",), ("c",), {"out_channels": 4, "kernel": 3, "padding": 1}),
        Node("bn", "batchnorm", ("c",), ("b",)), Node("relu", "relu", ("b",), ("r",)),
        Node("pool", "maxpool", ("r",), ("p",), {"kernel": 2}),
        Node("relu2", "relu", ("p",), ("y",)),  # not after a conv: stays
    ], ["y"])
    r = runtime_graph(g)
    assert [n.name for n in r.nodes] == ["conv", "pool", "relu2"]
    assert r.node("pool").inputs == ("c",) and r.tensor("y").shape == g.tensor("y").shape
    branchy = OpGraph.build("b", [TensorSpec("x", (1, 3, 8, 8))], [
        Node("conv", "conv2d", ("x",), ("c",), {"out_channels": 3, "kernel": 1}),
        Node("relu", "relu", ("c",), ("r",)), Node("add", "add", ("r", "c"), ("y",))], ["y"])
    assert runtime_graph(branchy) is branchy  # c has two readers: nothing fuses


def test_int8_without_an_engine_is_marked_unavailable_not_extrapolated(tmp_path: Path) -> None:
    from dataclasses import replace

    c = replace(synthetic(), gemm=tuple(p for p in synthetic().gemm if p.dtype in ("fp32", "fp64")),
                notes=("int8 GEMM: onnxruntime is not installed",))
    text = cal.write_profile(c, tmp_path / "h.yaml")
    dev = load_device(tmp_path / "h.yaml")
    assert "int8" not in dev.cpu.macs_per_cycle_per_core
    assert "# int8: unavailable (onnxruntime is not installed)" in text


def test_int8_gemm_is_timed_in_onnxruntime() -> None:
    pytest.importorskip("onnxruntime")
    pts, note = cal.measure_engine_gemms(((49, 64, 32),), 0.005)
    assert note.startswith("onnxruntime") and {p.dtype for p in pts} == {"int8", cal.ENGINE_FP32}
    assert all(p.shape == (49, 64, 32) and p.threads == 1 and p.macs_per_s > 0 for p in pts)


def test_calibrate_writes_to_the_user_profiles_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cal, "measure", lambda quick=False, seed=0, progress=None: synthetic())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(SystemExit) as e:
        main(["calibrate"])
    assert e.value.code == 0
    written = tmp_path / "config" / "hwsim" / "devices" / "host.yaml"
    assert written.is_file()
    assert load_device("host").source == str(written)  # found by name, before the shipped profiles
