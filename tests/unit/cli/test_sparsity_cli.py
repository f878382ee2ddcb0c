"""Effective MACs in hwsim stats and hwsim simulate: dense and effective side by side, sources named."""

from __future__ import annotations

import json

import pytest

from hwsim.cli import main

from testutils import WORKLOADS

MLP_DC = str(WORKLOADS / "digits" / "mlp_dc.json")


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_stats_json_with_measured_densities(capsys):
    code, out, _ = _run(["stats", MLP_DC, "--json", "--per-layer", "--data", "digits", "--images", "32"], capsys)
    doc = json.loads(out)
    assert code == 0
    fc1 = next(layer for layer in doc["layers"] if layer["name"] == "fc1")["sparsity"]
    assert fc1["dense_macs"] == 19_200 and fc1["weight"]["source"] == "counted"
    assert fc1["activations"][0]["source"] == "measured"
    assert abs(fc1["effective_macs"] - 19_200 * fc1["weight_density"] * fc1["activation_density"]) <= 1
    assert doc["totals"]["macs"] == 50_200 and doc["totals"]["effective_macs"] == doc["sparsity"]["effective_macs"]
    assert doc["sparsity"]["effective_macs"] < 0.1 * 50_200
    assert doc["sparsity"]["activation_density_sources"] == ["measured (digits training split, 32 images, seed 0)"]


def test_stats_table_labels_an_assumed_density(capsys):
    code, out, _ = _run(["stats", str(WORKLOADS / "lenet5.json"), "--per-layer", "--act-density", "0.5"], capsys)
    assert code == 0 and "effective MACs" in out and "assumed" in out and "user value (--act-density)" in out


def test_simulate_per_op_json_carries_effective_macs(capsys):
    code, out, _ = _run(["simulate", MLP_DC, "-d", "cpu-a53", "--per-op", "--json", "--act-density", "0.5"], capsys)
    doc = json.loads(out)
    ops = {o["node"]: o for o in doc["ops"]}
    assert code == 0 and "sparsity" not in ops["relu1"]
    fc2 = ops["fc2"]["sparsity"]
    assert fc2["activations"][0] == {"tensor": "relu1", "density": 0.5, "source": "assumed",
                                     "detail": "user value (--act-density)"}
    assert doc["sparsity"]["dense_macs"] == 50_200


def test_measuring_on_random_weights_is_one_line_exit_2(capsys):
    code, out, err = _run(["stats", str(WORKLOADS / "lenet5.json"), "--data", "digits"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--act-density" in err
