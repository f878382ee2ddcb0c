"""Han et al. 2015's remaining-FLOP column from its weight and activation densities.

Source, definition, roles and tolerances: ``tests/golden/data/han2015_remaining_flops.json`` (Han, Pool,
Tran, Dally, "Learning both Weights and Connections for Efficient Neural Networks", NIPS 2015, Tables
2-5: LeNet-300-100, LeNet-5, AlexNet, VGG-16). The per-layer weight densities (Weights%) and activation
densities (Act%) are inputs, written into the model file as tensor annotations the way a user would
state them; ``hwsim.ir.sparsity`` computes the effective MACs; the paper's FLOP% per layer and in total
is the check. Nothing is fitted. The dense FLOP column is checked against hwsim's own counts of each
model first, so the total FLOP% weights the same layers the paper does.
"""

from __future__ import annotations

import json
import re

import pytest

from hwsim.frontends import load_model
from hwsim.ir import OpGraph, count_graph
from hwsim.ir.ops import OpGroup
from hwsim.ir.sparsity import effective_counts, effective_totals

from testutils import GOLDEN_DATA, ROOT

DATA = json.loads((GOLDEN_DATA / "han2015_remaining_flops.json").read_text())
TABLES = DATA["tables"]
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9}


def _printed(text: str) -> tuple[float, float]:
    """A count as printed ('470K', '3.7B', '0.2B') and half a unit of its last digit."""
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?([KMB])", text)
    assert m, text
    scale = _SCALE[m.group(3)]
    decimals = len(m.group(2) or "")
    return float(m.group(1) + "." + (m.group(2) or "0")) * scale, 0.5 * 10 ** -decimals * scale


def _source_tensor(graph: OpGraph, tensor: str) -> str:
    """The tensor a view shows (annotate the producer's output, as a user states the layer's Act%)."""
    producer = graph.producer(tensor)
    while producer is not None and producer.opdef.group is OpGroup.VIEW:
        tensor = producer.inputs[0]
        producer = graph.producer(tensor)
    return tensor


def _annotated_model(table: dict, tmp_path) -> OpGraph:
    """The table's model with Weights% on each layer's weight and the previous layer's Act% on the
    activations the layer reads, as model-file tensor annotations."""
    path = ROOT / table["model"]
    plain = load_model(path)
    doc = json.loads(path.read_text())
    tensors: dict[str, dict] = {}
    previous_act = None
    for row in table["rows"]:
        node = plain.node(row["node"])
        tensors[node.params["weight"]] = {"density": row["weights_pct"] / 100}
        if previous_act is not None:
            tensors[_source_tensor(plain, node.inputs[0])] = {"density": previous_act / 100}
        previous_act = row["act_pct"]
    doc["tensors"] = tensors
    out = tmp_path / path.name
    out.write_text(json.dumps(doc))
    return load_model(out)


def _input_error(row: dict, previous_act: float | None) -> float:
    """Largest error (points) of w x a / 100 from rounding w and a to the printed unit."""
    w, a = row["weights_pct"], previous_act if previous_act is not None else 100.0
    da = 0.5 if previous_act is not None else 0.0
    return (0.5 * a + da * w + 0.5 * da) / 100


@pytest.mark.parametrize("name", sorted(TABLES))
def test_dense_counts_match_the_papers_flop_column(name):
    """The paper's FLOP column is 2 x hwsim's MACs of the same layer (its Weights column is not a check:
    see the data file's ``weights_column``)."""
    table = TABLES[name]
    counts = {n.name: n for n in count_graph(load_model(ROOT / table["model"])).nodes}
    for row in table["rows"]:
        flop, half = _printed(row["FLOP"])
        assert abs(2 * counts[row["node"]].macs - flop) <= half, (name, row)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_remaining_flop_per_layer(name, tmp_path):
    table = TABLES[name]
    rows = {r.node: r for r in effective_counts(_annotated_model(table, tmp_path))}
    previous_act = None
    for row in table["rows"]:
        e = rows[row["node"]]
        assert e.weight is not None and e.weight.source == "annotated"
        assert [a.source for a in e.activations] == (["annotated"] if previous_act is not None else ["assumed"])
        tolerance = _input_error(row, previous_act) + 0.5
        assert abs(100 * e.fraction - row["FLOP_pct"]) <= tolerance, (name, row["layer"], 100 * e.fraction)
        previous_act = row["act_pct"]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_remaining_flop_and_weights_in_total(name, tmp_path):
    table = TABLES[name]
    graph = _annotated_model(table, tmp_path)
    rows = {r.node: r for r in effective_counts(graph)}
    layers = [rows[r["node"]] for r in table["rows"]]
    assert len(layers) == len(rows), "every MAC layer of the model is a row of the table"
    totals = effective_totals(tuple(layers))
    previous = [None] + [r["act_pct"] for r in table["rows"][:-1]]
    input_error = sum(e.dense_macs * _input_error(r, p) for e, r, p in zip(layers, table["rows"], previous))
    tolerance = input_error / totals.dense_macs + 0.5
    assert abs(100 * totals.fraction - table["total"]["FLOP_pct"]) <= tolerance, (name, 100 * totals.fraction)
    # remaining weights: sum of the per-layer densities weighted by hwsim's weight counts
    numel = [graph.tensor(e.weight.tensor).numel for e in layers]
    kept = sum(n * e.weight_density for n, e in zip(numel, layers))
    printed = table["total"]["weights_pct"]
    half = 0.05 if printed != int(printed) else 0.5
    assert abs(100 * kept / sum(numel) - printed) <= 0.5 + half, (name, 100 * kept / sum(numel))


@pytest.mark.parametrize("name", sorted(TABLES))
def test_total_flop(name):
    """The Total row's FLOP against hwsim's total; AlexNet's printed 1.5B is not the sum of its own rows
    (1,449M, see the data file's notes), so there the sum of the printed rows is the figure."""
    table = TABLES[name]
    total = 2 * count_graph(load_model(ROOT / table["model"])).macs
    if "notes" in table:
        figures = [_printed(r["FLOP"]) for r in table["rows"]]
        printed, half = sum(f for f, _ in figures), sum(h for _, h in figures)
    else:
        printed, half = _printed(table["total"]["FLOP"])
    assert abs(total - printed) <= half, (name, total, printed)
