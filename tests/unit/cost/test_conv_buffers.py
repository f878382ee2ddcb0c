"""Winograd / FFT / im2col buffers in the shared CPU/GPU cost framework: transformed filters held in
memory, per-inference workspace traffic where the workspace does not fit inside a level, and the
transform arithmetic that is (FFT, data/inverse transforms) or is not (Winograd's kept filter
transform) per-inference work. Sizes come from the ``conv_algorithm`` pass's weight meta."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

import hwsim.compress.conv_algorithms  # noqa: F401  (registers the pass)
from hwsim.compress.base import PASSES
from hwsim.cost.common import conv_buffers, workspace_level_bytes
from hwsim.cost.memory import footprint
from hwsim.cost.registry import cost_model
from hwsim.cost.work import prepare
from hwsim.hardware import load_device
from hwsim.ir import Node, OpGraph, TensorSpec

CPU = load_device("cpu-a53")  # l1 16 KiB usable, l2 256 KiB usable
GPU = load_device("gpu-jetson-nano")


def _conv(c: int, hw: int, k: int, algorithm: str | None) -> OpGraph:
    g = OpGraph.build("one", [TensorSpec("x", (1, c, hw, hw), role="input")],
                      [Node("conv", "conv2d", ("x",), ("y",), {"out_channels": k, "kernel": 3, "padding": 1})], ["y"])
    return PASSES.get("conv_algorithm").run(g, {"algorithm": algorithm}).graph if algorithm else g


def _work(c, hw, k, algorithm):
    return prepare(_conv(c, hw, k, algorithm)).ops[0]


def _cost(work, device):
    return cost_model(device.kind).cost_op(work, device)


def _without_buffers(work):
    """The same op with the pass's buffer meta removed (what the cost model saw before)."""
    return replace(work, weight=replace(work.weight, meta={"conv_algorithm": work.weight.meta["conv_algorithm"]}))


