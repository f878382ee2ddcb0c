"""The systolic-32x32 lowering against SCALE-Sim's compute cycles on ResNet-18's conv layers.

Reference: SCALE-Sim v3.0.0 (Samajdar et al., ISPASS 2020; github.com/scalesim-project/scale-sim-v2),
really run once by ``tests/golden/tools/run_scalesim.py`` on a 32x32 array in each dataflow (os, ws,
is) with the configs, topology and raw COMPUTE_REPORT files committed under data/scalesim/. The
numbers are SCALE-Sim's "Total Cycles" per layer (stall cycles are 0 in its CALC bandwidth mode, so
they are compute cycles). Target: within 1% per layer. This test does not need scalesim installed.
"""

from __future__ import annotations

import csv
import json

import pytest
from testutils import GOLDEN_DATA, WORKLOADS

from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.ir import Node, OpGraph, TensorSpec
from hwsim.sim import op_costs

DATA = GOLDEN_DATA / "scalesim"
REF = json.loads((DATA / "scalesim_resnet18_32x32.json").read_text())
LAYERS = {ly["name"]: ly for ly in REF["layers"]}
DATAFLOWS = sorted(REF["dataflows"])


def layer_graph(ly: dict) -> OpGraph:
    """One ResNet-18 layer as hwsim builds it (real input size and padding, batch 1)."""
    if ly["name"] == "fc":
        return OpGraph.build("fc", [TensorSpec("x", (1, ly["channels"]))],
                             [Node("fc", "linear", ("x",), ("y",), {"out_features": ly["filters"]})], ["y"])
    return OpGraph.build(ly["name"], [TensorSpec("x", (1, ly["channels"], ly["in_hw"], ly["in_hw"]))],
                         [Node(ly["name"], "conv2d", ("x",), ("y",),
                               {"out_channels": ly["filters"], "kernel": ly["kernel"], "stride": ly["stride"],
                                "padding": ly["padding"]})], ["y"])


def hwsim_cycles(ly: dict, dataflow: str) -> int:
    dev = load_device("systolic-32x32", {"array.dataflow": dataflow})
    assert (dev.systolic.rows, dev.systolic.cols) == tuple(REF["array"])
    return op_costs(layer_graph(ly), dev)[0].extra["array_cycles"]


def test_reference_covers_every_dataflow_and_resnet18_conv() -> None:
    assert DATAFLOWS == ["is", "os", "ws"], "run tests/golden/tools/run_scalesim.py for every dataflow"
    g = load_model(WORKLOADS / "resnet18.json")
    convs = [n for n in g.nodes if n.op == "conv2d"]
    assert [n.name for n in convs] == [ly["name"] for ly in REF["layers"] if ly["name"] != "fc"]
    for n in convs:  # the topology is ResNet-18's real layers
        ly = LAYERS[n.name]
        _, c, h, _ = g.tensor(n.inputs[0]).shape
        assert (c, h, n.attrs["out_channels"], n.attrs["kernel"][0], n.attrs["stride"][0]) == \
            (ly["channels"], ly["in_hw"], ly["filters"], ly["kernel"], ly["stride"])
        assert g.tensor(n.outputs[0]).shape[2] == ly["out_hw"]


def test_raw_reports_match_the_summary() -> None:
    for df in DATAFLOWS:
        with (DATA / REF["dataflows"][df]["report"]).open() as f:
            rows = list(csv.reader(f))[1:]
        cycles = [int(r[2]) for r in rows]
        assert cycles == [ly["compute_cycles"] for ly in REF["dataflows"][df]["layers"]]
        assert all(ly["stall_cycles"] == 0 for ly in REF["dataflows"][df]["layers"])


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_compute_cycles_within_one_percent(dataflow: str) -> None:
    worst = 0.0
    for row in REF["dataflows"][dataflow]["layers"]:
        ref = row["compute_cycles"]
        ours = hwsim_cycles(LAYERS[row["name"]], dataflow)
        err = abs(ours - ref) / ref
        worst = max(worst, err)
        assert err <= 0.01, f"{dataflow} {row['name']}: hwsim {ours} vs SCALE-Sim {ref}"
    assert worst <= 0.01
