"""verify_method: kernel checks against references on decoded operands, fidelity figures, determinism,
and a check that really fails when a compressed kernel is wrong."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hwsim.analysis import fidelity as fid
from hwsim.analysis.verify import verify_method
from hwsim.compress.method import Method
from hwsim.errors import VerificationError
from hwsim.frontends import load_model, save_model_json
from hwsim.frontends.model_json import parse_model
from hwsim.ir import Node, OpGraph, TensorSpec

from testutils import LENET5_DOC


@pytest.fixture(scope="module")
def lenet5():
    return parse_model(LENET5_DOC)


def _small_3x3() -> OpGraph:
    return OpGraph.build("c3", [TensorSpec("x", (1, 4, 10, 10), role="input")], [
        Node("c1", "conv2d", ("x",), ("a",), {"out_channels": 8, "kernel": 3, "padding": 1, "bias": True}),
        Node("r1", "relu", ("a",), ("b",)),
        Node("c2", "conv2d", ("b",), ("c",), {"out_channels": 8, "kernel": 3, "padding": 1}),
        Node("g", "global_avgpool", ("c",), ("d",)),
        Node("f", "flatten", ("d",), ("e",)),
        Node("fc", "linear", ("e",), ("y",), {"out_features": 5}),
    ], ["y"])


def test_fidelity_metrics_on_known_values():
    ref = np.array([[1.0, 1.0], [0.0, 2.0]])
    assert fid.sqnr_db(ref, ref) == math.inf
    assert fid.sqnr_db(ref, ref * 0.5) == pytest.approx(10 * math.log10(6 / 1.5))
    assert fid.cosine(ref, 3 * ref) == pytest.approx(1.0)
    assert fid.cosine(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])) == pytest.approx(0.0)
    assert fid.top1_agreement(ref, np.array([[1.0, 2.0], [0.0, 1.0]])) == 0.5


def test_baseline_is_identical_and_json_is_strict(lenet5):
    r = verify_method(lenet5, "baseline", inputs=2, seed=1)
    assert r.fidelity.identical and r.fidelity.top1_agreement == 1.0 and r.fidelity.inputs == 2
    assert r.kernel_status == "no compressed kernels" and r.compression_ratio == 1.0
    doc = json.dumps(r.as_dict(), allow_nan=False)
    assert "not task accuracy" in doc


@pytest.mark.parametrize("method, forms", [
    ("prune-90", {"csr", "csc", "coo", "bitmap", "relative_index"}),
    ("deep-compression", {"relative_index"}),
    ("binary-xnor", {"binary"}),
    ("ternary-twn", {"ternary"}),
])
def test_exact_kernels_are_bit_exact(lenet5, method, forms):
    r = verify_method(lenet5, method, inputs=2)
    assert r.kernel_checks and r.kernel_status == "exact"
    assert all(c.requirement == "bit-exact" and c.bit_exact and c.max_abs_error == 0 for c in r.kernel_checks)
    assert {c.form for c in r.kernel_checks} <= forms
    assert r.compression_ratio > 2 and r.fidelity is not None and r.needs_training


def test_int8_accumulates_exactly_where_activations_are_integer(lenet5):
    r = verify_method(lenet5, "int8", inputs=2)
    by_node = {c.node: c for c in r.kernel_checks}
    assert by_node["conv1"].requirement.startswith("rel")  # reads the fp32 graph input
    assert all(by_node[n].requirement == "bit-exact" and by_node[n].passed for n in ("conv2", "ip1", "ip2"))
    assert r.fidelity.sqnr_db > 20 and r.fidelity.cosine > 0.99


@pytest.mark.parametrize("method, min_sqnr_db", [("winograd", 100.0), ("winograd-f4", 80.0), ("fft-conv", 100.0)])
def test_fast_conv_algorithms_within_tolerance(method, min_sqnr_db):
    r = verify_method(_small_3x3(), method, inputs=3)
    assert {c.node for c in r.kernel_checks} == {"c1", "c2"}
    assert r.kernel_status in ("within tolerance", "exact")
    assert r.fidelity.sqnr_db > min_sqnr_db and r.fidelity.top1_agreement == 1.0


def test_same_inputs_same_json(lenet5):
    a = json.dumps(verify_method(lenet5, "weight-sharing", inputs=2, seed=3).as_dict())
    b = json.dumps(verify_method(lenet5, "weight-sharing", inputs=2, seed=3).as_dict())
    assert a == b


def test_a_wrong_compressed_kernel_is_caught(lenet5, monkeypatch):
    import hwsim.kernels.sparse as sparse

    real = sparse.sparse_operator

    def off_by_a_bit(payload, groups=1):
        m, scale = real(payload, groups)
        m = m.copy()
        m.data[0] += np.float32(1e-3)
        return m, scale

    monkeypatch.setattr(sparse, "sparse_operator", off_by_a_bit)
    r = verify_method(lenet5, "prune-50", inputs=1)
    assert r.kernel_status == "mismatch" and not r.kernels_passed


def test_shipped_weights_must_all_be_present(tmp_path, lenet5):
    g = lenet5.materialize()
    arrays = {t: np.asarray(g.weight(t)) for t in g.weight_names() if t != "ip2.bias"}
    np.savez(tmp_path / "w.npz", **arrays)
    save_model_json(g, tmp_path / "m.json", weights_file="w.npz")
    with pytest.raises(VerificationError, match="ip2.bias"):
        verify_method(load_model(tmp_path / "m.json"), "prune-50", inputs=1)


def test_custom_method_object(lenet5):
    m = Method("half", "prune fc only", (("prune", {"sparsity": 0.5, "layers": ["ip*"]}),), True)
    r = verify_method(lenet5, m, inputs=1)
    assert {c.node for c in r.kernel_checks} <= {"ip1", "ip2"} and r.method == "half"


def test_kernels_calibrator_measures_ranges(lenet5):
    from hwsim.compress.calibrate import CALIBRATORS

    g = lenet5.materialize()
    ranges = CALIBRATORS.get("kernels")(g, 16, 0)
    assert set(ranges) >= {"conv1", "pool2", "ip2"}
    lo, hi = ranges["relu1"]
    assert lo == 0.0 and hi > 0.0


def test_graphs_that_bake_in_their_batch_run_one_batch_at_a_time():
    g = OpGraph.build("folded", [TensorSpec("x", (1, 4, 4), role="input")], [
        Node("r1", "reshape", ("x",), ("a",), {"shape": [4, 4]}),  # the batch axis disappears
        Node("fc", "linear", ("a",), ("b",), {"out_features": 3}),
        Node("r2", "reshape", ("b",), ("y",), {"shape": [1, 4, 3]}),
    ], ["y"])
    r = verify_method(g, "prune-50", inputs=3)
    assert r.fidelity.inputs == 3 and r.kernel_status == "exact"
