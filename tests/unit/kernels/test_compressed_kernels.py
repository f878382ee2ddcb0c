"""Compressed kernels execute their encoded payloads and agree with the dense reference on the decoded
operands: bit for bit where the kernel is exact (sparse, binary, ternary, integer), within the stated
tolerance otherwise (shared-weight lookups and weight-only integer GEMMs run on BLAS)."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.compress.lowbit_payloads import BinaryPayload, TernaryPayload
from hwsim.formats import annotate, encode, huffman_payload
from hwsim.ir import BINARY, TERNARY, Node, OpGraph, TensorSpec, int_dtype
from hwsim.kernels import execute
from hwsim.kernels.forms import node_form

LINEAR = ("linear", (3, 40), {"out_features": 12, "bias": True})
CONV = ("conv2d", (2, 6, 7, 7), {"out_channels": 8, "kernel": 3, "padding": 1, "bias": True})
CONV_GROUPED = ("conv2d", (1, 6, 6, 6), {"out_channels": 4, "kernel": 3, "stride": 2, "padding": [1, 0, 1, 1],
                                         "groups": 2})
DEPTHWISE = ("conv2d", (1, 6, 5, 5), {"out_channels": 6, "kernel": 3, "padding": 1, "groups": 6})
#: several uint64 words per reduction with partial tail words (XNOR packing), dilation and groups
WIDE_LINEAR = ("linear", (2, 200), {"out_features": 7, "bias": True})
WIDE_CONV = ("conv2d", (2, 130, 9, 9), {"out_channels": 6, "kernel": 3, "stride": 2, "dilation": 2, "padding": 2,
                                        "groups": 2})
LAYERS = {"linear": LINEAR, "conv": CONV, "grouped": CONV_GROUPED, "depthwise": DEPTHWISE,
          "wide_linear": WIDE_LINEAR, "wide_conv": WIDE_CONV}


def _graph(layer, seed=0, act_spec=None):
    op, shape, attrs = LAYERS[layer]
    nodes = [Node("n", op, ("x",), ("y",), attrs)]
    x = TensorSpec("x", shape, role="input")
    g = OpGraph.build("t", [x], nodes, ["y"])
    rng = np.random.default_rng(seed)
    arrays = {t: rng.standard_normal(g.tensor(t).shape).astype(np.float32) for t in g.node("n").params.values()}
    return g.with_weights(arrays)


def _pruned(g, density=0.3, seed=0):
    w = np.asarray(g.dense_weight("n.weight"))
    mask = np.random.default_rng(seed).random(w.shape) < density
    return (w * mask).astype(np.float32)


def _with_payload(g, payload, dtype=None):
    spec = annotate(g.tensor("n.weight"), payload, dtype=dtype)
    return g.with_specs({"n.weight": spec}, {"n.weight": payload})


def _inputs(g, seed=1):
    return {"x": np.random.default_rng(seed).standard_normal(g.tensor("x").shape).astype(np.float32)}


def _check(g, form, inputs=None, exact=None):
    """Run through the executor; compare with the kernel's reference on the same call."""
    inputs = inputs or _inputs(g)
    node = g.node("n")
    assert node_form(node, g.tensors) == form
    seen = {}

    def hook(node, kdef, call, outs):
        seen["ref"] = kdef.reference(call)[0]
        seen["exact"] = kdef.is_exact(call)
        seen["kdef"] = kdef
    out = execute(g, inputs, on_node=hook).output
    ref = seen["ref"]
    assert out.dtype == np.float32 and out.shape == ref.shape
    if exact if exact is not None else seen["exact"]:
        np.testing.assert_array_equal(out, ref)
    else:
        assert np.abs(out - ref).max() <= seen["kdef"].rtol * np.abs(ref).max()
    return out


def _dense_run(g, w):
    plain = OpGraph.build("t", [g.tensor("x")], list(g.nodes), list(g.outputs)).with_weights(
        {"n.weight": w, **{t: g.dense_weight(t) for s, t in g.node("n").params.items() if s != "weight"}})
    return plain


