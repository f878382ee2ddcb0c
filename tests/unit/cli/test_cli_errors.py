"""Bad model files get one line naming the file and the place, exit code 2, never a traceback; and
``hwsim stats`` reads .json and .onnx, as a table or as JSON, with or without per-layer rows."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.frontends import load_model
from hwsim.frontends.onnx_writer import save_onnx
from hwsim.ir import count_graph

from testutils import LENET5_DOC, ROOT, WORKLOADS


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def _doc() -> dict:
    return copy.deepcopy(LENET5_DOC)


def _cycle(d: dict) -> None:
    d["nodes"][0]["inputs"] = ["pool1"]  # conv1 <- pool1 <- conv1


BAD_JSON = [
    ("malformed_json", lambda p: p.write_text('{"name": "x", "nodes": [}'), "line 1 column"),
    ("missing_field", lambda p: _write(p, _doc(), lambda d: d["nodes"][2].pop("op")), "nodes[2].op"),
    ("unknown_op", lambda p: _write(p, _doc(), lambda d: d["nodes"][1].update(op="maxpool3d")), "node 'pool1'"),
    ("conv_channel_mismatch", lambda p: _write(p, _doc(), lambda d: d["nodes"][2]["attrs"].update(in_channels=3)),
     "node 'conv2'"),
    ("cycle", lambda p: _write(p, _doc(), _cycle), "cycle"),
    ("dangling_tensor", lambda p: _write(p, _doc(), lambda d: d["nodes"][4].update(inputs=["pool7"])), "'pool7'"),
    ("duplicate_tensor", lambda p: _write(p, _doc(), lambda d: d["nodes"][3].update(outputs=["conv2"])), "'conv2'"),
    ("empty_graph", lambda p: _write(p, _doc(), lambda d: d.update(nodes=[])), "nodes"),
    ("not_an_object", lambda p: p.write_text("[1, 2, 3]"), "JSON object"),
    ("missing_file", lambda p: None, "does not exist"),
]


def _write(path: Path, doc: dict, mutate) -> None:
    mutate(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("case, make, place", BAD_JSON, ids=[c[0] for c in BAD_JSON])
def test_bad_model_json_one_line_exit_2(tmp_path, capsys, case, make, place):
    path = tmp_path / f"{case}.json"
    make(path)
    code, out, err = _run(["stats", str(path)], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hwsim: error: ") and str(path) in lines[0] and place in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("content", [b"this is plain text, not protobuf", b""], ids=["text", "empty"])
def test_non_onnx_file_as_onnx(tmp_path, capsys, content):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    code, out, err = _run(["stats", str(path)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(path) in err and "ONNX" in err


def test_unknown_suffix_and_real_process_exit_code(tmp_path):
    """One end-to-end run in a real interpreter: the exit status and stderr a shell sees."""
    bad = tmp_path / "model.onnx"
    bad.write_text("<html>not a model</html>")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "hwsim.cli", "stats", str(bad)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_model_suffix(tmp_path, capsys):
    p = tmp_path / "model.pt"
    p.write_bytes(b"\x80\x02")
    code, _, err = _run(["stats", str(p)], capsys)
    assert code == 2 and "unknown model file type '.pt'" in err and ".onnx" in err


@pytest.fixture(scope="module")
def lenet_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("stats")
    g = load_model(WORKLOADS / "lenet5.json")
    save_onnx(g, d / "lenet5.onnx")
    return {"json": WORKLOADS / "lenet5.json", "onnx": d / "lenet5.onnx"}, count_graph(g)


@pytest.mark.parametrize("kind", ["json", "onnx"])
def test_stats_json_output(lenet_files, capsys, kind):
    files, counts = lenet_files
    code, out, err = _run(["stats", str(files[kind]), "--json"], capsys)
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["totals"]["params"] == counts.params == 431_080
    assert doc["totals"]["macs"] == counts.macs and doc["totals"]["weight_bytes"] == counts.weight_bytes
    assert "layers" not in doc
    code, out, _ = _run(["stats", str(files[kind]), "--json", "--per-layer"], capsys)
    layers = json.loads(out)["layers"]
    assert [l["name"] for l in layers] == [n.name for n in counts.nodes]
    assert sum(l["macs"] for l in layers) == counts.macs


@pytest.mark.parametrize("kind", ["json", "onnx"])
def test_stats_table_output(lenet_files, capsys, kind):
    files, counts = lenet_files
    code, out, _ = _run(["stats", str(files[kind])], capsys)
    assert code == 0 and "parameters" in out and f"{counts.params:,}" in out and f"{counts.macs:,}" in out
    assert "conv2" not in out  # totals only
    code, out, _ = _run(["stats", str(files[kind]), "--per-layer"], capsys)
    assert code == 0 and "conv2" in out and "ip1" in out and f"{400_500:,}" in out
