"""hwsim devices / devices show / simulate: output, JSON, and bad input (one line, exit 2)."""

from __future__ import annotations

import json

import pytest
import yaml

from hwsim.cli import main
from hwsim.hardware import read_raw
from hwsim.hardware.loader import device_path
from testutils import LENET5_DOC


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


@pytest.fixture
def lenet(tmp_path):
    p = tmp_path / "lenet5.json"
    p.write_text(json.dumps(LENET5_DOC))
    return str(p)


def test_devices_lists_the_catalogue(capsys) -> None:
    code, out, _ = _run(["devices", "--json"], capsys)
    rows = json.loads(out)
    assert code == 0 and {"cpu-a53", "gpu-orin-nano", "fpga-small", "systolic-32x32"} <= {r["name"] for r in rows}
    code, out, _ = _run(["devices"], capsys)
    assert code == 0 and "cpu-a72" in out


def test_devices_show_prints_derived_peaks(capsys) -> None:
    code, out, _ = _run(["devices", "show", "cpu-a53", "--json"], capsys)
    doc = json.loads(out)
    assert code == 0
    assert doc["peaks_ops_per_s"]["simd.fp32"] == pytest.approx(44.8e9)
    assert doc["ridge_ops_per_dram_byte"]["fp32"] == pytest.approx(44.8e9 / 3.68e9)  # measured RK3399 copy traffic
    assert doc["bandwidth_bytes_per_s"]["dram"] == pytest.approx(3.68e9)
    assert 0 < doc["sparse_break_even_density"]["csr"] < 1
    code, out, _ = _run(["devices", "show", "gpu-orin-nano", "--set", "clock=1020MHz"], capsys)
    assert code == 0 and "tensor.int8" in out and "break-even" in out and "clock=1020MHz" in out
    code, out, _ = _run(["devices", "show", "jetson-nano", "--set", "host_power=0.5W"], capsys)
    assert code == 0 and "(chip)" in out and "board: idle 1.39 W, host while running 0.5 W" in out


