"""model.json: shorthand, round trip, schema file in sync, errors naming file and key path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwsim.errors import HwsimError, ModelFormatError
from hwsim.frontends import load_model
from hwsim.frontends.model_json import graph_to_document, json_schema, load_model_json, save_model_json
from hwsim.ir import INT8, count_graph


def _write(tmp_path: Path, doc) -> Path:
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return p


def test_sequential_shorthand_lenet5(tmp_path, lenet5_doc):
    g = load_model(_write(tmp_path, lenet5_doc))
    assert [n.name for n in g.nodes][:2] == ["conv1", "pool1"]
    assert g.outputs == ("ip2",)
    # Caffe LeNet-5 as in Deep Compression: 431,080 parameters (Han et al. 2016, Table 1 / anchors README)
    assert count_graph(g).params == 431_080


def test_load_save_load_identical(tmp_path, lenet5_doc):
    g1 = load_model(_write(tmp_path, lenet5_doc))
    g1 = g1.with_specs({"ip1.weight": g1.tensor("ip1.weight").with_(dtype=INT8, encoding="csr", density=0.08,
                                                                    stored_bits=12345, meta={"index_bits": 5})})
    out = tmp_path / "again.json"
    save_model_json(g1, out)
    g2 = load_model_json(out)
    assert graph_to_document(g1) == graph_to_document(g2)
    assert dict(g1.tensors) == dict(g2.tensors)
    save_model_json(g2, tmp_path / "third.json")
    assert (tmp_path / "third.json").read_text() == out.read_text()


def test_schema_file_in_package_is_current():
    shipped = Path(__file__).resolve().parents[3] / "hwsim" / "frontends" / "model.schema.json"
    assert json.loads(shipped.read_text()) == json_schema(), "regenerate with: python -m hwsim.frontends.schema"


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d.pop("nodes"), "nodes"),
    (lambda d: d["nodes"][2]["attrs"].pop("kernel"), "conv2"),
    (lambda d: d["nodes"][1].update(op="maxpool3d"), "pool1"),
    (lambda d: d["nodes"][5]["attrs"].update(in_features=799), "ip1"),
    (lambda d: d.update(bogus=1), "bogus"),
    (lambda d: d["nodes"][0].update(inputs=["missing"]), "missing"),
    (lambda d: d["nodes"][3].update(name="conv2"), "duplicate node"),
    (lambda d: d["inputs"][0].update(shape=[1, 0, 28, 28]), "invalid shape"),
    (lambda d: d.update(nodes=[]), "nodes"),
])
def test_errors_name_file_and_place(tmp_path, lenet5_doc, mutate, where):
    mutate(lenet5_doc)
    p = _write(tmp_path, lenet5_doc)
    with pytest.raises(HwsimError) as e:
        load_model(p)
    assert str(p) in str(e.value) and where in str(e.value)


def test_malformed_json(tmp_path):
    p = _write(tmp_path, '{"name": "x",,}')
    with pytest.raises(ModelFormatError, match="line 1 column"):
        load_model(p)
