"""The ONNX reader on small hand-built models: each op's mapping, weight transforms and folding checked
numerically (onnxruntime on the file vs hwsim's executor on the read graph), and every bad input
rejected with a message naming the file and node."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwsim.errors import HwsimError, ModelFormatError
from hwsim.frontends import load_model
from hwsim.frontends.onnx_reader import load_onnx, supported_ops
from hwsim.kernels.executor import execute

RNG = np.random.default_rng(7)


def _arr(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _vi(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _save(tmp_path: Path, nodes: list, inputs: list, outputs: list, inits: dict | None = None, opset: int = 17,
          name: str = "m") -> Path:
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset <= 17 else 10
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _agree(path: Path, feeds_shape: dict[str, tuple], atol: float = 1e-4):
    """Read the file, run it in onnxruntime and in hwsim's executor, compare every output."""
    g = load_onnx(path)
    feeds = {k: _arr(*s) for k, s in feeds_shape.items()}
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    got = execute(g, feeds).outputs
    for name, r in zip(g.outputs, ref):
        np.testing.assert_allclose(got[name], r, rtol=1e-4, atol=atol, err_msg=name)
    return g


def _ops(g) -> list[str]:
    return [n.op for n in g.nodes]


# --- dense ops and weight layouts -----------------------------------------------------------------

@pytest.mark.parametrize("trans_b, alpha, beta, c_shape", [(0, 2.0, 0.5, [1, 3]), (1, 1.0, 1.0, [3]), (1, 0.5, 2.0, [])])
def test_gemm_constant_b_becomes_linear_out_in(tmp_path, trans_b, alpha, beta, c_shape):
    b = _arr(3, 4) if trans_b else _arr(4, 3)
    c = _arr(*c_shape) if c_shape else np.float32(0.25)
    node = helper.make_node("Gemm", ["x", "B", "C"], ["y"], name="fc", transB=trans_b, alpha=alpha, beta=beta)
    p = _save(tmp_path, [node], [_vi("x", [2, 4])], [_vi("y", [2, 3])], {"B": b, "C": c})
    g = _agree(p, {"x": (2, 4)})
    assert _ops(g) == ["linear"] and g.node("fc").params == {"weight": "B", "bias": "C"}
    np.testing.assert_allclose(g.weight("B"), alpha * (b if trans_b else b.T), rtol=1e-6)
    assert g.tensor("B").shape == (3, 4)


def test_gemm_trans_a_and_two_activation_matmul(tmp_path):
    n1 = helper.make_node("Gemm", ["x", "W"], ["h"], name="g1", transA=1, transB=1)
    n2 = helper.make_node("Gemm", ["h", "z"], ["y"], name="g2")
    p = _save(tmp_path, [n1, n2], [_vi("x", [4, 2]), _vi("z", [3, 5])], [_vi("y", [2, 5])], {"W": _arr(3, 4)})
    g = _agree(p, {"x": (4, 2), "z": (3, 5)})
    assert _ops(g) == ["transpose", "linear", "matmul"]


def test_matmul_plus_bias_folds_into_linear_named_after_initializers(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "fc.w"], ["mm"], name="fc"),
             helper.make_node("Add", ["fc.b", "mm"], ["y"], name="fc_bias")]
    w, b = _arr(8, 6), _arr(6)
    p = _save(tmp_path, nodes, [_vi("x", [1, 5, 8])], [_vi("y", [1, 5, 6])], {"fc.w": w, "fc.b": b})
    g = _agree(p, {"x": (1, 5, 8)})
    assert _ops(g) == ["linear"] and g.nodes[0].outputs == ("y",)
    np.testing.assert_array_equal(g.weight("fc.w"), w.T)
    np.testing.assert_array_equal(g.weight("fc.b"), b)


def test_matmul_of_activations_is_matmul(tmp_path):
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")
    p = _save(tmp_path, [node], [_vi("a", [1, 2, 3, 4]), _vi("b", [1, 2, 4, 5])], [_vi("y", [1, 2, 3, 5])])
    g = _agree(p, {"a": (1, 2, 3, 4), "b": (1, 2, 4, 5)})
    assert _ops(g) == ["matmul"] and g.nodes[0].params == {}


