"""hwsim compress / hwsim methods: outputs, summary table, and bad input (one message, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwsim.cli import main
from hwsim.compress.catalogue import METHODS
from hwsim.frontends import load_model

from testutils import WORKLOADS

LENET300 = str(WORKLOADS / "lenet300_100.json")


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_compress_writes_model_weights_and_summary(tmp_path: Path, capsys):
    out, npz = tmp_path / "dc.json", tmp_path / "w" / "dc.npz"
    code, stdout, err = _run(["compress", LENET300, "-m", "deep-compression", "-o", str(out), "--weights-out",
                              str(npz), "--json"], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["method"] == "deep-compression" and doc["compression_ratio"] > 20
    assert doc["weights"].startswith("seeded")
    passes = {(r["pass"], r["layer"]) for r in doc["layers"]}
    assert ("prune", "ip1") in passes and ("huffman", "ip3") in passes
    enc = [r for r in doc["layers"] if r["pass"] == "sparse_format"]
    assert all(r["format"] == "relative_index" and r["bytes_after"] < r["bytes_before"] for r in enc)
    g = load_model(out)
    spec = g.tensor("ip1.weight")
    assert spec.encoding == "relative_index" and spec.stored_bits and spec.density == pytest.approx(0.09, abs=1e-3)
    assert spec.meta_dict()["value_format"] == "codebook" and spec.meta_dict()["index_coding"] == "huffman"
    w = g.dense_weight("ip1.weight")  # the decoded values, from the npz the model points at
    assert np.count_nonzero(w) == round(w.size * 0.09) and g.weights.provided("ip1.weight")
    assert len(np.unique(w[w != 0])) <= 31


def test_weights_file_says_it_holds_decoded_floats(tmp_path: Path, capsys):
    """The model says its int8 tensors are 8-bit codes with scales; the .npz holds what they decode to, and
    the model.json, the JSON summary and the printed summary all say so (issue 12)."""
    out, npz = tmp_path / "q.json", tmp_path / "q.npz"
    code, stdout, err = _run(["compress", LENET300, "-m", "int8", "-o", str(out), "--weights-out", str(npz),
                              "--json"], capsys)
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["weights_file"]["values"].startswith("decoded float32")
    doc = json.loads(out.read_text())
    assert doc["meta"]["weights_values"] == summary["weights_file"]["values"]
    assert doc["tensors"]["ip1.weight"]["dtype"] == "int8"
    with np.load(npz) as z:
        w = z["ip1.weight"]
    assert w.dtype == np.float32
    # decoded codes, not the original floats: at most 255 distinct values per output channel (symmetric int8)
    assert max(len(np.unique(row)) for row in w) <= 255 < w.shape[1]
    code, stdout, _ = _run(["compress", LENET300, "-m", "int8", "-o", str(tmp_path / "t.json"), "--weights-out",
                            str(tmp_path / "t.npz")], capsys)
    assert code == 0 and "holds decoded float32" in " ".join(stdout.split())


def test_compress_table_and_cost_only(tmp_path: Path, capsys):
    code, stdout, _ = _run(["compress", LENET300, "-m", "int8", "-o", str(tmp_path / "q.json")], capsys)
    assert code == 0 and "quantize" in stdout and "ip1" in stdout and "smaller" in stdout
    code, stdout, _ = _run(["compress", LENET300, "-m", "prune-90", "-o", str(tmp_path / "p.json"),
                            "--no-materialize", "--json"], capsys)
    doc = json.loads(stdout)
    assert code == 0 and doc["weights"].startswith("not materialized")
    assert any("formula" in n for n in doc["notes"])


def test_methods_lists_the_catalogue(capsys):
    code, stdout, _ = _run(["methods"], capsys)
    assert code == 0
    for name in ("baseline", "fp16", "int8", "int4-weights", "prune-50", "prune-90", "filter-prune-30",
                 "deep-compression", "binary-xnor", "ternary-twn", "svd-lowrank", "tucker-lowrank",
                 "depthwise-student", "winograd"):
        assert name in stdout
    code, stdout, _ = _run(["methods", "--json"], capsys)
    assert {r["method"] for r in json.loads(stdout)} == set(METHODS.keys())
    code, stdout, _ = _run(["methods", "--passes"], capsys)
    assert "share_kmeans" in stdout and "relative" in stdout


BAD_METHODS = {
    "unknown_pass": ("methods:\n  m:\n    steps:\n      - pass: prunee\n", "unknown pass 'prunee'"),
    "unknown_param": ("methods:\n  m:\n    steps:\n      - pass: prune\n        params: {sparsty: 0.5}\n",
                      "sparsty"),
    "sparsity_range": ("methods:\n  m:\n    steps:\n      - pass: prune\n        params: {sparsity: 1.0}\n",
                       "methods.m.steps[0].params"),
    "bits_below_one": ("methods:\n  m:\n    steps:\n      - pass: quantize\n        params: {bits: 0}\n", "bits"),
    "override_no_layer": ("methods:\n  m:\n    steps:\n      - pass: prune\n        overrides: {conv7: {sparsity: 0.5}}\n",
                          "'conv7' names no layer"),
    "unknown_key": ("methods:\n  m:\n    stepz: []\n", "methods.m.stepz"),
    "bad_yaml": ("methods:\n  m: [\n", "malformed YAML"),
    "rank_too_large": ("methods:\n  m:\n    steps:\n      - pass: svd\n        params: {rank: 5000}\n",
                       "rank 5000 is larger than the weight matrix"),
}


@pytest.mark.parametrize("case", sorted(BAD_METHODS))
def test_bad_methods_files_exit_2_with_one_line(case, tmp_path: Path, capsys):
    text, needle = BAD_METHODS[case]
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    code, out, err = _run(["compress", LENET300, "-m", str(f), "-o", str(tmp_path / "o.json")], capsys)
    assert code == 2
    assert needle in err and str(f) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("argv, needle", [
    (["-m", "no-such-method"], "unknown compression method 'no-such-method'"),
    (["-m", "prune-50", "--weights-out", "w.bin"], "--weights-out"),
])
def test_bad_arguments_exit_2(argv, needle, tmp_path: Path, capsys):
    code, _, err = _run(["compress", LENET300, *argv, "-o", str(tmp_path / "o.json")], capsys)
    assert code == 2 and needle in err and "Traceback" not in err


def test_kernels_calibrator_measures_real_activation_ranges(tmp_path: Path, capsys):
    f = tmp_path / "m.yaml"
    f.write_text("methods:\n  q:\n    steps:\n      - pass: quantize\n"
                 "        params: {bits: 8, activations: true, calibration: kernels, calibration_samples: 2}\n")
    code, stdout, err = _run(["compress", LENET300, "-m", str(f), "-o", str(tmp_path / "q.json"), "--json"], capsys)
    assert code == 0, err
    g = load_model(tmp_path / "q.json")
    relu = g.tensor("relu1").meta_dict()
    assert relu["calibration"] == "kernels" and relu["range_min"] == 0.0 and relu["range_max"] > 0
