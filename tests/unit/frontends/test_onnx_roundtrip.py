"""Export workloads with the ONNX writer, read them back with the reader: same graph, same counts, same
weights; the files pass onnx.checker; every tensor's shape agrees with onnx.shape_inference."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from hwsim.errors import ModelFormatError
from hwsim.frontends import load_model
from hwsim.frontends.model_json import graph_to_document
from hwsim.frontends.onnx_writer import EXPORTERS, OPSET, graph_to_onnx, save_onnx
from hwsim.ir import INT8, Node, OpGraph, all_ops, count_graph

from testutils import WORKLOADS

# small and medium workloads covering every op the standard networks use (VGG/AlexNet/ResNet-50 only add size)
MODELS = ["lenet300_100", "lenet5", "resnet18", "mobilenet_v1", "mobilenet_v2", "squeezenet1_0", "squeezenet1_1",
          "shufflenet_v2", "transformer_tiny"]


@pytest.fixture(scope="module", params=MODELS)
def exported(request, tmp_path_factory):
    g = load_model(WORKLOADS / f"{request.param}.json")
    path = tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx"
    save_onnx(g, path)
    return g, path


def test_same_totals_and_graph_from_onnx_as_from_json(exported):
    g, path = exported
    g2 = load_model(path)
    c1, c2 = count_graph(g), count_graph(g2)
    assert (c2.params, c2.macs, c2.weight_bytes, c2.activation_bytes, c2.arith) == \
           (c1.params, c1.macs, c1.weight_bytes, c1.activation_bytes, c1.arith)
    assert [(n.name, n.macs, n.params, n.out_shape) for n in c2.nodes] == \
           [(n.name, n.macs, n.params, n.out_shape) for n in c1.nodes]
    d1, d2 = graph_to_document(g), graph_to_document(g2)
    assert d2["nodes"] == d1["nodes"] and d2["inputs"] == d1["inputs"] and d2["outputs"] == d1["outputs"]


def test_weights_survive_the_trip(exported):
    g, path = exported
    g2 = load_model(path)
    for t in g.weight_names():
        assert g2.weights.provided(t)
        np.testing.assert_array_equal(g2.weight(t), g.dense_weight(t))


def test_checker_and_shape_inference_agree_with_hwsim(exported):
    g, path = exported
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert {o.domain or "": o.version for o in model.opset_import} == {"": OPSET}
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx_shapes = {vi.name: tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)
                   for vi in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output)}
    g2 = load_model(path)
    acts = [name for name, spec in g2.tensors.items() if not spec.is_weight]
    assert acts and all(name in onnx_shapes for name in acts)
    for name in acts:
        assert g2.tensor(name).shape == onnx_shapes[name], name


def test_linear_export_keeps_out_in_layout():
    g = load_model(WORKLOADS / "transformer_tiny.json")
    model = graph_to_onnx(g)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    w = g.dense_weight("layers.0.attn.q.weight")  # [out, in]; rank-3 input -> MatMul by W^T
    np.testing.assert_array_equal(inits["layers.0.attn.q.weight"], w.T)
    lenet = load_model(WORKLOADS / "lenet300_100.json")
    gemm_inits = {i.name: i for i in graph_to_onnx(lenet).graph.initializer}
    assert list(gemm_inits["ip1.weight"].dims) == [300, 784]
    gemm = next(n for n in graph_to_onnx(lenet).graph.node if n.op_type == "Gemm")
    assert {a.name: a.i for a in gemm.attribute} == {"transB": 1}


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    g = load_model(WORKLOADS / "lenet5.json")
    out = tmp_path / "sub" / "lenet5.onnx"
    save_onnx(g, out)
    save_onnx(g, out)  # overwrite
    assert [p.name for p in out.parent.iterdir()] == ["lenet5.onnx"]


def test_export_refuses_what_onnx_cannot_say():
    g = load_model(WORKLOADS / "lenet5.json")
    q = g.with_specs({"relu1": g.tensor("relu1").with_(dtype=INT8)})
    with pytest.raises(ModelFormatError, match="fp32"):
        graph_to_onnx(q)
    g = load_model(WORKLOADS / "lenet300_100.json")
    fake = OpGraph.__new__(OpGraph)  # a graph with an op kind ONNX has no spelling for (structured layers)
    fake.__dict__.update(g.__dict__)
    node = g.nodes[1]
    fake._nodes = (g.nodes[0], Node(node.name, "circulant", node.inputs, node.outputs, {}, {}), *g.nodes[2:])
    assert "circulant" in {o.name for o in all_ops()} and "circulant" not in EXPORTERS
    with pytest.raises(ModelFormatError, match="op 'circulant' cannot be exported.*exportable ops: .*conv2d"):
        graph_to_onnx(fake)