@pytest.mark.parametrize("attrs", [{"pads": [0, 1, 2, 3], "strides": [2, 1]}, {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
                                   {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
                                   {"dilations": [2, 2], "pads": [2, 1, 2, 1]}, {"group": 2, "pads": [1, 1, 1, 1]}])
def test_conv_padding_stride_groups(tmp_path, attrs):
    groups = attrs.get("group", 1)
    w = _arr(4, 4 // groups, 3, 3)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", **attrs)
    p = _save(tmp_path, [node], [_vi("x", [1, 4, 9, 8])], [helper.make_empty_tensor_value_info("y")],
              {"w": w, "b": _arr(4)})
    g = _agree(p, {"x": (1, 4, 9, 8)})
    assert g.node("conv").attrs["groups"] == groups
    if "pads" in attrs:
        assert g.node("conv").attrs["padding"] == attrs["pads"]  # ONNX (x1b, x2b, x1e, x2e) = (t, l, b, r)


def test_scale_and_shift_fold_into_conv_and_batchnorm(tmp_path):
    s, a, s2 = _arr(1, 4, 1, 1), _arr(4, 1, 1), _arr(4, 1, 1)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
             helper.make_node("Mul", ["c", "s"], ["cs"], name="scale"),
             helper.make_node("Add", ["cs", "a"], ["ca"], name="shift"),
             helper.make_node("BatchNormalization", ["ca", "g", "be", "mu", "var"], ["bn"], name="bn"),
             helper.make_node("Div", ["bn", "s2"], ["bd"], name="div"),
             helper.make_node("Sub", ["bd", "a2"], ["y"], name="sub")]
    inits = {"w": _arr(4, 3, 3, 3), "s": s, "a": a, "g": _arr(4), "be": _arr(4), "mu": _arr(4),
             "var": np.abs(_arr(4)) + 0.5, "s2": s2, "a2": np.float32(0.3)}
    p = _save(tmp_path, nodes, [_vi("x", [1, 3, 6, 6])], [_vi("y", [1, 4, 4, 4])], inits)
    g = _agree(p, {"x": (1, 3, 6, 6)})
    assert _ops(g) == ["conv2d", "batchnorm"] and g.node("conv").attrs["bias"]
    np.testing.assert_allclose(g.weight(g.node("conv").params["weight"]), inits["w"] * s.reshape(4, 1, 1, 1))
    np.testing.assert_allclose(g.weight(g.node("conv").params["bias"]), a.reshape(4))


def test_attention_scale_folds_through_views_into_the_query_projection(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"], name="q_proj"),
             helper.make_node("Reshape", ["q", "shape"], ["qh"], name="q_heads"),
             helper.make_node("Transpose", ["qh"], ["qt"], name="q_t", perm=[0, 2, 1, 3]),
             helper.make_node("Mul", ["qt", "scale"], ["qs"], name="q_scale"),
             helper.make_node("Transpose", ["qh"], ["kt"], name="k_t", perm=[0, 2, 3, 1])]
    # the transposed q is also used as "k" here, so the scale cannot pass the shared tensor: check both paths
    nodes[4] = helper.make_node("Transpose", ["x4"], ["kt"], name="k_t", perm=[0, 2, 3, 1])
    nodes.append(helper.make_node("MatMul", ["qs", "kt"], ["y"], name="scores"))
    inits = {"wq": _arr(8, 8), "shape": np.array([1, 5, 2, 4], np.int64), "scale": np.float32(1 / math.sqrt(4))}
    p = _save(tmp_path, nodes, [_vi("x", [1, 5, 8]), _vi("x4", [1, 5, 2, 4])], [_vi("y", [1, 2, 5, 5])], inits)
    g = _agree(p, {"x": (1, 5, 8), "x4": (1, 5, 2, 4)})
    assert "mul" not in _ops(g)
    np.testing.assert_allclose(g.weight("wq"), inits["wq"].T * 0.5)


def test_unfoldable_constant_operands_stay_elementwise_ops(tmp_path):
    """Folding is an optimization: a constant on a graph input or a per-position bias stays an op whose
    constant operand is a ``constant`` node, and still computes what onnxruntime computes."""
    on_input = _save(tmp_path, [helper.make_node("Sub", ["x", "mean"], ["y"], name="normalize")],
                     [_vi("x", [1, 3, 4, 4])], [_vi("y", [1, 3, 4, 4])], {"mean": _arr(1, 3, 1, 1)}, name="a")
    g = _agree(on_input, {"x": (1, 3, 4, 4)})
    assert _ops(g) == ["constant", "sub"] and g.weight("mean").shape == (1, 3, 1, 1)
    spatial = _save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                               helper.make_node("Add", ["c", "pos"], ["y"], name="pos_add")],
                    [_vi("x", [1, 3, 4, 4])], [_vi("y", [1, 2, 4, 4])], {"w": _arr(2, 3, 1, 1), "pos": _arr(4, 4)},
                    name="b")
    g = _agree(spatial, {"x": (1, 3, 4, 4)})
    assert sorted(_ops(g)) == ["add", "constant", "conv2d"]


