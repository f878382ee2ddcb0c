"""The ONNX writer spells every op kind the reader produces and the decoder-LLM ops: each small graph is
written, passes onnx.checker, and onnxruntime running the file gives what hwsim's executor gives; a
random-weight decoder's prefill and decode step (and its compressed graph) survive the trip too."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from hwsim.compress import apply_method
from hwsim.frontends.llm_config import decode_graph, load_llm_config, prefill_graph
from hwsim.frontends.onnx_writer import EXPORTERS, graph_to_onnx, save_onnx
from hwsim.ir import Node, OpGraph, all_ops
from hwsim.ir.tensor import TensorSpec
from hwsim.ir.weights import WeightStore
from hwsim.kernels import execute

from testutils import ROOT

RNG = np.random.default_rng(5)
SHAPE = (2, 3, 6)
#: op kinds with no ONNX spelling, and why
NOT_EXPORTED = {"circulant": "a structured-matrix layer of a compressed model (FFT products)",
                "fastfood": "a structured-matrix layer of a compressed model (Walsh-Hadamard products)",
                "exit": "an early-exit branch decision (control flow)"}


def _graph(op: str, attrs: dict, const: np.ndarray | None = None, shape=SHAPE) -> OpGraph:
    """x (and, for a binary op, a constant second operand; for where, a mask first) -> op -> y."""
    nodes, ins, weights = [], ["x"], {}
    if const is not None:
        nodes.append(Node("c", "constant", (), ("c",), {"shape": list(const.shape)}))
        weights["c.value"] = const.astype(np.float32)
        ins = ["x", "c"]
    if op == "where":
        nodes.append(Node("m", "less", ("x", "c"), ("m",), {}))
        ins = ["m", "x", "c"]
    nodes.append(Node("y", op, tuple(ins), ("y",), attrs))
    return OpGraph.build(op, [TensorSpec("x", shape)], nodes, ["y"], weights=WeightStore(arrays=weights))


C = RNG.standard_normal((1, 6)).astype(np.float32)
CASES = {
    "sub": ("sub", {}, C, False), "div": ("div", {}, np.abs(C) + 0.5, False), "pow": ("pow", {}, C, True),
    "min": ("min", {}, C, False), "max": ("max", {}, C, False), "equal": ("equal", {}, np.zeros((1, 6)), False),
    "less": ("less", {}, C, False), "greater": ("greater", {}, C, False), "where": ("where", {}, C, False),
    "sqrt": ("sqrt", {}, None, True), "reciprocal": ("reciprocal", {}, None, True), "exp": ("exp", {}, None, False),
    "log": ("log", {}, None, True), "erf": ("erf", {}, None, False), "neg": ("neg", {}, None, False),
    "abs": ("abs", {}, None, False), "floor": ("floor", {}, None, False),
    "hardsigmoid": ("hardsigmoid", {"alpha": 1 / 6, "beta": 0.5}, None, False),
    "clip both": ("clip", {"min": -0.5, "max": 0.25}, None, False), "clip low": ("clip", {"min": 0.0}, None, False),
    "clip high": ("clip", {"max": 0.1}, None, False), "clip none": ("clip", {}, None, False),
    "power": ("power", {"exponent": 1.7}, None, True), "cast int": ("cast", {"to": "int"}, None, False),
    "cast bool": ("cast", {"to": "bool"}, None, False), "cast float": ("cast", {"to": "float"}, None, False),
    "reduce_mean": ("reduce_mean", {"axes": [-1]}, None, False),
    "reduce_sum": ("reduce_sum", {"axes": [1], "keepdims": False}, None, False),
    "reduce_max": ("reduce_max", {"axes": [0, 2], "keepdims": False}, None, False),
    "reduce_min": ("reduce_min", {}, None, False),
    "reduce_l1": ("reduce_l1", {"axes": [1]}, None, False),
    "reduce_l2": ("reduce_l2", {"axes": [-1], "keepdims": False}, None, False),
    "reduce_sum_square": ("reduce_sum_square", {"axes": [0, 2]}, None, False), "argmax": ("argmax", {"axis": 2, "keepdims": False}, None, False),
    "gather int": ("gather", {"axis": 1, "indices": -1}, None, False),
    "gather list": ("gather", {"axis": 2, "indices": [4, 0, 4]}, None, False),
    "slice": ("slice", {"starts": [1, -1], "ends": [2**62, -7], "axes": [1, 2], "steps": [1, -2]}, None, False),
    "slice to 0": ("slice", {"starts": [5], "ends": [-100], "axes": [2], "steps": [-1]}, None, False),
    "expand": ("expand", {"shape": [3, 2, 3, 6]}, None, False), "tile": ("tile", {"repeats": [1, 2, 1]}, None, False),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_op_written_to_onnx_runs_the_same_in_onnxruntime(tmp_path, case):
    op, attrs, const, positive = CASES[case]
    g = _graph(op, attrs, const)
    x = RNG.standard_normal(SHAPE).astype(np.float32) * 2
    if op == "cast":
        x[0, 0, :3] = [-1.5, 0.0, 2.7]  # truncation toward zero and exact zeros
    x = np.abs(x) + np.float32(0.1) if positive else x
    path = tmp_path / "m.onnx"
    save_onnx(g, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = execute(g, {"x": x}).output
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref.astype(np.float32), rtol=1e-5, atol=1e-6)


def test_every_op_kind_has_an_exporter_or_a_reason():
    missing = {o.name for o in all_ops()} - set(EXPORTERS.keys())
    assert missing == set(NOT_EXPORTED), missing


TINY = load_llm_config(ROOT / "workloads" / "llm" / "tiny-random.yaml").model_copy(update={"dtype": "fp32"})
PHI = load_llm_config(ROOT / "workloads" / "llm" / "phi-2.yaml").model_copy(  # partial rotary, GELU, parallel
    update={"dtype": "fp32", "hidden_size": 64, "intermediate_size": 96, "num_layers": 2, "num_heads": 4,
            "rotary_dim": 8, "vocab_size": 128, "max_positions": 64, "head_dim": None})


def _ids(graph, n):
    return {t: RNG.integers(0, 100, size=graph.tensor(t).shape).astype(np.int32) if t in ("ids", "positions")
            else RNG.standard_normal(graph.tensor(t).shape).astype(np.float32) for t in graph.inputs[:n]}


@pytest.mark.parametrize("cfg", [TINY, PHI], ids=["llama-style", "phi-style"])
@pytest.mark.parametrize("phase, method", [("prefill", None), ("decode", None), ("decode", "llm-mlp-prune-30"),
                                           ("prefill", "q8_0")])
def test_decoder_phases_and_compressed_decoders_round_trip_through_onnxruntime(tmp_path, cfg, phase, method):
    g = (prefill_graph(cfg, 5) if phase == "prefill" else decode_graph(cfg, 7)).materialize()
    if method is not None:
        g = apply_method(g, method).graph
    feeds = _ids(g, len(g.inputs))
    path = tmp_path / "d.onnx"
    save_onnx(g, path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    outs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    got = execute(g, feeds, require_provided=False).outputs
    for name, ref in zip(g.outputs, outs):
        scale = max(float(np.abs(ref).max()), 1e-6)
        assert float(np.abs(got[name] - ref).max()) <= 1e-4 * scale, name


def test_fp16_graphs_are_refused_with_the_tensor_named():
    from hwsim.errors import ModelFormatError

    g = decode_graph(load_llm_config(ROOT / "workloads" / "llm" / "tiny-random.yaml"), 4)  # fp16 activations
    with pytest.raises(ModelFormatError, match="fp16; ONNX export covers fp32 graphs"):
        graph_to_onnx(g)


def test_compress_writes_an_onnx_file_that_onnxruntime_runs_like_hwsim(tmp_path, capsys):
    from hwsim.cli import main
    from hwsim.frontends import load_model

    model, out = ROOT / "workloads" / "transformer_tiny.json", tmp_path / "t.onnx"
    with pytest.raises(SystemExit) as e:
        main(["compress", str(model), "-m", "svd-lowrank", "-o", str(out)])
    assert e.value.code in (0, None)
    compressed = apply_method(load_model(model).materialize(), "svd-lowrank").graph
    x = RNG.standard_normal(compressed.tensor(compressed.inputs[0]).shape).astype(np.float32)
    ref = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {compressed.inputs[0]: x})[0]
    got = execute(compressed, {compressed.inputs[0]: x}).output
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:  # int8 activations have no fp32 ONNX spelling: refused, nothing written
        main(["compress", str(model), "-m", "int8", "-o", str(tmp_path / "q.onnx")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "ONNX export covers fp32 graphs" in err and "Traceback" not in err
    assert not (tmp_path / "q.onnx").exists()
