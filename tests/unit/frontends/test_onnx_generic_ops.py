"""The generic ops (elementwise with constants, unary math, reductions, indexing, Where, Einsum) read from
small ONNX graphs built with onnx.helper: each agrees with onnxruntime on the same file, maps to the op
kind it should, and is counted, costed on every device kind and executed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwsim.errors import ModelFormatError
from hwsim.frontends.onnx_reader import load_onnx
from hwsim.hardware import load_device
from hwsim.ir import count_graph
from hwsim.kernels.executor import execute
from hwsim.sim import simulate

RNG = np.random.default_rng(11)
DEVICES = ("cpu-a53", "gpu-jetson-nano", "fpga-small", "systolic-32x32")


def _vi(name: str, shape: list, elem: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _save(tmp_path: Path, nodes: list, inputs: list, outputs: list, inits: dict | None = None,
          name: str = "m") -> Path:
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _feeds(g, shapes: dict[str, tuple], positive: bool) -> dict[str, np.ndarray]:
    out = {}
    for k, s in shapes.items():
        x = RNG.standard_normal(s).astype(np.float32)
        out[k] = np.abs(x) + np.float32(0.1) if positive else x
    return out


def _agree(path: Path, shapes: dict[str, tuple], positive: bool = False):
    g = load_onnx(path)
    feeds = _feeds(g, shapes, positive)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    got = execute(g, feeds).outputs
    for name, r in zip(g.outputs, ref):
        np.testing.assert_allclose(got[name], r.astype(np.float32), rtol=1e-5, atol=1e-5, err_msg=name)
    return g


def _costed_everywhere(g) -> None:
    """Counted, and costed on every device kind with no op silently free unless it is a view."""
    counts = count_graph(g)
    assert counts.nodes
    for dev in DEVICES:
        r = simulate(g, load_device(dev))
        assert r.total_cycles > 0


C = {"c": RNG.standard_normal((1, 6)).astype(np.float32), "s": np.float32(0.5), "two": np.float32(2.0),
     "e": np.float32(1.7)}
X = [_vi("x", [2, 3, 6])]
Y = [helper.make_empty_tensor_value_info("y")]


def _n(op, ins, **kw):
    return helper.make_node(op, ins, ["y"], name="n", **kw)


CASES = {
    # op type -> (nodes, inputs, initializers, hwsim ops, positive inputs)
    "Sub const first": ([_n("Sub", ["c", "x"])], X, C, ["constant", "sub"], False),
    "Div const first": ([_n("Div", ["s", "x"])], X, C, ["constant", "div"], True),
    "Div by const": ([_n("Div", ["x", "c"])], X, C, ["constant", "div"], False),
    "Mul scalar": ([_n("Mul", ["x", "s"])], X, C, ["constant", "mul"], False),
    "Min": ([_n("Min", ["x", "c"])], X, C, ["constant", "min"], False),
    "Max": ([_n("Max", ["c", "x"])], X, C, ["constant", "max"], False),
    "Pow 2": ([_n("Pow", ["x", "two"])], X, C, ["power"], False),
    "Pow general": ([_n("Pow", ["x", "e"])], X, C, ["power"], True),
    "Pow tensor": ([_n("Pow", ["x", "c"])], X, C, ["constant", "pow"], True),
    "Sqrt": ([_n("Sqrt", ["x"])], X, {}, ["sqrt"], True),
    "Reciprocal": ([_n("Reciprocal", ["x"])], X, {}, ["reciprocal"], True),
    "Exp": ([_n("Exp", ["x"])], X, {}, ["exp"], False),
    "Log": ([_n("Log", ["x"])], X, {}, ["log"], True),
    "Erf": ([_n("Erf", ["x"])], X, {}, ["erf"], False),
    "Neg": ([_n("Neg", ["x"])], X, {}, ["neg"], False),
    "Abs": ([_n("Abs", ["x"])], X, {}, ["abs"], False),
    "HardSigmoid": ([_n("HardSigmoid", ["x"], alpha=1 / 6, beta=0.5)], X, {}, ["hardsigmoid"], False),
    "ReduceMean": ([_n("ReduceMean", ["x"], axes=[-1], keepdims=1)], X, {}, ["reduce_mean"], False),
    "ReduceSum": ([_n("ReduceSum", ["x", "ax"], keepdims=0)], X, {"ax": np.array([1], np.int64)},
                  ["reduce_sum"], False),
    "ReduceMax": ([_n("ReduceMax", ["x"], axes=[0, 2], keepdims=0)], X, {}, ["reduce_max"], False),
    "ReduceL2": ([_n("ReduceL2", ["x"], axes=[-1], keepdims=1)], X, {}, ["reduce_l2"], False),
    "ReduceL1": ([_n("ReduceL1", ["x"], axes=[1], keepdims=0)], X, {}, ["reduce_l1"], False),
    "ReduceSumSquare": ([_n("ReduceSumSquare", ["x"], axes=[0, 2], keepdims=1)], X, {}, ["reduce_sum_square"], False),
    "ArgMax": ([_n("ArgMax", ["x"], axis=2, keepdims=0), ], X, {}, ["argmax"], False),
    "Gather scalar": ([_n("Gather", ["x", "i"], axis=1)], X, {"i": np.array(-1, np.int64)}, ["gather"], False),
    "Gather list": ([_n("Gather", ["x", "i"], axis=2)], X, {"i": np.array([4, 0, 4], np.int64)}, ["gather"], False),
    "Slice": ([_n("Slice", ["x", "st", "en", "ax", "sp"])], X,
              {"st": np.array([1, -1], np.int64), "en": np.array([2**62, -7], np.int64),
               "ax": np.array([1, 2], np.int64), "sp": np.array([1, -2], np.int64)}, ["slice"], False),
    "Expand": ([_n("Expand", ["x", "sh"])], [_vi("x", [2, 1, 6])], {"sh": np.array([3, 1, 1, 1], np.int64)},
               ["expand"], False),
    "Tile": ([_n("Tile", ["x", "r"])], X, {"r": np.array([1, 2, 1], np.int64)}, ["tile"], False),
    "Where": ([helper.make_node("Less", ["x", "c"], ["m"]), _n("Where", ["m", "x", "s"])], X, C,
              ["constant", "less", "constant", "where"], False),
    "Equal": ([helper.make_node("Equal", ["x", "x"], ["m"]), _n("Cast", ["m"], to=TensorProto.FLOAT)], X, {},
              ["equal", "identity"], False),
    "Concat const": ([_n("Concat", ["c3", "x"], axis=2)], X, {"c3": np.ones((2, 3, 2), np.float32)},
                     ["constant", "concat"], False),
    "Einsum": ([_n("Einsum", ["x", "w"], equation="bqd,dk->bkq")], X, {"w": np.ones((6, 4), np.float32)},
               ["reshape", "constant", "matmul", "reshape", "transpose"], False),
    "Einsum batched": ([_n("Einsum", ["x", "x"], equation="bqd,bkd->bqk")], X, {},
                       ["transpose", "matmul"], False),
    "MatMul const first": ([_n("MatMul", ["w", "x"])], X, {"w": RNG.standard_normal((4, 3)).astype(np.float32)},
                           ["constant", "matmul"], False),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_generic_op_agrees_with_onnxruntime_and_is_costed(tmp_path, case):
    nodes, inputs, inits, ops, positive = CASES[case]
    used = {t for n in nodes for t in n.input}
    p = _save(tmp_path, nodes, inputs, Y, {k: v for k, v in inits.items() if k in used})
    shapes = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in inputs}
    g = _agree(p, shapes, positive)
    assert sorted(n.op for n in g.nodes) == sorted(ops)
    _costed_everywhere(g)


def test_embedding_lookup_from_token_ids(tmp_path):
    table = RNG.standard_normal((10, 4)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["wte", "ids"], ["e"], name="wte"),
             helper.make_node("ReduceSum", ["e", "ax"], ["y"], keepdims=0)]
    p = _save(tmp_path, nodes, [_vi("ids", [1, 5], TensorProto.INT64)], Y, {"wte": table, "ax": np.array([1])})
    g = load_onnx(p)
    assert [n.op for n in g.nodes] == ["embedding", "reduce_sum"] and str(g.tensor("ids").dtype) == "int64"
    ids = np.array([[3, 0, 9, 3, 1]], np.int64)
    ref = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"ids": ids})[0]
    np.testing.assert_allclose(execute(g, {"ids": ids}).outputs["y"], ref, rtol=1e-6)
    assert count_graph(g).params == 40 and str(g.tensor("e").dtype) == "fp32"
    from hwsim.cost.work import prepare
    work = next(w for w in prepare(g).ops if w.op == "embedding")
    assert work.param_bytes == 5 * 4 * 4  # the 5 rows gathered, not the 10-row table
    _costed_everywhere(g)


def test_unnamed_node_errors_name_index_and_op(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Einsum", ["a", "a"], ["y"], equation="ii->i")]
    p = _save(tmp_path, nodes, [_vi("x", [3, 3])], Y)
    with pytest.raises(ModelFormatError, match=r"node #1 \(Einsum, unnamed\)"):
        load_onnx(p)


def test_scattered_mask_is_folded_and_large_folded_constants_keep_shapes(tmp_path):
    """Swin's shifted-window mask: slice assignments into a zeros tensor export as ConstantOfShape +
    ScatterND on constants (folded); a folded constant over 4,096 elements still gives its shape to the
    next round of shape inference."""
    idx = np.array([[[0, 0, j] for j in range(3)]], np.int64)
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["z"], value=numpy_helper.from_array(np.zeros(1, np.float32))),
             helper.make_node("ScatterND", ["z", "idx", "upd"], ["mask"]),
             helper.make_node("Add", ["x", "mask"], ["y"], name="masked")]
    inits = {"s": np.array([1, 1, 5000], np.int64), "idx": idx, "upd": np.full((1, 3), -100.0, np.float32)}
    p = _save(tmp_path, nodes, [_vi("x", [1, 2, 5000])], Y, inits)
    g = _agree(p, {"x": (1, 2, 5000)})
    assert sorted(n.op for n in g.nodes) == ["add", "constant"]


def test_swin_v2_constant_subgraphs_fold_and_large_index_initializers_are_read(tmp_path):
    """Swin V2's attention: ``clamp(logit_scale, max=log 100).exp()`` and the continuous position-bias MLP
    over a constant coordinate table (MatMul, Relu, MatMul, Sigmoid) are constant subgraphs, folded as
    onnxruntime folds them; the bias is then gathered by a relative-position index initializer large
    enough to be read lazily (the reader needs its values) and normalised with ReduceL2."""
    table = RNG.standard_normal((169, 2)).astype(np.float32)
    w1 = RNG.standard_normal((2, 8)).astype(np.float32)
    w2 = RNG.standard_normal((8, 3)).astype(np.float32)
    index = RNG.integers(0, 169, size=2401).astype(np.int64)
    nodes = [helper.make_node("Clip", ["logit", "", "hi"], ["clipped"]),
             helper.make_node("Exp", ["clipped"], ["scale"]),
             helper.make_node("MatMul", ["table", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["hr"]),
             helper.make_node("MatMul", ["hr", "w2"], ["bias_table"]),
             helper.make_node("Sigmoid", ["bias_table"], ["bias_sig"]),
             helper.make_node("Gather", ["x", "index"], ["g"], axis=1, name="gather_rel"),
             helper.make_node("ReduceL2", ["g"], ["n"], axes=[-1], keepdims=1, name="l2"),
             helper.make_node("Div", ["g", "n"], ["unit"], name="normalise"),
             helper.make_node("Mul", ["unit", "scale"], ["scaled"], name="scale"),
             helper.make_node("Gather", ["bias_sig", "index"], ["bias_sum"], axis=0),
             helper.make_node("Add", ["scaled", "bias_sum"], ["y"], name="add_bias")]
    inits = {"logit": np.array([5.0], np.float32), "hi": np.array(np.log(100.0), np.float32), "table": table,
             "w1": w1, "w2": w2, "index": index}
    p = _save(tmp_path, nodes, [_vi("x", [2, 169, 3])], [_vi("y", [2, 2401, 3])], inits)
    g = _agree(p, {"x": (2, 169, 3)})
    # the constant subgraphs are gone (their results held as constants); only the activation path is costed
    assert sorted(n.op for n in g.nodes if n.op != "constant") == ["add", "div", "gather", "mul", "reduce_l2"]
    _costed_everywhere(g)