def test_attention_scale_on_a_matmul_of_two_activations_loads(tmp_path):
    """Mul(QK^T, 1/sqrt(d)) has no producer to fold into: it stays a mul by a constant."""
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["q", "kt"], ["s"]),
             helper.make_node("Mul", ["s", "scale"], ["ss"]),
             helper.make_node("Softmax", ["ss"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["y"])]
    p = _save(tmp_path, nodes, [_vi("q", [1, 5, 4]), _vi("k", [1, 5, 4]), _vi("v", [1, 5, 4])], [_vi("y", [1, 5, 4])],
              {"scale": np.float32(0.5)})
    g = _agree(p, {"q": (1, 5, 4), "k": (1, 5, 4), "v": (1, 5, 4)})
    assert "mul" in _ops(g) and "constant" in _ops(g)


# --- activations and patterns --------------------------------------------------------------------

def _gelu_nodes(variant: str) -> tuple[list, dict]:
    inits = {"sqrt2": np.float32(math.sqrt(2)), "one": np.float32(1.0), "half": np.float32(0.5)}
    head = [helper.make_node("Div", ["x", "sqrt2"], ["d"], name="div"),
            helper.make_node("Erf", ["d"], ["e"], name="erf"),
            helper.make_node("Add", ["e", "one"], ["a"], name="add")]
    if variant == "x*(1+erf)*0.5":
        tail = [helper.make_node("Mul", ["x", "a"], ["m"], name="m1"), helper.make_node("Mul", ["m", "half"], ["y"], name="m2")]
    elif variant == "x*((1+erf)*0.5)":
        tail = [helper.make_node("Mul", ["a", "half"], ["m"], name="m1"), helper.make_node("Mul", ["x", "m"], ["y"], name="m2")]
    else:
        tail = [helper.make_node("Mul", ["x", "half"], ["h"], name="m0"), helper.make_node("Mul", ["h", "a"], ["y"], name="m2")]
    return head + tail, inits


@pytest.mark.parametrize("variant", ["x*(1+erf)*0.5", "x*((1+erf)*0.5)", "(x*0.5)*(1+erf)"])
def test_gelu_erf_pattern_fuses(tmp_path, variant):
    nodes, inits = _gelu_nodes(variant)
    p = _save(tmp_path, nodes, [_vi("x", [2, 7])], [_vi("y", [2, 7])], inits)
    g = _agree(p, {"x": (2, 7)})
    assert _ops(g) == ["gelu"] and g.outputs == ("y",)


def test_onnx_gelu_op_and_silu_pattern(tmp_path):
    nodes = [helper.make_node("Gelu", ["x"], ["g"], name="gelu"),
             helper.make_node("Sigmoid", ["g"], ["s"], name="sig"),
             helper.make_node("Mul", ["g", "s"], ["y"], name="silu")]
    p = _save(tmp_path, nodes, [_vi("x", [3, 5])], [_vi("y", [3, 5])], opset=20)
    g = _agree(p, {"x": (3, 5)})
    assert _ops(g) == ["gelu", "silu"]
    tanh = _save(tmp_path, [helper.make_node("Gelu", ["x"], ["y"], name="g", approximate="tanh")],
                 [_vi("x", [3])], [_vi("y", [3])], opset=20, name="t")
    with pytest.raises(ModelFormatError, match="approximate='tanh'"):
        load_onnx(tanh)


