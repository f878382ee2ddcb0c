"""Property test of the ONNX reader on mutated small models (issue 12 item 7): whatever the mutation (op
types, attributes, inputs, initializer dims / types / bytes, input shapes, opset), reading either
succeeds or raises an HwsimError (exit 2, file and place named): never another exception. Plus one
regression test per class of bad input the probe found."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from hwsim.errors import HwsimError, ModelFormatError, ShapeError
from hwsim.frontends.onnx_reader import load_onnx

RNG = np.random.default_rng(3)


def _init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(arr), name)


def _model(nodes, inputs, inits, outputs=("y",)) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "fuzz", inputs, [helper.make_empty_tensor_value_info(o) for o in outputs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _cnn() -> onnx.ModelProto:
    f32 = lambda *s: RNG.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[1, 1]),
             helper.make_node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["bn"], name="bn"),
             helper.make_node("Relu", ["bn"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Shape", ["p"], ["sh"]), helper.make_node("Gather", ["sh", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["ts"], axis=0),
             helper.make_node("Reshape", ["p", "ts"], ["flat"], name="flat"),
             helper.make_node("Gemm", ["flat", "fw", "fb"], ["y"], name="fc", transB=1)]
    inits = [_init("w", f32(4, 3, 3, 3)), _init("b", f32(4)), _init("g", f32(4)), _init("be", f32(4)),
             _init("mu", f32(4)), _init("var", np.abs(f32(4)) + 1), _init("zero", np.array(0, np.int64)),
             _init("ax0", np.array([0], np.int64)), _init("minus1", np.array([-1], np.int64)),
             _init("fw", f32(5, 64)), _init("fb", f32(5))]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])], inits)


def _attention() -> onnx.ModelProto:
    f32 = lambda *s: RNG.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"], name="q"),
             helper.make_node("MatMul", ["x", "wk"], ["k"], name="k"),
             helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1], name="kt"),
             helper.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
             helper.make_node("Mul", ["s", "scale"], ["ss"], name="scale"),
             helper.make_node("Where", ["mask", "ss", "neg"], ["sm"], name="mask"),
             helper.make_node("Softmax", ["sm"], ["p"], axis=-1, name="softmax"),
             helper.make_node("MatMul", ["p", "x"], ["a"], name="av"),
             helper.make_node("ReduceMean", ["a"], ["m"], axes=[-1], name="mean"),
             helper.make_node("Sub", ["a", "m"], ["y"], name="centre")]
    inits = [_init("wq", f32(8, 8)), _init("wk", f32(8, 8)), _init("scale", np.float32(0.35)),
             _init("mask", np.tril(np.ones((6, 6), bool))), _init("neg", np.float32(-1e9))]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 8])], inits)


def _big() -> onnx.ModelProto:
    """Weights over onnx_file.MIN_LAZY_BYTES: left in the file and read lazily."""
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2", transB=1)]
    inits = [_init("w1", RNG.standard_normal((64, 96)).astype(np.float32)),
             _init("w2", RNG.standard_normal((80, 96)).astype(np.float32)), _init("b2", np.zeros(80, np.float32))]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])], inits)


BASES = {"cnn": _cnn(), "attention": _attention(), "big": _big()}
OP_TYPES = ["Conv", "Relu", "Add", "Mul", "Div", "MatMul", "Gemm", "Reshape", "Concat", "Gather", "Slice", "Expand",
            "ConstantOfShape", "Tile", "Range", "Transpose", "Softmax", "Where", "ReduceMean", "Einsum", "Split",
            "Squeeze", "Unsqueeze", "Pad", "Resize", "Cast", "NonZero", "Loop", "BatchNormalization", "MaxPool"]
INTS = st.one_of(st.integers(-3, 8), st.sampled_from([0, -1, 2**31, 2**40, 10**6]))


@st.composite
def mutated(draw) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(BASES[draw(st.sampled_from(sorted(BASES)))])
    g = m.graph
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["op", "attr", "input", "dims", "dtype", "bytes", "shape", "opset", "drop"]))
        if kind == "op":
            g.node[draw(st.integers(0, len(g.node) - 1))].op_type = draw(st.sampled_from(OP_TYPES))
        elif kind == "attr":
            node = g.node[draw(st.integers(0, len(g.node) - 1))]
            name = draw(st.sampled_from(["axis", "perm", "kernel_shape", "strides", "pads", "transB", "group",
                                         "keepdims", "axes", "to", "alpha", "epsilon", "equation", "mode"]))
            value = draw(st.one_of(INTS, st.lists(INTS, max_size=5), st.floats(allow_nan=True),
                                   st.sampled_from(["ii->i", "ab,bc->ac", "xyz", ""])))
            kept = [a for a in node.attribute if a.name != name]
            del node.attribute[:]
            node.attribute.extend(kept)
            try:
                node.attribute.append(helper.make_attribute(name, value))
            except (ValueError, TypeError):
                pass
        elif kind == "input":
            node = g.node[draw(st.integers(0, len(g.node) - 1))]
            names = [t for n in g.node for t in n.output] + [i.name for i in g.initializer] + ["", "nowhere"]
            if node.input:
                node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(names))
        elif kind == "dims" and g.initializer:
            t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
            del t.dims[:]
            t.dims.extend(draw(st.lists(st.integers(-2, 10**5), max_size=4)))
        elif kind == "dtype" and g.initializer:
            g.initializer[draw(st.integers(0, len(g.initializer) - 1))].data_type = draw(st.integers(0, 25))
        elif kind == "bytes" and g.initializer:
            t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
            t.raw_data = t.raw_data[: draw(st.integers(0, len(t.raw_data)))]
        elif kind == "shape":
            dims = g.input[0].type.tensor_type.shape.dim
            d = dims[draw(st.integers(0, len(dims) - 1))]
            d.Clear()
            d.dim_value = draw(st.sampled_from([0, 1, 2, 7, 10**6]))
        elif kind == "opset":
            m.opset_import[0].version = draw(st.integers(1, 25))
        elif kind == "drop" and len(g.node) > 1:
            del g.node[draw(st.integers(0, len(g.node) - 1))]
    return m.SerializeToString()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_models_load_or_fail_with_an_hwsim_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "m.onnx"
    path.write_bytes(data)
    try:
        load_onnx(path)
    except HwsimError as e:
        assert str(path) in str(e)


def test_bases_load():
    for name, m in BASES.items():
        assert load_onnx(_save(m, name)).nodes


_SAVED = tempfile.TemporaryDirectory(prefix="hwsim-onnx-fuzz-")  # removed when the session ends
_SERIAL = itertools.count()


def _save(m: onnx.ModelProto, name: str) -> Path:
    path = Path(_SAVED.name) / f"{next(_SERIAL)}-{name}.onnx"
    path.write_bytes(m.SerializeToString())
    return path


# --- regressions, one per class ----------------------------------------------------------------------

def test_huge_declared_constant_is_refused_before_allocating():
    """The 164-byte file that drove `stats` to 7.7 GB: ConstantOfShape / Expand / Tile without a size bound."""
    for op, extra in (("ConstantOfShape", []), ("Expand", ["one"]), ("Tile", ["one"])):
        shape = _init("s", np.array([100_000, 100_000], np.int64))
        inputs = ["one", "s"] if op != "ConstantOfShape" else ["s"]
        nodes = [helper.make_node(op, inputs, ["c"]), helper.make_node("Add", ["x", "c"], ["y"])]
        inits = [shape, _init("one", np.ones((1, 1), np.float32))]
        m = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], inits)
        with pytest.raises(ModelFormatError, match=r"node #0 \(" + op + r", unnamed\).*10,000,000,000 elements"):
            load_onnx(_save(m, op))


@pytest.mark.parametrize("mutation", ["short bytes", "unknown type", "string type", "negative dims"])
def test_malformed_initializer_is_named(mutation):
    m = _cnn()
    t = next(i for i in m.graph.initializer if i.name == "fw")
    if mutation == "short bytes":
        t.raw_data = t.raw_data[:10]
    elif mutation == "unknown type":
        t.data_type = 99
    elif mutation == "string type":
        t.data_type = TensorProto.STRING
    else:
        t.dims[0] = -5
    with pytest.raises(ModelFormatError, match="initializer 'fw'"):
        load_onnx(_save(m, "bad"))


def test_weight_of_the_wrong_shape_is_refused_as_onnxruntime_refuses_it():
    m = _cnn()
    fw = next(i for i in m.graph.initializer if i.name == "fw")
    fw.CopyFrom(_init("fw", np.ones((5, 60), np.float32)))
    with pytest.raises(HwsimError, match="fc"):
        load_onnx(_save(m, "gemm"))
    m = _cnn()
    w = next(i for i in m.graph.initializer if i.name == "w")
    w.CopyFrom(_init("w", np.ones((4, 5, 3, 3), np.float32)))
    with pytest.raises(ShapeError, match=r"node 'conv'.*weight 'w' has shape \[4, 5, 3, 3\]"):
        load_onnx(_save(m, "conv"))
    m = _attention()
    wq = next(i for i in m.graph.initializer if i.name == "wq")
    wq.CopyFrom(_init("wq", np.ones((7, 8), np.float32)))
    with pytest.raises(ModelFormatError, match=r"node 'q' \(MatMul\).*inner dimensions differ"):
        load_onnx(_save(m, "matmul"))


def test_weights_left_in_the_file_read_exactly_and_checked():
    import onnxruntime as ort

    from hwsim.frontends.onnx_file import read_model
    from hwsim.kernels.executor import execute

    p = _save(_big(), "big")
    model, lazy = read_model(p)
    assert set(lazy) == {"w1", "w2"} and len(model.SerializeToString()) < 4096  # the weights stayed in the file
    g = load_onnx(p)
    x = RNG.standard_normal((2, 64)).astype(np.float32)
    ref = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = execute(g, {"x": x}).outputs["y"]
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) <= 1e-5
    m = _big()
    m.graph.initializer[1].dims[0] = 81  # declares 81 x 96 values, stores 80 x 96
    with pytest.raises(ModelFormatError, match="initializer 'w2': dims \\[81, 96\\] declare"):
        load_onnx(_save(m, "short"))
    data = p.read_bytes()
    for cut in (len(data) // 2, len(data) - 3):
        q = p.with_name(f"cut{cut}.onnx")
        q.write_bytes(data[:cut])
        with pytest.raises(ModelFormatError, match="not a readable ONNX model"):
            load_onnx(q)


def test_graph_with_weights_left_in_the_file_pickles_with_its_values():
    import pickle

    g = load_onnx(_save(_big(), "pickled"))
    again = pickle.loads(pickle.dumps(g.weights))
    name = g.nodes[0].params["weight"]
    np.testing.assert_array_equal(again.get(name, g.tensor(name).shape, "zeros"), g.weight(name))
