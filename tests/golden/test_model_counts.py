"""Parameter and MAC totals of the committed workloads against published figures.

Sources are named per record in ``tests/golden/data/model_counts.json`` (copied from
``../shared/anchors``): torchvision's own architectures counted at 1x3x224x224 (exact), torchvision's
weight metadata (rounded, 0.5%), and the MobileNet / Deep Compression / Han 2015 papers.
Params are trainable values (batchnorm gamma/beta included, running statistics not, as torchvision counts);
MACs are conv + linear + matmul multiply-accumulates (``count_graph(g).macs``).
"""

from __future__ import annotations

import json

import pytest

from hwsim.frontends import load_model
from hwsim.ir import count_graph
from hwsim.ir.ops import OpGroup

from testutils import ANCHORS, WORKLOADS

FIGURES = json.loads((ANCHORS / "model_counts.json").read_text())["models"]
TORCHVISION = [name for name, rec in FIGURES.items() if "macs" in rec and rec["tolerance"] == 0.0]


def _counts(name: str):
    return count_graph(load_model(WORKLOADS / f"{name}.json"))


def _close(measured: float, published: float, tol: float) -> bool:
    return abs(measured - published) <= tol * abs(published)


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_architectures_match_exactly(name):
    rec = FIGURES[name]
    c = _counts(name)
    assert (c.params, c.macs) == (rec["params"], rec["macs"]), rec["source"]


@pytest.mark.parametrize("name", [n for n, r in FIGURES.items() if "published" in r])
def test_torchvision_published_meta_within_half_percent(name):
    pub = FIGURES[name]["published"]
    c = _counts(name)
    assert c.params == pub["params"], pub["source"]
    assert _close(c.macs / 1e9, pub["gmacs"], pub["tolerance"]), (c.macs, pub)


def test_mobilenet_v1_paper_totals_and_shares():
    """Howard et al. 2017: 569 M mult-adds, 4.2 M params. The paper's Table 2 shares sum to 100% over conv and
    FC layers only, so its 4.2 M counts conv + FC weights and biases, not batchnorm. hwsim's total (with the
    batchnorm gamma/beta every layer has, as torchvision would count) is 4,231,976, +0.76% above 4.2 M: that is
    checked separately rather than hidden inside a looser tolerance."""
    rec = FIGURES["mobilenet_v1"]
    g = load_model(WORKLOADS / "mobilenet_v1.json")
    c = count_graph(g)
    conv_fc = [n for n in c.nodes if n.group in (OpGroup.CONV.value, OpGroup.DENSE.value)]
    conv_fc_params = sum(n.params for n in conv_fc)
    assert _close(conv_fc_params, rec["params"], rec["tolerance"]), conv_fc_params
    assert _close(c.macs, rec["macs"], rec["tolerance"]), c.macs
    bn_affine = sum(n.params for n in c.nodes if n.op == "batchnorm")
    assert c.params == conv_fc_params + bn_affine and bn_affine == 2 * sum(
        g.tensor(n.outputs[0]).shape[1] for n in g.nodes if n.op == "batchnorm")

    def kind(n) -> str:
        if n.op == "linear":
            return "fc"
        node = g.node(n.name)
        if node.attrs["groups"] > 1:
            return "conv_dw3x3"
        return "conv1x1" if node.attrs["kernel"] == [1, 1] else "conv3x3"

    for share_key, value in (("param_share_pct", lambda n: n.params), ("mac_share_pct", lambda n: n.macs)):
        total = sum(value(n) for n in conv_fc)
        for k, pct in rec[share_key].items():
            measured = 100.0 * sum(value(n) for n in conv_fc if kind(n) == k) / total
            assert abs(measured - pct) < 0.05, (share_key, k, measured, pct)


@pytest.mark.parametrize("name", ["lenet300_100", "lenet5"])
def test_lenets_deep_compression(name):
    rec = FIGURES[name]
    c = _counts(name)
    assert c.params == rec["params"], rec["source"]
    by_name = {n.name: n for n in c.nodes}
    for layer, flops in rec["layer_flops"].items():
        assert _close(2 * by_name[layer].macs, flops, rec["layer_flops_tolerance"]), (layer, by_name[layer].macs)


@pytest.mark.parametrize("name", ["lenet5", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2"])
def test_published_totals_also_from_an_onnx_export(tmp_path, name):
    """The same golden totals when the model arrives as ONNX (hwsim's writer, then the ONNX reader)."""
    from hwsim.frontends.onnx_writer import save_onnx

    path = tmp_path / f"{name}.onnx"
    save_onnx(load_model(WORKLOADS / f"{name}.json"), path)
    c = count_graph(load_model(path))
    rec = FIGURES[name]
    assert c.params == rec["params"], rec["source"]
    if "macs" in rec:
        assert c.macs == rec["macs"]