def test_pointwise_activations(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("LeakyRelu", ["a"], ["b"], alpha=0.2),
             helper.make_node("Sigmoid", ["x"], ["c"]), helper.make_node("Tanh", ["c"], ["d"]),
             helper.make_node("HardSwish", ["x"], ["e"]), helper.make_node("Clip", ["x", "zero", "six"], ["f"]),
             helper.make_node("Clip", ["x", "zero"], ["h"]), helper.make_node("Softmax", ["h"], ["i"], axis=1),
             helper.make_node("Identity", ["i"], ["j"]), helper.make_node("Dropout", ["j"], ["k"]),
             helper.make_node("Sum", ["b", "d", "e"], ["s"]), helper.make_node("Mul", ["s", "f"], ["t"]),
             helper.make_node("Add", ["t", "k"], ["y"])]
    p = _save(tmp_path, nodes, [_vi("x", [2, 6])], [_vi("y", [2, 6])], {"zero": np.float32(0), "six": np.float32(6)})
    g = _agree(p, {"x": (2, 6)})
    assert _ops(g) == ["relu", "leaky_relu", "sigmoid", "tanh", "hardswish", "relu6", "relu", "softmax",
                       "identity", "dropout", "add", "mul", "add"]
    assert g.node(g.nodes[1].name).attrs["alpha"] == 0.2


def test_clip_other_range_is_clip(tmp_path):
    p = _save(tmp_path, [helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="clip")], [_vi("x", [2, 5])],
              [_vi("y", [2, 5])], {"lo": np.float32(-1), "hi": np.float32(1)})
    g = _agree(p, {"x": (2, 5)})
    assert _ops(g) == ["clip"] and g.node("clip").attrs == {"min": -1.0, "max": 1.0}


