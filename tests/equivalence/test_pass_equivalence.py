"""Kernels before and after each pass.

* Every catalogue method, on the digits CNN and MLP (real weights): the compressed graph run by its
  compressed kernels equals the same graph run by the dense kernels on the decoded weights (its
  "decoded twin") within 1e-5 relative: the encoded forms compute exactly what their decode says.
* Lossless steps (sparse format conversion, Huffman coding) leave the decoded weights bit-identical;
  Huffman leaves the outputs bit-identical; a conv algorithm changes outputs only within its tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.analysis.verify import seeded_inputs
from hwsim.compress.base import PASSES
from hwsim.compress.catalogue import METHODS
from hwsim.compress.method import Method, apply_method
from hwsim.frontends import load_model
from hwsim.ir import FP32
from hwsim.kernels import KERNELS, execute

from testutils import WORKLOADS

MODELS = {m: load_model(WORKLOADS / "digits" / f"{m}.json") for m in ("cnn", "mlp")}
INPUTS = {m: seeded_inputs(g, 3, 0) for m, g in MODELS.items()}


def decoded_twin(g):
    """The same graph with every encoded or reduced-precision weight replaced by its decoded fp32 array."""
    specs, weights = {}, {}
    for node in g.nodes:
        for t in node.params.values():
            s = g.tensor(t)
            if s.encoding != "dense" or s.dtype != FP32 or s.stored_bits is not None:
                specs[t] = s.with_(dtype=FP32, encoding="dense", stored_bits=None, density=1.0, meta={})
                weights[t] = np.asarray(g.dense_weight(t), np.float32)
    return g.with_specs(specs, weights)


def _run(g, model):
    return execute(g, INPUTS[model], require_provided=False).output


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("method", [m for m in METHODS.keys() if m != "baseline"])
def test_compressed_kernels_equal_dense_kernels_on_decoded_weights(model, method):
    g = apply_method(MODELS[model], method).graph
    a, b = _run(g, model), _run(decoded_twin(g), model)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()


def _weights(g):
    return {t: np.asarray(g.dense_weight(t)) for t in g.weight_names()}


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bitmap", "relative_index", "dense"])
@pytest.mark.parametrize("values", [None, "share_kmeans", "quantize"])
def test_format_conversion_is_lossless(fmt, values):
    assert PASSES.get("sparse_format").lossless
    steps = [("prune", {"sparsity": 0.7})] + ([(values, {})] if values else [])
    before = apply_method(MODELS["cnn"], Method("b", "", tuple(steps))).graph
    after = apply_method(before, Method("a", "", (("sparse_format", {"format": fmt}),))).graph
    wb, wa = _weights(before), _weights(after)
    assert all(np.array_equal(wb[t], wa[t]) for t in wb)
    a, b = _run(after, "cnn"), _run(before, "cnn")
    assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()


@pytest.mark.parametrize("model", list(MODELS))
def test_huffman_is_bit_exact(model):
    assert PASSES.get("huffman").lossless
    before = apply_method(MODELS[model], Method("b", "", (("prune", {"sparsity": 0.8}), ("share_kmeans", {}),
                                                          ("sparse_format", {"format": "relative_index"})))).graph
    after = apply_method(before, Method("h", "", (("huffman", {}),))).graph
    assert any(after.tensor(t).meta_dict().get("value_coding") == "huffman" for t in after.weight_names())
    wb, wa = _weights(before), _weights(after)
    assert all(np.array_equal(wb[t], wa[t]) for t in wb)
    np.testing.assert_array_equal(_run(after, model), _run(before, model))


@pytest.mark.parametrize("algorithm", ["im2col", "winograd_f2x2_3x3", "winograd_f4x4_3x3", "fft"])
def test_conv_algorithms_change_outputs_only_within_their_tolerance(algorithm):
    g = MODELS["cnn"]
    after = apply_method(g, Method("c", "", (("conv_algorithm", {"algorithm": algorithm}),))).graph
    assert {n.attrs["algorithm"] for n in after.nodes if n.op == "conv2d"} == {algorithm}
    a, b = _run(after, "cnn"), _run(g, "cnn")
    assert np.abs(a - b).max() <= 10 * KERNELS[("conv2d", algorithm)].rtol * np.abs(b).max()
