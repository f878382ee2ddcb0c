"""quantize, mixed_precision, share_kmeans, share_hash, sparse_format and huffman passes."""

from __future__ import annotations

import numpy as np
import pytest
from dc_graphs import mlp, resnet_block

from hwsim.compress import PASSES
from hwsim.compress.calibrate import CALIBRATORS
from hwsim.compress.share import kmeans_1d, kmeans_sklearn
from hwsim.errors import CompressionError
from hwsim.formats import encode


def run(name, graph, **params):
    return PASSES.get(name).run(graph, params)


def bits_equal(a, b):
    return np.array_equal(np.asarray(a, np.float32).view(np.uint32), np.asarray(b, np.float32).view(np.uint32))


# --- quantize ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, bits", [("fp16", 16), ("bf16", 16)])
def test_float16_formats(fmt, bits):
    g = mlp()
    r = run("quantize", g, format=fmt)
    spec = r.graph.tensor("ip1.weight")
    assert spec.dtype.name == fmt and spec.stored_bits == 300 * 784 * bits
    w = g.dense_weight("ip1.weight")
    assert np.abs(r.graph.dense_weight("ip1.weight") - w).max() <= np.abs(w).max() * 2.0**-8


@pytest.mark.parametrize("bits, granularity", [(8, "channel"), (4, "channel"), (8, "tensor"), (3, "tensor")])
def test_int_weights_sizes_errors_and_annotations(bits, granularity):
    g = mlp()
    r = run("quantize", g, bits=bits, granularity=granularity)
    p = r.graph.weight("ip1.weight")
    spec = r.graph.tensor("ip1.weight")
    channels = 300 if granularity == "channel" else 1
    assert spec.encoding == "quantized_int" and spec.dtype.name == f"int{bits}"
    assert spec.stored_bits == 300 * 784 * bits + channels * 32
    meta = spec.meta_dict()
    assert meta["value_bits"] == bits and meta["scale_granularity"] == granularity and meta["scale_count"] == channels
    w = g.dense_weight("ip1.weight")
    scale = p.scale[:, None] if granularity == "channel" else p.scale[0]
    assert np.all(np.abs(r.graph.dense_weight("ip1.weight") - w) <= scale / 2 + 1e-7)
    sqnr = {c.layer: c.details["sqnr_db"] for c in r.changes}
    assert sqnr["ip1"] == pytest.approx(6.02 * bits, abs=12)


def test_quantize_keeps_sparse_structure():
    g = run("sparse_format", run("prune", mlp(), sparsity=0.9).graph, format="csr").graph
    r = run("quantize", g, bits=8)
    p = r.graph.weight("ip1.weight")
    assert p.format == "csr" and p.values.format == "quantized_int"
    assert r.graph.tensor("ip1.weight").density == pytest.approx(0.1)
    assert r.graph.tensor("ip1.weight").dtype.name == "int8"


def test_stochastic_rounding_seeded():
    g = mlp()
    a = run("quantize", g, bits=4, rounding="stochastic", seed=1).graph.dense_weight("ip2.weight")
    b = run("quantize", g, bits=4, rounding="stochastic", seed=1).graph.dense_weight("ip2.weight")
    c = run("quantize", g, bits=4, rounding="stochastic", seed=2).graph.dense_weight("ip2.weight")
    n = run("quantize", g, bits=4).graph.dense_weight("ip2.weight")
    w = g.dense_weight("ip2.weight")
    assert bits_equal(a, b) and not bits_equal(a, c)
    assert abs(float((a - w).mean())) < abs(float((n - w).std()))  # unbiased on average


@pytest.mark.parametrize("params, match", [({"bits": 0}, "bits"), ({"bits": 1}, "bits >= 2"),
                                           ({"granularity": "row"}, "granularity"), ({"format": "int7"}, "format")])
def test_quantize_bad_parameters(params, match):
    with pytest.raises(CompressionError, match=match):
        run("quantize", mlp(), **params)