def test_buffer_sizes_come_from_the_pass_meta():
    w = _work(64, 56, 64, "winograd_f2x2_3x3")
    b = conv_buffers(w)
    tiles = 28 * 28  # 56x56 outputs in 2x2 tiles
    assert b.filter_kept and b.filter_bytes == 16 * 64 * 64 * 4  # U: 4x4 per channel pair, fp32
    assert b.workspace_bytes == (tiles * 64 * 16 + tiles * 64 * 16) * 4  # V and M
    f4 = conv_buffers(_work(64, 56, 64, "winograd_f4x4_3x3"))
    assert f4.filter_bytes == 36 * 64 * 64 * 4 and f4.workspace_bytes == 14 * 14 * (64 + 64) * 36 * 4
    fft = conv_buffers(_work(64, 56, 64, "fft"))
    bins = 60 * (60 // 2 + 1)  # (56 + 2 pad + 3 - 1)^2 grid, Hermitian half
    assert not fft.filter_kept and fft.filter_bytes == 2 * bins * 64 * 64 * 4
    assert fft.workspace_bytes == 2 * bins * (64 + 64 + 64 * 64) * 4  # spectra of inputs, outputs, filters
    assert conv_buffers(_work(64, 56, 64, "im2col")).workspace_bytes == 56 * 56 * 64 * 9 * 4
    assert conv_buffers(_work(64, 56, 64, None)) is None  # direct: no buffers


@pytest.mark.parametrize("device", [CPU, GPU], ids=["cpu", "gpu"])
@pytest.mark.parametrize("algorithm", ["winograd_f2x2_3x3", "winograd_f4x4_3x3", "fft", "im2col"])
def test_workspace_crosses_every_level_it_does_not_fit_inside_twice(device, algorithm):
    w = _work(64, 28, 64, algorithm)
    ws = conv_buffers(w).workspace_bytes
    with_buf, without = _cost(w, device), _cost(_without_buffers(w), device)
    inner = cost_model(device.kind).innermost_capacity(device)
    for lv in device.memory:
        extra = with_buf.transfer_bytes[lv.name] - without.transfer_bytes[lv.name]
        assert extra == pytest.approx(2 * ws if ws > inner else 0, abs=1)
        inner = lv.usable_bytes
    assert with_buf.energy_pj["onchip"] > without.energy_pj["onchip"]


def test_a_workspace_that_fits_l2_stays_on_chip():
    w = _work(16, 8, 16, "winograd_f2x2_3x3")  # 16 tiles: V + M = 2 x 16 x 16 x 16 x 4 B = 32 KiB
    ws = conv_buffers(w).workspace_bytes
    assert 16 * 1024 < ws < 256 * 1024
    extra = workspace_level_bytes(CPU, 1024, conv_buffers(w))
    assert extra == {"l1": 2 * ws, "l2": 2 * ws, "dram": 0.0}  # crosses l1 and l2 (L1 is too small), not DRAM
    c = _cost(w, CPU)
    assert c.transfer_bytes["dram"] == _cost(_without_buffers(w), CPU).transfer_bytes["dram"]
    big = _work(64, 56, 64, "winograd_f2x2_3x3")  # 6 MiB of workspace: spills to DRAM
    assert _cost(big, CPU).transfer_bytes["dram"] - _cost(_without_buffers(big), CPU).transfer_bytes["dram"] == \
        2 * conv_buffers(big).workspace_bytes


def test_winograd_f4_moves_more_on_chip_bytes_than_f2_where_its_transformed_filters_overflow_l2():
    """512 -> 512 channels at 7x7 (ResNet's last stage): U is 16 MiB for F(2x2,3x3) and 36 MiB for
    F(4x4,3x3), far beyond L2, so the larger transform is re-streamed more; F(4x4,3x3) still does 2.1x
    fewer multiplies. On 56x56x64 the opposite holds: F(2x2,3x3)'s larger workspace moves more."""
    f2, f4 = (_cost(_work(512, 7, 512, a), CPU) for a in ("winograd_f2x2_3x3", "winograd_f4x4_3x3"))
    on_chip = lambda c: c.transfer_bytes["l1"] + c.transfer_bytes["l2"]  # noqa: E731
    assert on_chip(f4) > on_chip(f2) and f4.transfer_bytes["dram"] > 2 * f2.transfer_bytes["dram"]
    assert f4.ops["mac"] < f2.ops["mac"]
    s2, s4 = (_cost(_work(64, 56, 64, a), CPU) for a in ("winograd_f2x2_3x3", "winograd_f4x4_3x3"))
    assert on_chip(s2) > on_chip(s4)


def test_transform_arithmetic_per_inference():
    w2 = _work(64, 28, 64, "winograd_f2x2_3x3")
    assert w2.arith["transform_filter"] > 0  # the IR counts it ...
    c2 = _cost(w2, CPU)
    assert "transform_filter" not in c2.ops and c2.ops["add"] == w2.arith["add"]  # ... U is kept: load-time work
    assert any("filter transformed once at load" in n for n in c2.notes)
    plain = _cost(replace(w2, weight=replace(w2.weight, meta={})), CPU)  # no buffer meta: counted as given
    assert plain.ops["transform_filter"] == w2.arith["transform_filter"]
    assert c2.compute_cycles < plain.compute_cycles
    fft = _work(64, 28, 64, "fft")
    cf = _cost(fft, CPU)
    assert cf.ops["fft"] == fft.arith["fft"] > 0  # FFT transforms filters on every call: charged


def test_footprint_holds_transformed_filters_and_the_largest_workspace():
    g = _conv(64, 56, 64, "winograd_f4x4_3x3")
    wl = prepare(g)
    b = conv_buffers(wl.ops[0])
    fp, base = footprint(wl, CPU), footprint(prepare(_conv(64, 56, 64, None)), CPU)
    assert fp.workspace_bytes == b.workspace_bytes
    assert fp.runtime_weight_bytes == base.runtime_weight_bytes - 64 * 64 * 9 * 4 + b.filter_bytes
    assert fp.total_bytes == fp.runtime_weight_bytes + fp.peak_activation_bytes + fp.workspace_bytes
    assert fp.weight_bytes == base.weight_bytes  # at rest: the 3x3 filters
    assert math.isclose(b.filter_bytes / (64 * 64 * 9 * 4), 4.0)  # U is (6/3)^2 = 4x the 3x3 filters