def test_pools_layernorm_and_reductions(tmp_path):
    nodes = [helper.make_node("MaxPool", ["x"], ["a"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("AveragePool", ["a"], ["b"], kernel_shape=[2, 2], pads=[0, 0, 1, 1], ceil_mode=1),
             helper.make_node("GlobalAveragePool", ["b"], ["c"]),
             helper.make_node("ReduceMean", ["a", "axes"], ["d"], keepdims=0),
             helper.make_node("Flatten", ["c"], ["e"], axis=1),
             helper.make_node("Concat", ["e", "d"], ["f"], axis=1),
             helper.make_node("LayerNormalization", ["f", "gamma"], ["y"], epsilon=1e-3)]
    p = _save(tmp_path, nodes, [_vi("x", [1, 4, 9, 9])], [_vi("y", [1, 8])],
              {"axes": np.array([2, 3], np.int64), "gamma": _arr(8)}, opset=18)
    g = _agree(p, {"x": (1, 4, 9, 9)})
    assert _ops(g) == ["maxpool", "avgpool", "global_avgpool", "global_avgpool", "flatten", "flatten", "concat",
                       "layernorm"]
    avg = next(n for n in g.nodes if n.op == "avgpool")
    assert avg.attrs["count_include_pad"] is False and avg.attrs["stride"] == [1, 1]  # ONNX defaults


def test_reshape_from_shape_arithmetic_split_pad_resize_shuffle(tmp_path):
    nodes = [
        # x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape, all folded
        helper.make_node("Shape", ["x"], ["sh"]), helper.make_node("Gather", ["sh", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]), helper.make_node("Concat", ["n1", "minus1"], ["ts"], axis=0),
        helper.make_node("Reshape", ["x", "ts"], ["flat"], name="view"),
        helper.make_node("Reshape", ["flat", "back"], ["x2"], name="unview"),
        helper.make_node("Split", ["x2", "sizes"], ["s0", "s1"], axis=1, name="split"),
        helper.make_node("Pad", ["s0", "pads", "pv"], ["p0"], mode="constant", name="pad"),
        helper.make_node("Resize", ["s1", "", "scales"], ["r1"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor", name="up"),
        helper.make_node("Concat", ["p0", "r1"], ["cat"], axis=1),
        # channel shuffle spelled as reshape / transpose / reshape
        helper.make_node("Reshape", ["cat", "s5"], ["g5"]), helper.make_node("Transpose", ["g5"], ["t5"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t5", "s4"], ["y"], name="shuffle"),
    ]
    inits = {"zero": np.array(0, np.int64), "ax0": np.array([0], np.int64), "minus1": np.array([-1], np.int64),
             "back": np.array([1, 4, 4, 4], np.int64), "sizes": np.array([2, 2], np.int64),
             "pads": np.array([0, 0, 2, 2, 0, 0, 2, 2], np.int64), "pv": np.float32(0.5),
             "scales": np.array([1, 1, 2, 2], np.float32), "s5": np.array([1, 2, 2, 8, 8], np.int64),
             "s4": np.array([1, 4, 8, 8], np.int64)}
    p = _save(tmp_path, nodes, [_vi("x", ["N", 4, 4, 4])], [_vi("y", ["N", 4, 8, 8])], inits)
    g = _agree(p, {"x": (1, 4, 4, 4)})
    assert _ops(g) == ["reshape", "reshape", "split", "pad", "resize", "concat", "channel_shuffle"]
    assert g.node("view").attrs["shape"] == [1, 64] and g.tensor("x").shape == (1, 4, 4, 4)


def test_resize_align_corners_is_refused(tmp_path):
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", mode="linear",
                            coordinate_transformation_mode="align_corners")
    p = _save(tmp_path, [node], [_vi("x", [1, 1, 2, 2])], [_vi("y", [1, 1, 4, 4])],
              {"scales": np.array([1, 1, 2, 2], np.float32)})
    with pytest.raises(ModelFormatError, match="align_corners"):
        load_onnx(p)


def test_shared_initializer_gives_each_node_its_own_weight(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], name="c1", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w"], ["y"], name="c2", pads=[1, 1, 1, 1])]
    p = _save(tmp_path, nodes, [_vi("x", [1, 2, 5, 5])], [_vi("y", [1, 2, 5, 5])], {"w": _arr(2, 2, 3, 3)})
    g = _agree(p, {"x": (1, 2, 5, 5)})
    names = [g.node(n).params["weight"] for n in ("c1", "c2")]
    assert names[0] == "w" and names[1] != "w"
    np.testing.assert_array_equal(g.weight(names[0]), g.weight(names[1]))


# --- errors --------------------------------------------------------------------------------------

def test_unsupported_op_names_type_node_and_supported_list(tmp_path):
    p = _save(tmp_path, [helper.make_node("GlobalMaxPool", ["x"], ["y"], name="gmp")], [_vi("x", [1, 2, 3, 3])],
              [_vi("y", [1, 2, 1, 1])])
    with pytest.raises(ModelFormatError) as e:
        load_model(p)
    msg = str(e.value)
    assert str(p) in msg and "node 'gmp'" in msg and "'GlobalMaxPool'" in msg
    assert all(op in msg for op in ("Conv", "Gemm", "LayerNormalization", "Resize"))
    assert set(supported_ops()) >= {"Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "Clip", "LeakyRelu",
                                    "Sigmoid", "Tanh", "Gelu", "HardSwish", "MaxPool", "AveragePool",
                                    "GlobalAveragePool", "Add", "Mul", "Concat", "Split", "Flatten", "Reshape",
                                    "Transpose", "Softmax", "LayerNormalization", "Pad", "Resize", "Identity",
                                    "Dropout"}


def test_old_opset_symbolic_dims_and_non_float_inputs(tmp_path):
    relu = [helper.make_node("Relu", ["x"], ["y"])]
    with pytest.raises(ModelFormatError, match="opset 12 is older than 13"):
        load_onnx(_save(tmp_path, relu, [_vi("x", [1, 2])], [_vi("y", [1, 2])], opset=12, name="old"))
    with pytest.raises(ModelFormatError, match="symbolic dimension 'seq' at axis 1"):
        load_onnx(_save(tmp_path, relu, [_vi("x", [1, "seq"])], [_vi("y", [1, "seq"])], name="dyn"))
    ids = helper.make_tensor_value_info("x", TensorProto.STRING, [1, 2])
    with pytest.raises(ModelFormatError, match="element type STRING"):
        load_onnx(_save(tmp_path, relu, [ids], [_vi("y", [1, 2])], name="int"))


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all\n", b'{"name": "x"}', bytes(range(256)) * 4])
def test_non_onnx_file_is_a_clear_error(tmp_path, content):
    p = tmp_path / "bogus.onnx"
    p.write_bytes(content)
    with pytest.raises(HwsimError) as e:
        load_model(p)
    assert str(p) in str(e.value) and "ONNX" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="does not exist"):
        load_onnx(tmp_path / "nope.onnx")
