"""ONNX files over protobuf's 2 GB limit keep their weights in external data files (torch.onnx.export
writes one file per tensor beside the model; onnx.save can write one file with offsets). Both layouts
read lazily and run like the self-contained file; a location outside the model's folder, a missing
file or a short file is refused with the initializer named."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwsim.errors import ModelFormatError
from hwsim.frontends.onnx_reader import load_onnx
from hwsim.ir import count_graph
from hwsim.kernels.executor import execute

RNG = np.random.default_rng(5)


def _model() -> onnx.ModelProto:
    w = RNG.standard_normal((64, 32)).astype(np.float32)
    b = RNG.standard_normal(32).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"), helper.make_node("Add", ["h", "b"], ["y"], name="add")]
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 32])],
                              initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _save(folder: Path, one_file: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "m.onnx"
    onnx.save_model(_model(), str(path), save_as_external_data=True, all_tensors_to_one_file=one_file,
                    location="weights.bin" if one_file else None, size_threshold=0)
    return path


@pytest.mark.parametrize("one_file", [True, False], ids=["one file with offsets", "a file per tensor"])
def test_external_data_reads_and_runs_like_onnxruntime(tmp_path, one_file):
    path = _save(tmp_path / "model", one_file)
    assert len(list(path.parent.iterdir())) == (2 if one_file else 3)
    g = load_onnx(path)
    assert count_graph(g).macs == 2 * 64 * 32
    x = RNG.standard_normal((2, 64)).astype(np.float32)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(execute(g, {g.inputs[0]: x}).output, ref, rtol=1e-5, atol=1e-5)


def test_external_data_outside_the_folder_missing_or_short_is_refused(tmp_path):
    path = _save(tmp_path / "model", one_file=True)
    model = onnx.load(str(path), load_external_data=False)
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../elsewhere.bin"
    shutil.copy(path.parent / "weights.bin", tmp_path / "elsewhere.bin")
    onnx.save(model, str(path))
    with pytest.raises(ModelFormatError, match="outside the model's folder"):
        load_onnx(path)

    path = _save(tmp_path / "missing", one_file=True)
    (path.parent / "weights.bin").unlink()
    with pytest.raises(ModelFormatError, match="missing"):
        load_onnx(path)

    path = _save(tmp_path / "short", one_file=True)
    data = (path.parent / "weights.bin").read_bytes()
    (path.parent / "weights.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="lies outside"):
        load_onnx(path)