def test_activation_quantization_calibrated_ranges():
    g = resnet_block()
    r = run("quantize", g, bits=8, activations=True)
    relu_out = r.graph.tensor("a0")
    meta = relu_out.meta_dict()
    assert relu_out.dtype.name == "uint8" and relu_out.encoding == "quantized_int"
    assert meta["range_min"] == 0.0 and meta["zero_point"] == 0 and meta["scale"] > 0
    conv_out = r.graph.tensor("t1").meta_dict()
    assert conv_out["range_min"] < 0 < conv_out["range_max"]
    assert any("modelled" in n for n in r.notes)
    cost_only = run("quantize", resnet_block(materialized=False), bits=8, activations=True)
    assert cost_only.graph.tensor("a0").meta_dict()["scale"] is None


def test_moments_calibrator_matches_sampled_statistics():
    """The analytic moments of an MLP's pre-activations match a seeded sampled forward pass."""
    g = mlp()
    ranges = CALIBRATORS.get("moments")(g, 512, 0)
    x = np.random.default_rng(0).standard_normal((4000, 784))
    h1 = x @ g.dense_weight("ip1.weight").T
    a1 = np.maximum(h1, 0)
    h2 = a1 @ g.dense_weight("ip2.weight").T
    for name, sample in (("h1", h1), ("h2", h2)):
        lo, hi = ranges[name]
        mean, sd = sample.mean(0), sample.std(0)
        assert hi == pytest.approx(float((mean + 4 * sd).max()), rel=0.1)
        assert lo == pytest.approx(float((mean - 4 * sd).min()), rel=0.1)
    assert ranges["a1"][0] == 0.0


def test_mixed_precision_explicit_and_budgeted_allocation():
    g = mlp()
    r = run("mixed_precision", g, bits={"ip1": 4, "ip[23]": 8})
    assert [r.graph.tensor(f"ip{i}.weight").meta_dict()["value_bits"] for i in (1, 2, 3)] == [4, 8, 8]
    budget = 3.0
    r = run("mixed_precision", g, budget_bits_per_weight=budget)
    specs = [r.graph.tensor(f"ip{i}.weight") for i in (1, 2, 3)]
    numel = sum(s.numel for s in specs)
    assert sum(s.size_bits for s in specs) <= budget * numel + 32 * 410
    chosen = [s.meta_dict()["value_bits"] for s in specs]
    assert chosen[2] >= chosen[0]  # the small last layer buys bits cheaply

    def nsr(choice):
        out = 0.0
        for i, b in zip((1, 2, 3), choice):
            w = g.dense_weight(f"ip{i}.weight")
            q = encode("quantized_int", w, bits=b, per_channel=True).decode()
            out += float(((w - q) ** 2).sum() / (w**2).sum())
        return out

    assert nsr(chosen) <= nsr([3, 3, 3]) + 1e-12  # at least as good as uniform bits in the same budget
    with pytest.raises(CompressionError, match="names no layer"):
        run("mixed_precision", g, bits={"conv*": 4})
    with pytest.raises(CompressionError, match="budget"):
        run("mixed_precision", g, budget_bits_per_weight=1.0)
    with pytest.raises(CompressionError, match="at most one"):
        run("mixed_precision", g, budget_ratio=0.1, budget_bytes=100)


# --- weight sharing ---------------------------------------------------------------------------------

def test_sorted_kmeans_matches_scikit_learn():
    x = np.random.default_rng(0).standard_normal(6000).astype(np.float32)
    ours, _ = kmeans_1d(x, 16, "linear", max_iter=300, tol=0)
    ref, _ = kmeans_sklearn(x, 16, "linear", max_iter=300, seed=0, sample=None)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_share_kmeans_deep_compression_defaults_and_zero_code():
    g = run("prune", resnet_block(), sparsity=0.6).graph
    r = run("share_kmeans", g)
    conv = r.graph.weight("b1c1.weight")
    fc = r.graph.weight("fc1.weight")
    assert conv.format == "codebook" and conv.values.bits == 8 and conv.centroids.size <= 256
    assert fc.values.bits == 5 and fc.centroids.size <= 32
    assert conv.values.zero_code == 0 and conv.centroids[0] == 0
    before = g.dense_weight("b1c1.weight")
    after = r.graph.dense_weight("b1c1.weight")
    assert np.array_equal(after == 0, before == 0)  # pruned stays pruned, kept stays kept
    spec = r.graph.tensor("fc1.weight")
    assert spec.stored_bits == spec.numel * 5 + fc.centroids.size * 32
    assert spec.meta_dict()["pruned_density"] == pytest.approx(0.4)
    assert any("retraining" in n for n in r.notes)


