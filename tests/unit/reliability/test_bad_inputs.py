"""Issue 12 item 7: each class of bad input found by the probe is one clear error (exit 2, file and
place named, no traceback, nothing written). One regression test per class."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from testutils import LENET5_DOC, ROOT

from hwsim.cli import main
from hwsim.errors import HwsimError
from hwsim.fileio import atomic_write, remove_stale_temps
from hwsim.frontends.model_json import load_model_json, parse_model


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def _doc(**node_attrs) -> dict:
    doc = copy.deepcopy(LENET5_DOC)
    for name, attrs in node_attrs.items():
        node = next(n for n in doc["nodes"] if n["name"] == name)
        node["attrs"].update(attrs)
    return doc


@pytest.mark.parametrize("node,attrs,fragment", [
    ("conv1", {"stride": 0}, "stride must be >= 1"),
    ("conv1", {"stride": [1, -2]}, "stride must be >= 1"),
    ("conv1", {"kernel": 0}, "kernel must be >= 1"),
    ("conv1", {"kernel": -3}, "kernel must be >= 1"),
    ("conv1", {"dilation": 0}, "dilation must be >= 1"),
    ("conv1", {"padding": -1}, "padding must be >= 0"),
    ("pool1", {"kernel": 0}, "pool kernel must be >= 1"),
    ("pool1", {"stride": 0}, "pool stride must be >= 1"),
])
def test_window_attributes_must_be_positive(node, attrs, fragment) -> None:
    with pytest.raises(HwsimError) as e:
        parse_model(_doc(**{node: attrs}), "m.json")
    assert fragment in str(e.value) and "m.json" in str(e.value) and node in str(e.value)


@pytest.mark.parametrize("change,fragment", [
    ({"seed": -1}, "seed"),
    ({"outputs": []}, "outputs"),
    ({"name": "a\x00b"}, None),
])
def test_model_level_values(change, fragment) -> None:
    doc = {**copy.deepcopy(LENET5_DOC), **change}
    if "name" in change:  # a NUL in a node name, not the model's
        doc = copy.deepcopy(LENET5_DOC)
        doc["nodes"][0]["name"] = "conv\x001"
        fragment = "nodes[0].name"
    with pytest.raises(HwsimError) as e:
        parse_model(doc, "m.json")
    assert fragment in str(e.value)


def test_negative_seed_on_the_command_line(tmp_path, capsys) -> None:
    p = tmp_path / "m.json"
    p.write_text(json.dumps(LENET5_DOC))
    code, _, err = _run(["verify", str(p), "-m", "baseline", "--seed", "-1"], capsys)
    assert code == 2 and "--seed" in err and "Traceback" not in err


def test_corrupt_npz_weights(tmp_path, capsys) -> None:
    (tmp_path / "w.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    doc = {**copy.deepcopy(LENET5_DOC), "weights": "w.npz"}
    (tmp_path / "m.json").write_text(json.dumps(doc))
    code, _, err = _run(["verify", str(tmp_path / "m.json"), "-m", "baseline", "-n", "1", "--quiet"], capsys)
    assert code == 2 and "w.npz" in err and "Traceback" not in err
    # a valid archive whose member is damaged
    np.savez(tmp_path / "w.npz", **{"conv1.weight": np.zeros((20, 1, 5, 5), np.float32)})
    raw = bytearray((tmp_path / "w.npz").read_bytes())
    raw[200:260] = b"\xff" * 60
    (tmp_path / "w.npz").write_bytes(bytes(raw))
    code, _, err = _run(["verify", str(tmp_path / "m.json"), "-m", "baseline", "-n", "1", "--quiet"], capsys)
    assert code == 2 and "w.npz" in err and "Traceback" not in err


def test_weights_outside_the_models_folder_are_refused_unless_explicit(tmp_path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    np.savez(outside / "w.npz", x=np.zeros(1, np.float32))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    doc = {**copy.deepcopy(LENET5_DOC), "weights": "../elsewhere/w.npz"}
    (model_dir / "m.json").write_text(json.dumps(doc))
    with pytest.raises(HwsimError, match="outside the model's folder"):
        load_model_json(model_dir / "m.json")
    doc["weights"] = str(outside / "w.npz")  # an absolute path is outside too
    (model_dir / "m.json").write_text(json.dumps(doc))
    with pytest.raises(HwsimError, match="outside the model's folder"):
        load_model_json(model_dir / "m.json")
    g = load_model_json(model_dir / "m.json", weights_path=outside / "w.npz")  # passed explicitly: fine
    assert g.weights.npz_path == outside / "w.npz"


def test_deep_nesting_is_one_message(tmp_path, capsys) -> None:
    (tmp_path / "m.json").write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = _run(["stats", str(tmp_path / "m.json")], capsys)
    assert code == 2 and "nested too deeply" in err and err.count("\n") == 1
    (tmp_path / "d.yaml").write_text("kind: cpu\nx: " + "[" * 50_000 + "]" * 50_000 + "\n")
    code, _, err = _run(["devices", "show", str(tmp_path / "d.yaml")], capsys)
    assert code == 2 and "d.yaml" in err and err.count("\n") == 1


def test_fpga_without_dsps_is_refused(tmp_path, capsys) -> None:
    p = tmp_path / "m.json"
    p.write_text(json.dumps(LENET5_DOC))
    code, out, err = _run(["simulate", str(p), "-d", "fpga-small", "--set", "fpga.dsp=0"], capsys)
    assert code == 2 and "fpga.dsp: must be >= 1" in err and out == ""


def test_compress_writes_model_and_weights_together_or_not_at_all(tmp_path, capsys) -> None:
    src = tmp_path / "m.json"
    src.write_text(json.dumps(LENET5_DOC))
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the model's folder should be")
    code, _, err = _run(["compress", str(src), "-m", "int8", "-o", str(blocker / "out.json"),
                         "--weights-out", str(tmp_path / "w" / "out.npz"), "--json"], capsys)
    assert code == 2 and "cannot write" in err
    assert not (tmp_path / "w" / "out.npz").exists()  # the .npz is not left behind without its model.json
    assert [p.name for p in (tmp_path / "w").iterdir()] == [] if (tmp_path / "w").exists() else True
    code, _, err = _run(["compress", str(src), "-m", "int8", "-o", str(tmp_path / "ok" / "out.json"),
                         "--weights-out", str(tmp_path / "ok" / "out.npz"), "--json"], capsys)
    assert code == 0, err
    assert zipfile.is_zipfile(tmp_path / "ok" / "out.npz")
    assert json.loads((tmp_path / "ok" / "out.json").read_text())["weights"] == "out.npz"


def test_temp_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path) -> None:
    target = tmp_path / "report.html"
    script = ("import os, sys, tempfile, time\n"
              f"fd, tmp = tempfile.mkstemp(prefix='.report.html.' + str(os.getpid()) + '.', suffix='.tmp', "
              f"dir={str(tmp_path)!r})\n"
              "os.write(fd, b'half'); print(tmp, flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    tmp = Path(proc.stdout.readline().strip())
    assert tmp.exists()
    assert remove_stale_temps(target) == []  # its writer is alive: kept
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    atomic_write(target, "complete")
    assert not tmp.exists() and target.read_text() == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_repository_has_no_stray_temp_files() -> None:
    assert not list((ROOT / "reports").rglob(".*.tmp"))


# --- quoted numbers are strings, not numbers (strict types at the edges) -----------------------------

@pytest.mark.parametrize("text,key", [
    ("      - pass: quantize\n        params: {bits: '8'}\n", "bits"),
    ("      - pass: prune\n        params: {sparsity: '0.9'}\n", "sparsity"),
    ("      - pass: quantize\n        params: {bits: 8, symmetric: 'yes'}\n", "symmetric"),
    ("      - pass: tucker2\n        params: {ranks: ['3', 4]}\n", "ranks"),
])
def test_quoted_numbers_in_a_methods_file_are_refused(tmp_path, capsys, text, key) -> None:
    methods = tmp_path / "methods.yaml"
    methods.write_text("version: 1\nmethods:\n  m:\n    description: d\n    steps:\n" + text)
    out = tmp_path / "c.json"
    code, _, err = _run(["compress", str(ROOT / "workloads" / "lenet5.json"), "-m", f"{methods}#m", "-o", str(out)],
                        capsys)
    assert code == 2 and "Traceback" not in err and str(methods) in err and f"parameter '{key}" in err, err
    assert "got the string" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("key,value", [("dsp", "'220'"), ("lut", "'53200'"), ("dsp_mult_bits", "['25', 18]")])
def test_quoted_numbers_in_a_device_profile_are_refused(tmp_path, capsys, key, value) -> None:
    text = (ROOT / "hwsim" / "hardware" / "devices" / "fpga-small.yaml").read_text()
    lines = [f"  {key}: {value}" if ln.strip().startswith(f"{key}:") else ln for ln in text.splitlines()]
    dev = tmp_path / "fpga-q.yaml"
    dev.write_text("\n".join(lines) + "\n")
    code, _, err = _run(["simulate", str(ROOT / "workloads" / "lenet5.json"), "--device", str(dev)], capsys)
    assert code == 2 and "Traceback" not in err and "fpga-q.yaml" in err and f"fpga.{key}" in err, err
    assert "got the string" in err and len(err.strip().splitlines()) == 1


def test_quoted_numbers_in_a_model_file_are_refused(tmp_path, capsys) -> None:
    doc = copy.deepcopy(LENET5_DOC)
    doc["inputs"][0]["shape"] = ["1", 1, 28, 28]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    code, _, err = _run(["stats", str(path)], capsys)
    assert code == 2 and "Traceback" not in err and "m.json" in err and "shape" in err, err
    assert "got the string '1'" in err and len(err.strip().splitlines()) == 1
