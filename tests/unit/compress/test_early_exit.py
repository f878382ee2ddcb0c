"""Early exits: branches, the exit op, graph meta, and the expected / worst-case cost function."""

from __future__ import annotations

import math

import pytest

from hwsim.compress.base import PASSES
from hwsim.compress.early_exit import exit_costs, expected_and_worst_case
from hwsim.errors import CompressionError
from hwsim.ir import Node, OpGraph, TensorSpec, count_graph
from hwsim.ir.ops import OpGroup, op_def

import hwsim.compress.early_exit  # noqa: F401  (registers the pass)
import hwsim.compress.lowrank  # noqa: F401


def _cnn() -> OpGraph:
    return OpGraph.build("cnn", [TensorSpec("x", (1, 3, 16, 16), role="input")], [
        Node("c1", "conv2d", ("x",), ("a",), {"out_channels": 8, "kernel": 3, "padding": 1}),
        Node("r1", "relu", ("a",), ("b",)),
        Node("c2", "conv2d", ("b",), ("c",), {"out_channels": 16, "kernel": 3, "padding": 1, "stride": 2}),
        Node("r2", "relu", ("c",), ("d",)),
        Node("c3", "conv2d", ("d",), ("e",), {"out_channels": 32, "kernel": 3, "padding": 1, "stride": 2}),
        Node("gap", "global_avgpool", ("e",), ("p",)), Node("fl", "flatten", ("p",), ("f",)),
        Node("fc", "linear", ("f",), ("y",), {"out_features": 10})], ["y"])


def _unit_costs(g: OpGraph) -> dict[str, float]:
    return {n.name: 1.0 for n in g.nodes}


def test_exit_op_is_a_control_op_passing_logits_through():
    assert op_def("exit").group == OpGroup.CONTROL
    g = OpGraph.build("e", [TensorSpec("x", (2, 10), role="input")],
                      [Node("ex", "exit", ("x",), ("y",), {"probability": 0.4, "threshold": 0.9})], ["y"])
    assert g.tensor("y").shape == (2, 10)
    counts = count_graph(g).nodes[0]
    assert counts.macs == 0 and counts.arith == {"cmp": 2 * 19, "add": 2 * 20, "exp": 20, "div": 20}


def test_branches_are_added_after_the_chosen_layers_in_trunk_order():
    g = _cnn()
    r = PASSES.get("early_exit").run(g, {"exits": [{"after": "r2", "probability": 0.3},
                                                   {"after": "r1", "probability": 0.2, "hidden": 12}]})
    new = r.graph
    assert new.outputs == ("y", "exit1", "exit2")
    meta = new.meta["early_exits"]
    assert [m["after"] for m in meta] == ["r1", "r2"] and [m["probability"] for m in meta] == [0.2, 0.3]
    assert meta[0]["branch"] == ["exit1.pool", "exit1.flatten", "exit1.hidden", "exit1.relu", "exit1.fc", "exit1"]
    assert new.tensor("exit1").shape == (1, 10) and new.node("exit1").attrs["probability"] == 0.2
    assert new.node("exit2.pool").inputs == ("d",)
    assert len(g.nodes) == 8 and "early_exits" not in g.meta  # input untouched


def test_expected_and_worst_case_by_hand():
    r = PASSES.get("early_exit").run(_cnn(), {"exits": [{"after": "r1", "probability": 0.2},
                                                        {"after": "r2", "probability": 0.3}]})
    g = r.graph
    cost = _unit_costs(g)  # 8 trunk nodes, 4 nodes per branch: 16 in all
    assert exit_costs(cost, g) == [2 + 4, 4 + 4 + 4]  # c1 r1 + branch 1 ; c1..r2 + both branches
    expected, worst = expected_and_worst_case(cost, g)
    assert worst == 16
    assert expected == pytest.approx(0.2 * 6 + 0.3 * 12 + 0.5 * 16)


def test_expected_macs_are_stated_in_the_notes_and_changes():
    g = _cnn()
    r = PASSES.get("early_exit").run(g, {"exits": [{"after": "r1", "probability": 0.5}]})
    macs = {n.name: float(n.macs) for n in count_graph(r.graph).nodes}
    expected, worst = expected_and_worst_case(macs, r.graph)
    assert worst == count_graph(r.graph).macs > count_graph(g).macs > expected
    assert f"expected {expected:.0f}" in r.notes[0] and f"worst case {worst:.0f}" in r.notes[0]
    assert r.changes[0].details["macs_if_exit_here"] == macs["c1"] + macs["exit1.fc"]


def test_cost_function_follows_later_rewrites_of_the_branches():
    r = PASSES.get("early_exit").run(_cnn(), {"exits": [{"after": "r2", "probability": 0.4, "hidden": 16}]})
    g = PASSES.get("svd").run(r.graph, {"rank": 2, "layers": ["exit1.hidden"]}).graph
    assert "exit1.hidden.svd_v" in {n.name for n in g.nodes}
    cost = _unit_costs(g)
    assert exit_costs(cost, g) == [4 + 7]  # c1 r1 c2 r2 + pool flatten svd_v hidden relu fc exit
    assert expected_and_worst_case(cost, g) == (pytest.approx(0.4 * 11 + 0.6 * 15), 15)


def test_no_exits_means_expected_equals_worst_and_missing_costs_raise():
    g = _cnn()
    assert expected_and_worst_case(_unit_costs(g), g) == (8, 8)
    with pytest.raises(KeyError, match="c1"):
        expected_and_worst_case({}, g)


def test_costs_do_not_depend_on_the_order_nodes_are_summed_in():
    # node sets iterate in hash order, which changes per process (PYTHONHASHSEED): sums must be exact
    g = _cnn()
    cost = {n.name: 0.1 * (i + 1) for i, n in enumerate(g.nodes)}
    cost["c1"], cost["fc"] = 1e16, -1e16
    assert expected_and_worst_case(cost, g)[1] == math.fsum(cost.values())
    assert expected_and_worst_case(dict(reversed(cost.items())), g)[1] == math.fsum(cost.values())


@pytest.mark.parametrize("params, message", [
    ({"exits": [{"after": "c9", "probability": 0.1}]}, "names no layer"),
    ({"exits": [{"after": "r1", "probability": 0.7}, {"after": "r2", "probability": 0.4}]}, "sum to 1.1"),
    ({"exits": [{"after": "r1", "probability": 1.2}]}, "probability"),
    ({"exits": []}, "exits"),
    ({"exits": [{"after": "r1", "probability": 0.1}], "layers": ["c1"]}, "exits\\[\\]\\.after"),
])
def test_bad_exits(params, message):
    with pytest.raises(CompressionError, match=message):
        PASSES.get("early_exit").run(_cnn(), params)


def test_applying_twice_is_refused():
    r = PASSES.get("early_exit").run(_cnn(), {"exits": [{"after": "r1", "probability": 0.1}]})
    with pytest.raises(CompressionError, match="already has early exits"):
        PASSES.get("early_exit").run(r.graph, {"exits": [{"after": "r2", "probability": 0.1}]})
