"""The systolic-array cost model: SCALE-Sim's fold arithmetic on hand-checked cases, dataflow choice
from the profile, the roofline, and conv/linear/matmul lowering."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim.cost.systolic_math import Gemm, map_gemm, spatio_temporal, sram_traffic
from hwsim.hardware import load_device
from hwsim.ir import INT8, Node, OpGraph, TensorSpec
from hwsim.sim import op_costs


def conv_graph(h: int = 16, c: int = 8, k: int = 16, kernel: int = 3, stride: int = 1, groups: int = 1) -> OpGraph:
    return OpGraph.build("g", [TensorSpec("x", (1, c, h, h))],
                         [Node("conv", "conv2d", ("x",), ("y",),
                               {"out_channels": k, "kernel": kernel, "stride": stride, "padding": kernel // 2,
                                "groups": groups})], ["y"])


def test_spatio_temporal_dims_follow_scalesim() -> None:
    g = Gemm(pixels=100, filters=16, window=72)
    assert spatio_temporal(g, "os") == (100, 16, 72)
    assert spatio_temporal(g, "ws") == (72, 16, 100)
    assert spatio_temporal(g, "is") == (72, 100, 16)


def test_fold_cycles_hand_checked() -> None:
    # 4x4 array, os: Sr=10 -> 3 row folds, Sc=5 -> 2 col folds; fold = T + R + C - 2 = 7 + 6 = 13
    m = map_gemm(Gemm(10, 5, 7), 4, 4, "os")
    assert (m.row_folds, m.col_folds, m.cycles_per_fold) == (3, 2, 13)
    assert m.compute_cycles == 6 * 13 - 1
    # ws: Sr = window 7 -> 2 folds, Sc = 5 -> 2; fold = 2R + C + T - 2 = 8 + 4 + 10 - 2 = 20
    m = map_gemm(Gemm(10, 5, 7), 4, 4, "ws")
    assert (m.row_folds, m.col_folds, m.cycles_per_fold, m.compute_cycles) == (2, 2, 20, 79)
    # mapping efficiency: used PE slots / offered
    assert m.mapping_efficiency == pytest.approx(7 * 5 / (4 * 16))


def test_repeats_multiply_cycles() -> None:
    one = map_gemm(Gemm(49, 1, 9), 8, 8, "os").compute_cycles
    assert map_gemm(Gemm(49, 1, 9, repeats=32), 8, 8, "os").compute_cycles == 32 * one


def test_os_traffic_rereads_streamed_operands_per_fold() -> None:
    g = Gemm(64, 64, 27)
    m = map_gemm(g, 32, 32, "os")
    t = sram_traffic(g, m)
    assert t.ifmap == 64 * 27 * m.col_folds and t.filter == 64 * 27 * m.row_folds and t.ofmap == 64 * 64


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500), st.integers(1, 300), st.integers(1, 600), st.sampled_from(["os", "ws", "is"]),
       st.sampled_from([(8, 8), (32, 32), (16, 64)]))
def test_cycles_never_beat_the_array_peak(pixels: int, filters: int, window: int, df: str, arr: tuple[int, int]) -> None:
    g = Gemm(pixels, filters, window)
    m = map_gemm(g, arr[0], arr[1], df)  # type: ignore[arg-type]
    assert m.compute_cycles >= math.ceil(g.macs / (arr[0] * arr[1])) - 1
    assert 0 < m.mapping_efficiency <= 1


def test_profile_dataflow_and_override_change_cycles() -> None:
    g = conv_graph(h=28, c=64, k=64)
    os_ = op_costs(g, load_device("systolic-32x32", {"array.dataflow": "os"}))[0]
    ws = op_costs(g, load_device("systolic-32x32", {"array.dataflow": "ws"}))[0]
    # os: 28*28 = 784 pixels -> 25 row folds x 2 col folds, T = 576
    assert os_.extra["array_cycles"] == 25 * 2 * (576 + 62) - 1
    # ws: window 576 -> 18 row folds, 2 col folds, T = 784
    assert ws.extra["array_cycles"] == 18 * 2 * (64 + 32 + 784 - 2) - 1
    assert os_.unit.endswith("-os") and ws.unit.endswith("-ws")


def test_depthwise_conv_runs_one_gemm_per_channel_in_scalesim_mode() -> None:
    g = conv_graph(h=14, c=32, k=32, groups=32)
    c = op_costs(g, load_device("systolic-32x32", {"array.model_params.depthwise": "per_group"}))[0]
    per = map_gemm(Gemm(14 * 14, 1, 9), 32, 32, "os").compute_cycles
    assert c.extra["array_cycles"] == 32 * per
    assert c.extra["mapping_efficiency"] < 0.05  # one filter column of 32 used


def test_depthwise_conv_is_channel_parallel_by_default() -> None:
    """Channels across the columns, pixels down the rows, the 3x3 window through time: one GEMM."""
    g = conv_graph(h=14, c=32, k=32, groups=32)
    c = op_costs(g, load_device("systolic-32x32"))[0]
    assert c.extra["array_cycles"] == map_gemm(Gemm(14 * 14, 32, 9), 32, 32, "os").compute_cycles
    slow = op_costs(g, load_device("systolic-32x32", {"array.model_params.depthwise": "per_group"}))[0]
    assert c.compute_cycles * 10 < slow.compute_cycles


def test_fused_batchnorm_and_activation_move_no_data_unless_switched_off() -> None:
    from hwsim.ir import Node, OpGraph, TensorSpec
    from hwsim.ir.dtypes import dtype
    nodes = [Node("c", "conv2d", ("x",), ("a",), {"out_channels": 16, "kernel": 3, "padding": 1}),
             Node("bn", "batchnorm", ("a",), ("b",)), Node("r", "relu", ("b",), ("y",))]
    g = OpGraph.build("cbr", [TensorSpec("x", (1, 8, 16, 16), dtype("fp32"), "input")], nodes, ["y"])
    fused = {c.node: c for c in op_costs(g, load_device("systolic-32x32"))}
    assert all(sum(fused[n].transfer_bytes.values()) == 0 for n in ("bn", "r"))
    assert fused["r"].extra["fused_into"] in ("c", "bn")
    off = {c.node: c for c in op_costs(g, load_device("systolic-32x32", {
        "array.model_params.fuse_batchnorm": "false", "array.model_params.fuse_activation": "false"}))}
    assert all(sum(off[n].transfer_bytes.values()) > 0 for n in ("bn", "r"))


def test_linear_and_roofline_on_the_array() -> None:
    g = OpGraph.build("fc", [TensorSpec("x", (1, 512))],
                      [Node("fc", "linear", ("x",), ("y",), {"out_features": 1000})], ["y"])
    dev = load_device("systolic-32x32")
    c = op_costs(g, dev)[0]
    assert c.extra["array_cycles"] == 1 * 32 * (512 + 62) - 1
    assert c.lower_bound_cycles >= c.compute_cycles
    dram = dev.dram
    assert c.transfer_cycles["dram"] >= math.ceil(512 * 1000 * 4 * dev.clock_hz / dram.bandwidth_bytes_per_s)
    assert any("fp32" in n for n in c.notes)  # the array has no fp32 rate: said, not hidden


def test_int8_rate_and_vector_ops() -> None:
    g = OpGraph.build("g", [TensorSpec("x", (1, 8, 8, 8))],
                      [Node("conv", "conv2d", ("x",), ("c",), {"out_channels": 8, "kernel": 1}),
                       Node("relu", "relu", ("c",), ("r",)), Node("flat", "flatten", ("r",), ("y",))], ["y"])
    int8 = g.with_specs({"x": g.tensor("x").with_(dtype=INT8), "conv.weight": g.tensor("conv.weight").with_(dtype=INT8)})
    costs = op_costs(int8, load_device("systolic-32x32"))
    assert costs[0].notes == ()
    assert costs[1].unit == "vector" and costs[1].compute_cycles == math.ceil(8 * 64 / 32)
    assert costs[2].compute_cycles == 0 and sum(costs[2].transfer_bytes.values()) == 0
