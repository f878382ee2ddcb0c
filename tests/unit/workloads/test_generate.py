"""The committed workloads are exactly what workloads/generate.py builds, and each is a sane network."""

from __future__ import annotations

import importlib.util
import json

import pytest

from hwsim.frontends import load_model
from hwsim.ir import count_graph

from testutils import WORKLOADS


def _generator():
    spec = importlib.util.spec_from_file_location("hwsim_workloads_generate", WORKLOADS / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = _generator()


def test_committed_files_are_current(tmp_path):
    built = GEN.build_all()
    assert sorted(built) == sorted(p.name for p in WORKLOADS.glob("*.json"))
    for fname, text in built.items():
        assert (WORKLOADS / fname).read_text() == text, f"{fname} is stale: run python workloads/generate.py"
    assert GEN.main(["--check"]) == 0
    (tmp_path / "lenet5.json").write_text("{}")
    assert GEN.main(["--check", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("name", sorted(GEN.WORKLOADS))
def test_workload_is_batch1_fp32_and_uses_the_shorthand(name):
    doc = json.loads((WORKLOADS / f"{name}.json").read_text())
    g = load_model(WORKLOADS / f"{name}.json")
    x = g.tensor(g.inputs[0])
    assert x.shape[0] == 1 and x.dtype.name == "fp32"
    if name.startswith("lenet"):
        assert x.shape == (1, 1, 28, 28)
    elif name == "cnv":  # CIFAR-10
        assert x.shape == (1, 3, 32, 32) and g.tensor(g.outputs[0]).shape == (1, 10)
    elif name == "kws_mlp":  # 10 x 49 MFCC features, 12 keyword classes
        assert x.shape == (1, 1, 10, 49) and g.tensor(g.outputs[0]).shape == (1, 12)
    elif name != "transformer_tiny":
        assert x.shape == (1, 3, 224, 224) and g.tensor(g.outputs[0]).shape == (1, 1000)
    # the sequential shorthand: most nodes name no inputs
    assert sum("inputs" not in n for n in doc["nodes"]) > len(doc["nodes"]) // 2


def test_transformer_tiny_matches_its_formula():
    layers, hidden, heads, seq, ffn = 2, 128, 2, 128, 4 * 128
    g = load_model(WORKLOADS / "transformer_tiny.json")
    c = count_graph(g)
    per_layer_params = 4 * (hidden * hidden + hidden) + 2 * 2 * hidden + (hidden * ffn + ffn) + (ffn * hidden + hidden)
    assert c.params == layers * per_layer_params + 2 * hidden  # + final layernorm
    linear_macs = seq * (4 * hidden * hidden + 2 * hidden * ffn)
    attention_macs = 2 * heads * seq * seq * (hidden // heads)  # QK^T and AV
    assert c.macs == layers * (linear_macs + attention_macs)
    ops = [n.op for n in g.nodes]
    assert ops.count("layernorm") == 2 * layers + 1 and ops.count("gelu") == layers
    assert ops.count("softmax") == layers and ops.count("matmul") == 2 * layers
    scores = g.tensor("layers.0.attn.scores")
    assert scores.shape == (1, heads, seq, seq)