@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bitmap", "relative_index"])
def test_sparse_float_kernels_are_bit_exact(layer, fmt):
    g = _graph(layer)
    w = _pruned(g)
    options = {"index_bits": 3} if fmt == "relative_index" else {}
    g2 = _with_payload(g, encode(fmt, w, **options))
    out = _check(g2, fmt, exact=True)
    dense = execute(_dense_run(g, w), _inputs(g)).output
    np.testing.assert_allclose(out, dense, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer", ["linear", "conv", "grouped"])
@pytest.mark.parametrize("values", ["codebook", "quantized"])
def test_sparse_kernels_over_shared_and_quantized_values_are_bit_exact(layer, values):
    g = _graph(layer)
    w = _pruned(g, 0.4)
    if values == "codebook":
        source = encode("codebook", w, centroids=np.linspace(w.min(), w.max(), 15), bits=4)
    else:
        source = encode("quantized_int", w, bits=6, per_channel=True)
    payload = encode("relative_index", source, index_bits=4)
    _check(_with_payload(g, payload), "relative_index", exact=True)
    _check(_with_payload(g, encode("csr", source)), "csr", exact=True)


def test_huffman_coded_streams_compute_the_same_bits():
    g = _graph("conv")
    w = _pruned(g, 0.25)
    shared = encode("codebook", w, centroids=np.linspace(w.min(), w.max(), 7), bits=3)
    plain = encode("relative_index", shared, index_bits=3)
    coded = huffman_payload(plain, only_if_smaller=False)
    assert {s.coding for s in coded.int_streams().values()} == {"huffman"}
    a = _check(_with_payload(g, plain), "relative_index", exact=True)
    b = _check(_with_payload(g, coded), "relative_index", exact=True)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layer", ["linear", "conv", "depthwise"])
@pytest.mark.parametrize("fmt", ["codebook", "hashed"])
def test_shared_weight_kernels_within_gemm_tolerance(layer, fmt):
    g = _graph(layer)
    w = np.asarray(g.dense_weight("n.weight"))
    payload = encode("codebook", w, centroids=np.linspace(w.min(), w.max(), 16), bits=4) if fmt == "codebook" \
        else encode("hashed", w, buckets=max(2, w.size // 4), seed=3)
    out = _check(_with_payload(g, payload), fmt)
    np.testing.assert_allclose(out, execute(_dense_run(g, payload.decode()), _inputs(g)).output, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layer", ["linear", "conv", "grouped"])
@pytest.mark.parametrize("symmetric, per_channel, bits", [(True, True, 8), (False, False, 4), (True, False, 4)])
def test_weight_only_integer_kernels(layer, symmetric, per_channel, bits):
    g = _graph(layer)
    payload = encode("quantized_int", g.dense_weight("n.weight"), bits=bits, symmetric=symmetric,
                     per_channel=per_channel)
    out = _check(_with_payload(g, payload), "quantized_int")
    np.testing.assert_allclose(out, execute(_dense_run(g, payload.decode()), _inputs(g)).output, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layer", ["linear", "conv"])
@pytest.mark.parametrize("act_bits, zero_point", [(8, 0), (8, 3), (4, -1)])
def test_integer_activations_accumulate_exactly(layer, act_bits, zero_point):
    g = _graph(layer)
    payload = encode("quantized_int", g.dense_weight("n.weight"), bits=8, per_channel=True)
    g2 = _with_payload(g, payload)
    x = _inputs(g)
    scale = float(np.abs(x["x"]).max()) / (2 ** (act_bits - 1) - 1)
    xspec = g2.tensor("x").with_(dtype=int_dtype(act_bits), meta={"scale": scale, "zero_point": zero_point})
    g3 = OpGraph.build("t", [xspec], list(g2.nodes), ["y"], g2.weights, g2.annotations())
    out = _check(g3, "quantized_int", x, exact=True)
    assert out.shape == g2.tensor("y").shape and np.isfinite(out).all()
    # the same within quantization error of the float-activation result
    ref = execute(g2, x).output
    assert np.abs(out - ref).max() <= 2.0 ** (3 - act_bits) * np.abs(ref).max()


@pytest.mark.parametrize("layer", ["linear", "conv", "grouped", "depthwise", "wide_linear", "wide_conv"])
@pytest.mark.parametrize("scale", ["none", "layer", "channel"])
def test_xnor_popcount_is_bit_exact(layer, scale):
    g = _graph(layer)
    w = np.asarray(g.dense_weight("n.weight"))
    scales = {"none": None, "layer": np.array([0.37], np.float32),
              "channel": np.abs(w).reshape(w.shape[0], -1).mean(axis=1)}[scale]
    payload = BinaryPayload.encode(w, scales)
    spec = g.tensor("n.weight").with_(dtype=BINARY, stored_bits=payload.stored_bits)
    x = g.tensor("x").with_(dtype=BINARY)
    g2 = OpGraph.build("t", [x], list(g.nodes), ["y"], g.weights.with_arrays({"n.weight": payload}),
                       {"n.weight": spec})
    xs = {"x": np.where(_inputs(g)["x"] >= 0, 1.0, -1.0).astype(np.float32)}
    out = _check(g2, "binary", xs, exact=True)
    ints = out if scales is None else None
    if ints is not None and g.node("n").attrs.get("bias"):
        ints = out - np.asarray(g.dense_weight("n.bias")).reshape((-1,) if g.node("n").op == "linear"
                                                                 else (1, -1, 1, 1))
    if ints is not None:
        np.testing.assert_allclose(ints, np.round(ints), atol=1e-4)  # integer dot products plus the bias


def test_xnor_refuses_non_binary_values_in_a_binary_tensor():
    from hwsim.errors import VerificationError
    g = _graph("linear")
    payload = BinaryPayload.encode(np.asarray(g.dense_weight("n.weight")))
    spec = g.tensor("n.weight").with_(dtype=BINARY)
    g2 = OpGraph.build("t", [g.tensor("x").with_(dtype=BINARY)], list(g.nodes), ["y"],
                       g.weights.with_arrays({"n.weight": payload}), {"n.weight": spec})
    with pytest.raises(VerificationError, match="binary"):
        execute(g2, _inputs(g))


@pytest.mark.parametrize("layer", ["linear", "conv", "grouped"])
@pytest.mark.parametrize("kind", ["binary", "ternary"])
def test_add_subtract_skip_kernels_are_bit_exact(layer, kind):
    g = _graph(layer)
    w = np.asarray(g.dense_weight("n.weight"))
    if kind == "binary":
        payload, dt = BinaryPayload.encode(w, np.array([0.5], np.float32)), BINARY
    else:
        t = np.where(w > 0.5, 1, np.where(w < -0.5, -1, 0))
        payload, dt = TernaryPayload.encode(t, np.abs(w).reshape(w.shape[0], -1).mean(axis=1)), TERNARY
    g2 = g.with_specs({"n.weight": g.tensor("n.weight").with_(dtype=dt)}, {"n.weight": payload})
    out = _check(g2, kind, exact=True)
    np.testing.assert_allclose(out, execute(_dense_run(g, payload.decode()), _inputs(g)).output, rtol=1e-5, atol=1e-5)


def test_unmaterialized_compressed_weight_is_a_clear_error():
    from hwsim.errors import VerificationError
    g = _graph("linear")
    g2 = g.with_specs({"n.weight": g.tensor("n.weight").with_(dtype=BINARY)})
    with pytest.raises(VerificationError, match="materialize"):
        execute(g2, _inputs(g))


@pytest.mark.parametrize("op, out", [("circulant", 24), ("circulant", 9), ("fastfood", 20), ("fastfood", 50)])
def test_structured_layers_match_their_dense_matrix(op, out):
    g = OpGraph.build("t", [TensorSpec("x", (3, 13), role="input")],
                      [Node("n", op, ("x",), ("y",), {"out_features": out, "seed": 5})], ["y"]).materialize()
    rng = np.random.default_rng(0)
    g = g.with_weights({t: rng.standard_normal(g.tensor(t).shape).astype(np.float32)
                        for t in g.node("n").params.values()})
    _check(g, "dense")


@pytest.mark.parametrize("n, p, block", [(1, 0.5, 4096), (9, 0.5, 4), (5000, 0.3, 1000), (60_000, 0.05, 4096),
                                         (20_000, 0.9, 333)])
def test_the_independent_huffman_decoder_agrees_with_the_streams_own_decode(n, p, block):
    """Kernels read a Huffman stream's values as the stream decodes them (once); the pointer-doubling
    decoder of the test oracle (huffman_oracle.py) is the independent check of that decode."""
    from hwsim.formats import HuffmanInts
    from huffman_oracle import decode_huffman

    v = np.minimum(np.random.default_rng(n).geometric(p, n) - 1, 40)
    h = HuffmanInts.encode(v, block_symbols=block)
    independent = decode_huffman(h.n, h.lengths, h.bitstream, h.payload_bits)
    assert np.array_equal(independent, v) and np.array_equal(h.values(), v)
