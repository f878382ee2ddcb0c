"""hwsim verify: JSON and table output, exit 1 only for a kernel mismatch, and every bad input as one
line naming the file and place with exit code 2."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from hwsim.cli import main
from hwsim.frontends.model_json import parse_model, save_model_json

from testutils import LENET5_DOC, WORKLOADS


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def _lenet_with_weights(tmp_path, drop: str | None = None, poison: str | None = None):
    g = parse_model(copy.deepcopy(LENET5_DOC)).materialize()
    arrays = {t: np.array(g.weight(t), np.float32) for t in g.weight_names() if t != drop}
    if poison:
        arrays[poison].flat[3] = np.nan
    np.savez(tmp_path / "w.npz", **arrays)
    save_model_json(g, tmp_path / "m.json", weights_file="w.npz")
    return tmp_path / "m.json"


def test_json_output(tmp_path, capsys):
    code, out, err = _run(["verify", str(_lenet_with_weights(tmp_path)), "-m", "prune-50,int8", "-n", "2", "--json"],
                          capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert [r["method"] for r in doc["results"]] == ["prune-50", "int8"]
    assert doc["results"][0]["kernel_status"] == "exact"
    assert doc["results"][1]["fidelity"]["inputs"] == 2


def test_table_says_fidelity_is_not_accuracy(capsys):
    code, out, _ = _run(["verify", str(WORKLOADS / "digits" / "mlp.json"), "-m", "ternary-twn", "-n", "1",
                         "--data", "digits"], capsys)
    assert code == 0
    assert "NOT task accuracy" in out and "ternary-twn" in out and "540 test images" in out


@pytest.mark.parametrize("setup, args, message", [
    (lambda p: _lenet_with_weights(p, drop="conv2.weight"), [], "conv2.weight"),
    (lambda p: _lenet_with_weights(p, poison="ip1.weight"), [], "ip1.weight"),
    (lambda p: p / "missing.json", [], "does not exist"),
    (lambda p: _lenet_with_weights(p), ["-m", "no-such-method"], "no-such-method"),
    (lambda p: _lenet_with_weights(p), ["-n", "0"], "--inputs"),
    (lambda p: _lenet_with_weights(p), ["--data", "nosuch"], "nosuch"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, setup, args, message):
    path = setup(tmp_path)
    code, out, err = _run(["verify", str(path), "-m", "prune-50", *args], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_data_that_does_not_fit_the_model_is_an_error(tmp_path, capsys):
    code, _, err = _run(["verify", str(_lenet_with_weights(tmp_path)), "-m", "baseline", "--data", "digits"], capsys)
    assert code == 2 and "64 values" in err and "sklearn" in err


def test_onnxruntime_reference(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    code, out, err = _run(["verify", str(_lenet_with_weights(tmp_path)), "--reference", "onnxruntime", "-n", "2",
                           "--json"], capsys)
    assert code == 0, err
    ref = json.loads(out)["reference"]
    assert ref["engine"] == "onnxruntime" and ref["max_rel_diff"] < 1e-4
    from hwsim.compress.catalogue import DEFAULT_METHODS

    # without -m the methods table is not skipped: the default methods are verified as without --reference
    assert [r["method"] for r in json.loads(out)["results"]] == list(DEFAULT_METHODS)
    assert "hwsim verify: fp32 executor against onnxruntime ..." in err and "hwsim verify: method 1/" in err


def test_progress_per_method_on_stderr_and_quiet(tmp_path, capsys):
    model = str(_lenet_with_weights(tmp_path))
    code, out, err = _run(["verify", model, "-m", "prune-50,int8", "-n", "1", "--json"], capsys)
    assert code == 0 and "method 1/2: prune-50" in err and "method 2/2: int8" in err
    json.loads(out)  # stdout stays pure JSON
    code, out, err = _run(["verify", model, "-m", "int8", "-n", "1", "--json", "--quiet"], capsys)
    assert code == 0 and "hwsim verify" not in err


def test_both_verify_tables_sign_the_accuracy_change_alike(capsys):
    """The retraining table says "delta pts" with the verification table's sign: compressed minus fp32, so a
    method that lost 1.5 pt shows -1.50 in both (it showed +1.50 under "drop pts" before)."""
    from types import SimpleNamespace

    from hwsim.analysis.accuracy import MethodAccuracy, TopK
    from hwsim.commands.verify import _print_accuracy

    lost = MethodAccuracy("prune-90", TopK(0.96, None, 1000), TopK(0.90, None, 1000), retrained=TopK(0.945, None, 1000))
    splits = SimpleNamespace(name="mnist", size=lambda split: 1000)
    _print_accuracy([lost], splits)
    out = capsys.readouterr().out
    assert "delta pts" in out and "drop pts" not in out
    assert "-1.50" in out and "+1.50" not in out
