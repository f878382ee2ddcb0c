"""conv_algorithm: algorithm marks, the op counting they drive (Winograd, FFT), eligibility and the
buffer meta cost models read."""

from __future__ import annotations

import math

import pytest

from hwsim.compress.base import PASSES
from hwsim.compress.conv_algorithms import buffer_meta, ineligible
from hwsim.errors import CompressionError
from hwsim.ir import Node, OpGraph, TensorSpec, count_graph

import hwsim.compress.conv_algorithms  # noqa: F401  (registers the pass)


def _net(hw: int = 16) -> OpGraph:
    return OpGraph.build("n", [TensorSpec("x", (2, 8, hw, hw), role="input")], [
        Node("c3", "conv2d", ("x",), ("a",), {"out_channels": 16, "kernel": 3, "padding": 1, "bias": True}),
        Node("s2", "conv2d", ("a",), ("b",), {"out_channels": 16, "kernel": 3, "padding": 1, "stride": 2}),
        Node("pw", "conv2d", ("b",), ("c",), {"out_channels": 8, "kernel": 1}),
        Node("dw", "conv2d", ("c",), ("d",), {"out_channels": 8, "kernel": 3, "padding": 1, "groups": 8}),
        Node("c5", "conv2d", ("d",), ("e",), {"out_channels": 4, "kernel": 5, "padding": 2})], ["e"])


def _macs(g: OpGraph, name: str) -> int:
    return next(n.macs for n in count_graph(g).nodes if n.name == name)


@pytest.mark.parametrize("algorithm, m, reduction", [("winograd_f2x2_3x3", 2, 2.25), ("winograd_f4x4_3x3", 4, 4.0)])
def test_winograd_multiply_reduction_on_tile_multiples(algorithm, m, reduction):
    g = _net(16)  # 16 x 16 outputs: a multiple of both tiles
    r = PASSES.get("conv_algorithm").run(g, {"algorithm": algorithm, "layers": ["c3"]})
    new = r.graph
    assert new.node("c3").attrs["algorithm"] == algorithm
    assert _macs(g, "c3") / _macs(new, "c3") == reduction
    a = m + 2
    tiles = 2 * (16 // m) ** 2
    counts = next(n for n in count_graph(new).nodes if n.name == "c3")
    data, inverse, filt = {2: (32, 24, 28), 4: (156, 100, 72)}[m]  # Lavin & Gray's transform flops
    assert counts.arith["add"] == tiles * 8 * data + tiles * 16 * inverse + 2 * 16 * 16 * 16  # + bias adds
    assert counts.arith["transform_filter"] == 16 * 8 * filt
    meta = new.tensor("c3.weight").meta_dict()
    assert meta["conv_algorithm"] == algorithm and (meta["conv_tile_output"], meta["conv_tile_input"]) == (m, a)
    assert meta["conv_transformed_filter_elems"] == a * a * 16 * 8
    assert meta["conv_workspace_elems"] == tiles * (8 + 16) * a * a
    assert r.changes[0].details["mult_reduction"] == reduction


def test_partial_tiles_are_counted_whole():
    g = _net(15)
    r = PASSES.get("conv_algorithm").run(g, {"algorithm": "winograd_f4x4_3x3", "layers": ["c3"]})
    assert _macs(r.graph, "c3") == 2 * math.ceil(15 / 4) ** 2 * 16 * 8 * 36


def test_ineligible_convs_keep_their_algorithm_or_take_the_fallback():
    g = _net()
    r = PASSES.get("conv_algorithm").run(g, {"algorithm": "winograd_f2x2_3x3"})
    algo = {n.name: n.attrs["algorithm"] for n in r.graph.nodes}
    assert algo == {"c3": "winograd_f2x2_3x3", "s2": "direct", "pw": "direct", "dw": "direct", "c5": "direct"}
    reasons = {c.layer: c.details.get("reason") for c in r.changes}
    assert "stride 1" in reasons["s2"] and "3x3 kernel" in reasons["pw"] and "grouped" in reasons["dw"]
    fb = PASSES.get("conv_algorithm").run(g, {"algorithm": "winograd_f2x2_3x3", "fallback": "im2col"}).graph
    assert fb.node("s2").attrs["algorithm"] == "im2col" and fb.node("c3").attrs["algorithm"] == "winograd_f2x2_3x3"
    grouped = PASSES.get("conv_algorithm").run(g, {"algorithm": "winograd_f2x2_3x3", "allow_grouped": True}).graph
    assert grouped.node("dw").attrs["algorithm"] == "winograd_f2x2_3x3"
    assert ineligible("fft", {"stride": [1, 1], "dilation": [1, 1], "groups": 1, "kernel": [1, 1]})


def test_auto_picks_the_fewest_multiplies_and_im2col_keeps_them():
    g = _net()
    r = PASSES.get("conv_algorithm").run(g, {"algorithm": "auto"})
    algo = {n.name: n.attrs["algorithm"] for n in r.graph.nodes}
    assert algo["c3"] == "winograd_f4x4_3x3" and algo["pw"] == "direct" and algo["s2"] == "direct"
    assert _macs(r.graph, "c5") <= _macs(g, "c5")
    im = PASSES.get("conv_algorithm").run(g, {"algorithm": "im2col"})
    assert count_graph(im.graph).macs == count_graph(g).macs
    meta = im.graph.tensor("s2.weight").meta_dict()
    assert meta["conv_workspace_elems"] == 2 * 8 * 8 * 16 * 9 and meta["conv_transformed_filter_elems"] == 0


def test_fft_buffers_follow_the_padded_grid():
    g = _net()
    meta = buffer_meta("fft", dict(g.node("c5").attrs), (2, 8, 8, 8), (2, 4, 8, 8))
    bins = (8 + 4 + 4) * ((8 + 4 + 4) // 2 + 1)
    assert meta["conv_transformed_filter_elems"] == 2 * bins * 4 * 8
    assert meta["conv_workspace_elems"] == 2 * bins * (2 * 8 + 2 * 4)


def test_input_untouched_and_bad_algorithm_named():
    g = _net()
    before = tuple(g.nodes), tuple(sorted(g.tensors.items()))
    PASSES.get("conv_algorithm").run(g, {"algorithm": "fft"})
    assert (tuple(g.nodes), tuple(sorted(g.tensors.items()))) == before
    with pytest.raises(CompressionError, match="algorithm"):
        PASSES.get("conv_algorithm").run(g, {"algorithm": "winograd_f6x6_3x3"})


def test_winograd_on_a_model_without_eligible_convs_records_no_change():
    """A 1x1-conv-only model: Winograd applies to no layer, so the pass says changed=False (issue 12)."""
    from hwsim.compress.base import PASSES
    from hwsim.ir import Node, OpGraph, TensorSpec

    g = OpGraph.build("pointwise", [TensorSpec("x", (1, 8, 8, 8))], [
        Node("pw1", "conv2d", ("x",), ("a",), {"out_channels": 8, "kernel": 1}),
        Node("pw2", "conv2d", ("a",), ("y",), {"out_channels": 4, "kernel": 1})], ["y"])
    r = PASSES.get("conv_algorithm").run(g, {"algorithm": "winograd_f2x2_3x3"})
    assert r.changed is False and r.graph is g
    assert [c.action for c in r.changes] == ["kept", "kept"]
    assert any("no conv2d can run the requested algorithm" in n for n in r.notes)