def test_share_kmeans_lossless_on_few_values_and_sklearn_method():
    g = mlp()
    w = np.round(g.dense_weight("ip3.weight") * 4) / 4 + np.float32(0)  # no negative zeros
    g = g.with_weights({"ip3.weight": w.astype(np.float32)})
    r = run("share_kmeans", g, layers=["ip3"], bits=6)
    assert bits_equal(r.graph.dense_weight("ip3.weight"), w)
    s = run("share_kmeans", mlp(), layers=["ip2"], bits=4, method="sklearn", sample=2000)
    assert s.graph.weight("ip2.weight").centroids.size == 16


def test_share_kmeans_formula_when_not_materialized():
    r = run("share_kmeans", mlp(materialized=False), bits=5)
    spec = r.graph.tensor("ip1.weight")
    assert spec.encoding == "codebook" and spec.stored_bits == 235200 * 5 + 32 * 32
    assert spec.meta_dict()["estimated"] is True


def test_share_hash():
    g = mlp()
    r = run("share_hash", g, ratio=0.125)
    spec = r.graph.tensor("ip1.weight")
    assert spec.encoding == "hashed" and spec.stored_bits == 29400 * 32 + 64
    again = run("share_hash", g, ratio=0.125).graph
    assert bits_equal(again.dense_weight("ip1.weight"), r.graph.dense_weight("ip1.weight"))
    with pytest.raises(CompressionError, match="buckets"):
        run("share_hash", g, buckets=10**7)


# --- sparse formats and Huffman -----------------------------------------------------------------------

@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.97])
def test_auto_format_is_the_smallest_real_encoding(sparsity):
    g = run("prune", mlp(), sparsity=sparsity).graph if sparsity else mlp()
    r = run("sparse_format", g)
    for layer in ("ip1", "ip2", "ip3"):
        t = f"{layer}.weight"
        w = g.dense_weight(t)
        sizes = {f: encode(f, w, **({"index_bits": 5} if f == "relative_index" else {})).stored_bits
                 for f in ("dense", "csr", "csc", "coo", "bitmap", "relative_index")}
        chosen = r.graph.tensor(t)
        assert chosen.size_bits == min(sizes.values())
        assert bits_equal(r.graph.dense_weight(t), w)  # lossless


def test_relative_index_default_widths_and_override():
    g = run("prune", resnet_block(), sparsity=0.9).graph
    r = run("sparse_format", g, format="relative_index", overrides={"fc2": {"index_bits": 3}})
    assert r.graph.weight("b1c1.weight").index_bits == 8
    assert r.graph.weight("fc1.weight").index_bits == 5
    assert r.graph.weight("fc2.weight").index_bits == 3
    assert r.graph.tensor("fc1.weight").meta_dict()["filler_zeros"] == r.graph.weight("fc1.weight").fillers


def test_sparse_format_formula_when_not_materialized():
    g = run("prune", mlp(materialized=False), sparsity=0.9).graph
    r = run("sparse_format", g)
    spec = r.graph.tensor("ip1.weight")
    assert spec.encoding in ("relative_index", "csc", "csr", "coo", "bitmap") and spec.meta_dict()["estimated"]
    assert spec.stored_bits < 235200 * 32 * 0.2


def test_huffman_is_lossless_and_smaller_and_explains_float_weights():
    g = run("share_kmeans", run("prune", mlp(), sparsity=0.9).graph).graph
    g = run("sparse_format", g, format="relative_index", index_bits=5).graph
    r = run("huffman", g)
    for layer in ("ip1", "ip2"):
        t = f"{layer}.weight"
        assert bits_equal(r.graph.dense_weight(t), g.dense_weight(t))
        assert r.graph.tensor(t).size_bits < g.tensor(t).size_bits
        assert r.graph.tensor(t).meta_dict()["index_coding"] == "huffman"
    plain = run("huffman", mlp())
    assert not plain.changed and any("float values" in n for n in plain.notes)
    only = run("huffman", g, streams="indices")
    assert only.graph.tensor("ip1.weight").meta_dict()["value_coding"] == "fixed"
