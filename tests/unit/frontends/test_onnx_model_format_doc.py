"""docs/model-format.md stays true: its LeNet example loads as written, every op kind and every ONNX op
the reader supports is documented."""

from __future__ import annotations

import json
import re

from hwsim.frontends.model_json import parse_model
from hwsim.frontends.onnx_reader import supported_ops
from hwsim.ir import all_ops, count_graph

from testutils import ROOT

DOC = (ROOT / "docs" / "model-format.md").read_text()


def test_lenet_example_loads_and_is_short():
    block = re.search(r"```json\n(.*?)```", DOC, re.S).group(1)
    g = parse_model(json.loads(block), "docs/model-format.md")
    assert count_graph(g).params == 431_080 and len(block.splitlines()) <= 30
    assert g.tensor("conv1").shape == (1, 20, 24, 24) and g.outputs == ("prob",)


def test_every_op_kind_is_documented():
    ops_section = DOC.split("## Ops", 1)[1].split("## ", 1)[0]
    missing = [op.name for op in all_ops() if f"`{op.name}`" not in ops_section]
    assert not missing, f"document these ops in docs/model-format.md: {missing}"


def test_every_supported_onnx_op_is_documented():
    onnx_section = DOC.split("## ONNX", 1)[1]
    missing = [op for op in supported_ops() if not re.search(rf"\b{op}\b", onnx_section)]
    assert not missing, missing