def test_simulate_table_and_json(lenet, capsys) -> None:
    code, out, _ = _run(["simulate", lenet, "--device", "cpu-a72"], capsys)
    assert code == 0 and "latency" in out and "lenet5" in out
    code, out, _ = _run(["simulate", lenet, "-d", "gpu-jetson-nano", "--json", "--per-op",
                         "--set", "memory.dram.bandwidth=12.8 GB/s"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["device"] == "gpu-jetson-nano" and len(doc["ops"]) == len(LENET5_DOC["nodes"])
    assert doc["extra"]["overrides"] == {"memory.dram.bandwidth": "12.8 GB/s"}
    assert doc["seconds"] > 0 and doc["energy_total_pj"] > 0


@pytest.mark.parametrize("args,fragment", [
    (["--device", "cpu-z80"], "unknown device 'cpu-z80'; known: coral-devboard, coral-usb, cpu-a53"),
    (["--device", "cpu-a53", "--set", "memory.dram.bandwidth=0 GB/s"], "memory.dram.bandwidth: must be > 0"),
    (["--device", "cpu-a53", "--set", "clock=-2 GHz"], "clock: must be > 0"),
    (["--device", "cpu-a53", "--set", "memory.l3.size=1 MiB"], "valid keys there: dram, l1, l2"),
    (["--device", "cpu-a53", "--set", "clock"], "KEY=VALUE"),
    (["--device", "cpu-a53", "--engine", "warp"], "unknown engine 'warp'"),
    (["--device", "cpu-a53", "--set", "memory.dram.size=1 MiB"],
     "do not fit any memory"),
])
def test_simulate_bad_input_exits_2_with_one_line(lenet, capsys, args, fragment) -> None:
    code, out, err = _run(["simulate", lenet, *args], capsys)
    assert code == 2 and fragment in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_bad_device_file_names_file_and_key(tmp_path, lenet, capsys) -> None:
    doc = read_raw(device_path("cpu-a53"))
    del doc["memory"]["dram"]
    p = tmp_path / "broken.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, _, err = _run(["simulate", lenet, "--device", str(p)], capsys)
    assert code == 2 and "broken.yaml" in err and "off chip" in err
    code, _, err = _run(["devices", "show", "nope"], capsys)
    assert code == 2 and "known:" in err


def test_simulate_applies_a_catalogue_method(lenet, capsys) -> None:
    pytest.importorskip("hwsim.compress.catalogue")
    code, out, _ = _run(["simulate", lenet, "-d", "cpu-a53", "--json"], capsys)
    base = json.loads(out)
    code, out, _ = _run(["simulate", lenet, "-d", "cpu-a53", "--method", "int8", "--json"], capsys)
    q = json.loads(out)
    assert code == 0 and q["method"] == "int8"
    assert q["weight_bytes"] < base["weight_bytes"] / 3 and q["seconds"] < base["seconds"]
    code, _, err = _run(["simulate", lenet, "-d", "cpu-a53", "--method", "no-such-method"], capsys)
    assert code == 2 and "no-such-method" in err


@pytest.mark.parametrize("name", ["cpu-a53", "gpu-jetson-nano", "fpga-small", "systolic-32x32"])
def test_devices_show_works_for_every_kind(name: str, capsys) -> None:
    code, out, _ = _run(["devices", "show", name, "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["kind"] in ("cpu", "gpu", "fpga", "systolic") and doc["peaks_ops_per_s"]
    be = doc["sparse_break_even_density"]["csr"]
    assert be is None or 0.0 <= be <= 1.0


@pytest.mark.parametrize("setting,shown", [("clock=1.4", "clock: needs a unit, e.g. 1.4 GHz"),
                                           ("clock=1e400 GHz", "not a finite number"),
                                           ("memory.dram.bandwidth=12.8", "needs a unit, e.g. 12.8 GB/s")])
def test_set_with_a_bare_number_for_a_quantity_is_refused(lenet, capsys, setting, shown) -> None:
    code, out, err = _run(["simulate", lenet, "-d", "cpu-a53", "--set", setting, "--json"], capsys)
    assert code == 2 and shown in err and out == "" and "Traceback" not in err


def test_simulate_of_an_early_exit_method_shows_expected_and_worst_case(capsys) -> None:
    from testutils import WORKLOADS

    lenet5 = str(WORKLOADS / "lenet5.json")
    code, out, _ = _run(["simulate", lenet5, "-d", "cpu-a53", "-m", "early_exit.yaml#early-exit-lenet5", "--json"],
                        capsys)
    doc = json.loads(out)
    assert code == 0 and doc["early_exit"] is not None
    assert doc["seconds_worst_case"] == doc["seconds"] and 0 < doc["seconds_expected"] < doc["seconds_worst_case"]
    code, out, _ = _run(["simulate", lenet5, "-d", "cpu-a53", "-m", "early_exit.yaml#early-exit-lenet5"], capsys)
    assert "latency, expected (early exits)" in out and "latency, worst case (no early exit)" in out
    code, out, _ = _run(["simulate", lenet5, "-d", "cpu-a53", "--json"], capsys)
    assert json.loads(out)["early_exit"] is None and "seconds_expected" not in json.loads(out)


def test_simulate_of_a_compressed_model_says_what_the_file_carries(lenet, tmp_path, capsys) -> None:
    out_model = tmp_path / "int8.json"
    code, _, err = _run(["compress", lenet, "-m", "int8", "-o", str(out_model), "--json"], capsys)
    assert code == 0, err
    code, out, _ = _run(["simulate", str(out_model), "-d", "cpu-a53", "--json"], capsys)
    doc = json.loads(out)
    assert doc["method"] == "int8 (from the model file)" and doc["compressed_by_model_file"] == "int8"
    code, out, _ = _run(["simulate", lenet, "-d", "cpu-a53", "--json"], capsys)
    assert json.loads(out)["method"] == "baseline" and json.loads(out)["compressed_by_model_file"] is None
