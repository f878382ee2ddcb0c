"""Published figures of the structural and low-bit compression techniques, reproduced by hwsim's
passes and op counting. Figures and their sources: ``tests/golden/data/compression_figures.json``
(copied from the shared anchors, ids kept):

- Lavin & Gray, CVPR 2016: Winograd F(2x2,3x3) uses 16 multiplies per 2x2 tile against 36 (2.25x),
  F(4x4,3x3) 36 against 144 (4x), with 32 / 24 / 28 data / inverse / filter transform flops (F2);
- Howard et al., MobileNets 2017: depthwise-separable cost 1/N + 1/Dk^2 of a standard conv, the
  Table 3 single-layer example and the Table 6 width-multiplier rows;
- Rastegari et al., XNOR-Net 2016: 32x smaller weights for binarized layers;
- Li et al., Ternary Weight Networks 2016: threshold Delta = 0.7 E|W|;
- Kim et al., ICLR 2016: Tucker-2 compression D^2 S T / (S R3 + D^2 R3 R4 + T R4) and speedup
  D^2 S T H' W' / (S R3 H W + D^2 R3 R4 H' W' + T R4 H' W').
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from hwsim.compress.base import PASSES
from hwsim.frontends import load_model
from hwsim.ir import Node, OpGraph, TensorSpec, count_graph

import hwsim.compress.binary  # noqa: F401  (register the passes)
import hwsim.compress.compact  # noqa: F401
import hwsim.compress.conv_algorithms  # noqa: F401
import hwsim.compress.lowrank  # noqa: F401
from testutils import GOLDEN_DATA, WORKLOADS

FIG = json.loads((GOLDEN_DATA / "compression_figures.json").read_text())["figures"]


def _conv(c_in: int, c_out: int, k: int, hw: int, padding: int = 0, stride: int = 1) -> OpGraph:
    return OpGraph.build("layer", [TensorSpec("x", (1, c_in, hw, hw), role="input")], [
        Node("conv", "conv2d", ("x",), ("y",), {"out_channels": c_out, "kernel": k, "padding": padding,
                                                "stride": stride})], ["y"])


def _node(g: OpGraph, name: str):
    return next(n for n in count_graph(g).nodes if n.name == name)


@pytest.mark.parametrize("fig_id, algorithm, tile", [("wino.f2x2_3x3", "winograd_f2x2_3x3", 2),
                                                     ("wino.f4x4_3x3", "winograd_f4x4_3x3", 4)])
def test_lavin_gray_winograd_multiplies_per_tile(fig_id, algorithm, tile):
    fig = FIG[fig_id]["value"]
    one_tile = _conv(1, 1, 3, tile + 2)  # one output tile, one channel pair
    assert count_graph(one_tile).macs == fig["direct_mults"]
    wino = PASSES.get("conv_algorithm").run(one_tile, {"algorithm": algorithm}).graph
    assert count_graph(wino).macs == fig["winograd_mults"]
    layer = _conv(64, 64, 3, 56, padding=1)  # a ResNet stage-1 conv: 56 is a multiple of both tiles
    fast = PASSES.get("conv_algorithm").run(layer, {"algorithm": algorithm}).graph
    assert count_graph(layer).macs / count_graph(fast).macs == fig["reduction"], FIG[fig_id]["source"]


def test_lavin_gray_f2_transform_flops():
    fig = FIG["wino.f2x2_3x3"]["value"]
    g = PASSES.get("conv_algorithm").run(_conv(1, 1, 3, 4), {"algorithm": "winograd_f2x2_3x3"}).graph
    arith = count_graph(g).nodes[0].arith
    assert arith["add"] == fig["data_transform_adds"] + fig["inverse_transform_adds"]
    assert arith["transform_filter"] == fig["filter_transform_flops"]


@pytest.mark.parametrize("n, dk, stride", [(512, 3, 1), (64, 3, 2), (1024, 5, 1), (24, 7, 2)])
def test_mobilenet_depthwise_separable_cost_is_one_over_n_plus_one_over_dk2(n, dk, stride):
    g = _conv(32, n, dk, 28, padding=dk // 2, stride=stride)
    r = PASSES.get("depthwise_separable").run(g, {})
    assert Fraction(count_graph(r.graph).macs, count_graph(g).macs) == Fraction(1, n) + Fraction(1, dk * dk), \
        FIG["mnv1.dwsep_ratio"]["source"]


def test_mobilenet_table3_single_layer():
    fig = FIG["mnv1.table3_layer_example"]["value"]
    # DK = 3, M = N = 512, DF = 14, between a stem and a head so that the width multiplier may thin it
    g = OpGraph.build("t3", [TensorSpec("x", (1, 8, 14, 14), role="input")], [
        Node("stem", "conv2d", ("x",), ("a",), {"out_channels": 512, "kernel": 1}),
        Node("conv", "conv2d", ("a",), ("b",), {"out_channels": 512, "kernel": 3, "padding": 1}),
        Node("head", "conv2d", ("b",), ("y",), {"out_channels": 8, "kernel": 1})], ["y"])
    std = _node(g, "conv")
    assert (round(std.macs / 1e6), round(std.params / 1e6, 2)) == tuple(fig["standard conv"])
    dws = PASSES.get("depthwise_separable").run(g, {"layers": ["conv"]}).graph
    layer = [_node(dws, "conv.dw"), _node(dws, "conv")]
    macs, params = sum(n.macs for n in layer), sum(n.params for n in layer)
    assert (round(macs / 1e6, 1), round(params / 1e6, 2)) == tuple(fig["depthwise separable"])
    thin = PASSES.get("width_multiplier").run(dws, {"alpha": 0.75}).graph
    layer = [_node(thin, "conv.dw"), _node(thin, "conv")]
    macs, params = sum(n.macs for n in layer), sum(n.params for n in layer)
    assert (round(macs / 1e6, 1), round(params / 1e6, 2)) == tuple(fig["alpha=0.75"])


@pytest.mark.parametrize("alpha", ["0.75", "0.5", "0.25"])
def test_mobilenet_table6_width_multiplier(alpha):
    _, mult_adds_m, params_m = FIG["mnv1.table6_width"]["value"][alpha]
    g = load_model(WORKLOADS / "mobilenet_v1.json")
    c = count_graph(PASSES.get("width_multiplier").run(g, {"alpha": float(alpha)}).graph)
    # the paper rounds mult-adds to 1 M and parameters to 0.1 M
    assert abs(c.macs / 1e6 - mult_adds_m) < 0.6 and round(c.params / 1e6, 1) == params_m


def test_xnor_net_32x_smaller_binarized_weights():
    assert FIG["xnor.headline"]["value"]["memory_saving"].startswith("32x")
    g = load_model(WORKLOADS / "alexnet.json")  # cost-only: sizes by formula, held to the encoding in unit tests
    r = PASSES.get("binarize").run(g, {"mode": "xnor"})
    layers = [c.layer for c in r.changes]
    assert len(layers) == 6  # conv2..conv5, fc6, fc7: the first and last layers stay fp32
    fp32 = sum(g.tensor(g.node(n).params["weight"]).size_bits for n in layers)
    codes = sum(r.graph.tensor(r.graph.node(n).params["weight"]).numel for n in layers)
    stored = sum(r.graph.tensor(r.graph.node(n).params["weight"]).size_bits for n in layers)
    assert fp32 / codes == 32
    assert 31.5 < fp32 / stored < 32  # per-output-channel fp32 scales cost about 0.5% (9280 scales)


def test_twn_threshold_is_point_seven_mean_abs():
    factor = FIG["twn.threshold"]["value"]
    g = _conv(16, 32, 3, 8).materialize()
    r = PASSES.get("ternarize").run(g, {"keep_first_last": False})
    w = g.dense_weight("conv.weight").astype(np.float64)
    meta = r.graph.tensor("conv.weight").meta_dict()
    assert meta["threshold_factor"] == factor and meta["delta"] == pytest.approx(factor * np.abs(w).mean())
    assert r.graph.tensor("conv.weight").stored_bits == 2 * w.size + 32  # 2-bit codes + one fp32 scale


def test_kim_tucker2_compression_and_speedup_formulas():
    d, s, t, r3, r4, hw, stride = 3, 64, 128, 16, 32, 28, 2
    g = _conv(s, t, d, hw, padding=1, stride=stride)
    new = PASSES.get("tucker2").run(g, {"ranks": [r3, r4]}).graph
    factors = ["conv.tucker_in", "conv.tucker_core", "conv"]
    params = sum(_node(new, n).params for n in factors)
    macs = sum(_node(new, n).macs for n in factors)
    h2 = hw // stride
    compression = Fraction(d * d * s * t, s * r3 + d * d * r3 * r4 + t * r4)
    speedup = Fraction(d * d * s * t * h2 * h2, s * r3 * hw * hw + d * d * r3 * r4 * h2 * h2 + t * r4 * h2 * h2)
    assert Fraction(count_graph(g).params, params) == compression, FIG["lowrank.kim_formulas"]["source"]
    assert Fraction(count_graph(g).macs, macs) == speedup
