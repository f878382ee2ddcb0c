"""`hwsim devices provenance`: the share of a profile's numeric lines marked ASSUMED (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hwsim.cli import cli
from hwsim.hardware.provenance import profile_provenance


def test_numeric_lines_and_assumed_ones_are_counted(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("kind: cpu\nclock: 1 GHz   # ASSUMED\nprocess_node: 28 nm  # vendor brief\n"
                 "description: 4 cores  # ASSUMED text line, not numeric? it is: starts with a digit\n"
                 "cpu:\n  cores: 4\n  dtypes: [8, 16]  # ASSUMED\n  name: abc # ASSUMED\n")
    prov = profile_provenance(p)
    assert prov.numeric_lines == 5
    assert prov.assumed_keys == ("clock", "description", "dtypes")
    assert prov.assumed_share == 3 / 5


def test_the_command_reports_every_profile() -> None:
    res = CliRunner().invoke(cli, ["devices", "provenance", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["profile"]: r for r in json.loads(res.output)}
    assert {"pi4", "zcu104", "coral-usb"} <= set(rows)
    assert all(0 <= r["assumed_share"] <= 1 and r["numeric_lines"] > 0 for r in rows.values())


# --- source labels, the shipped profiles' shares, the shared software model ------------------------------
import pytest  # noqa: E402

from hwsim.errors import DeviceProfileError  # noqa: E402
from hwsim.hardware import list_devices, load_device  # noqa: E402
from hwsim.hardware.loader import packaged_devices_dir  # noqa: E402
from hwsim.hardware.provenance import label_of  # noqa: E402
from hwsim.hardware.software_model import apply_software_model, software_models_path  # noqa: E402

SHIPPED = sorted(packaged_devices_dir().glob("*.yaml"))

#: issue 10: every board profile under 20 % ASSUMED numeric lines. These profiles have reached it and
#: must stay there.
AT_TARGET = {"pi3b-plus", "pi4", "pi5", "cpu-a53", "cpu-a72", "pynq-z2", "fpga-small", "fpga-large", "ultra96", "zcu102", "zcu104",
             "jetson-nano", "gpu-jetson-nano", "coral-devboard", "coral-usb", "orin-nano-super", "gpu-orin-nano",
             "orin-nano"}
#: The others, with the ASSUMED line count they had when this test was written (docs/devices.md says why
#: each is still over): the count may only go down; move a profile to AT_TARGET once it is under 20 %.
#: The Orin profiles left the target with the GPU depthwise class (gpufit, issue 10): each gained an ASSUMED
#: depthwise efficiency (before: the peak, 1.0, by default: an assumption no line showed), the Jetson Nano's
#: fit carried to Ampere, and orin-nano the OpenCV CUDA runtime's gemm factor and floor (its opencv_zoo
#: records validate them); no Orin fit table exists to replace them (docs/validation.md). gpuenergy sourced the
#: Orin static power (a measured module floor), which brought orin-nano-super and gpu-orin-nano back under 20 %;
#: sysenergy sourced the Coral lines and named the Edge TPU as systolic-32x32's reference design. orinprov
#: derived the Orin CUDA-core bf16 and DP4A rates and the binary tensor rate (A100 whitepaper, Nsight Compute's
#: pipe table, an Orin microbenchmark), which brought orin-nano under 20 % (7/44).
NOT_YET = {"systolic-32x32": 5}


@pytest.mark.parametrize("comment,label", [
    ("", "MISSING"), ("   ", "MISSING"), ("ASSUMED", "ASSUMED"), ("DERIVED: 4 x 2 (from [x]) but ASSUMED here", "ASSUMED"),
    ("DERIVED: ldr q 1.00/cycle x 16 B", "DERIVED"), ("MEASURED: fadd 1.00/cycle", "MEASURED"),
    ("fitted by bench/fit_profiles.py to {a.b}", "FITTED"), ("[rpi4.spec] BCM2711", "SOURCED"),
    ("unfitted", "SOURCED"),
])
def test_each_comment_gets_one_label(comment: str, label: str) -> None:
    assert label_of(comment) == label


def test_the_shares_are_counted_from_the_labels(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("kind: cpu\nclock: 1 GHz  # DERIVED: a x b\nprocess_node: 28 nm  # ASSUMED\n"
                 "static_power: 1 W  # MEASURED: board idle\ncpu:\n  cores: 4\n")
    prov = profile_provenance(p)
    assert (prov.count("DERIVED"), prov.count("ASSUMED"), prov.count("MEASURED"), prov.count("MISSING")) == (1, 1, 1, 1)
    assert prov.keys("MISSING") == ("cores",)
    assert prov.assumed_share == 1 / 4


@pytest.mark.parametrize("path", [*SHIPPED, software_models_path()], ids=lambda p: p.name)
def test_every_numeric_line_names_its_source(path: Path) -> None:
    """A number in a shipped profile (or the shared software model) without a source comment fails."""
    missing = profile_provenance(path).keys("MISSING")
    assert not missing, f"{path.name}: numeric lines without a source comment: {missing}"


def test_every_shipped_profile_is_at_the_target_or_on_the_ratchet() -> None:
    names = {p.stem for p in SHIPPED}
    assert names == AT_TARGET | set(NOT_YET), names ^ (AT_TARGET | set(NOT_YET))
    assert not AT_TARGET & set(NOT_YET)


@pytest.mark.parametrize("name", sorted(AT_TARGET))
def test_profiles_at_the_target_stay_under_20_percent_assumed(name: str) -> None:
    prov = profile_provenance(packaged_devices_dir() / f"{name}.yaml")
    assert prov.assumed_share < 0.20, (name, prov.assumed_keys)


@pytest.mark.parametrize("name", sorted(NOT_YET))
def test_profiles_not_yet_at_the_target_only_lose_assumed_lines(name: str) -> None:
    prov = profile_provenance(packaged_devices_dir() / f"{name}.yaml")
    assert prov.assumed_lines <= NOT_YET[name], (name, prov.assumed_keys)
    assert prov.assumed_share >= 0.20, f"{name} is now under 20 %: move it to AT_TARGET"


def test_the_software_model_fills_only_what_a_profile_leaves_out() -> None:
    doc = {"kind": "cpu", "software_model": "arm-ooo-neon", "cpu": {"op_overhead": "5 us"},
           "memory": {"l1": {"size": "32 KiB"}, "dram": {"size": "1 GB"}}}
    out = apply_software_model(doc, "x.yaml")
    assert out["cpu"]["op_overhead"] == "5 us"                          # the profile's own value wins
    assert out["cpu"]["vector_ops_per_cycle_per_core"]["exp"] == 0.35    # a key it left out is filled (the class value)
    assert out["memory"]["l1"]["usable_fraction"] == 0.5
    assert set(out["memory"]) == {"l1", "dram"}                         # no level is added (no l2 here)
    assert out["sparse"]["gather_efficiency"] == 0.45
    assert "sparse" not in doc and "usable_fraction" not in doc["memory"]["l1"]   # the input is untouched


def test_a_profile_without_a_software_model_is_left_alone() -> None:
    doc = {"kind": "cpu", "memory": {}}
    assert apply_software_model(doc, "x.yaml") is doc


@pytest.mark.parametrize("name,kind,match", [("nope", "cpu", "unknown software model 'nope'"),
                                             ("cuda-ampere", "cpu", "is for kind 'gpu'")])
def test_a_wrong_software_model_is_refused_naming_the_file(name: str, kind: str, match: str) -> None:
    with pytest.raises(DeviceProfileError, match=match) as err:
        apply_software_model({"kind": kind, "software_model": name, "memory": {}}, "my.yaml")
    assert "my.yaml" in str(err.value)


def test_the_shipped_profiles_take_their_sparse_costs_from_the_software_model() -> None:
    """The numbers that left the board profiles still reach the loaded profile (the cost model reads them)."""
    assert load_device("pi4").sparse.gather_efficiency == 0.45
    assert load_device("pi3b-plus").cpu.op_overhead_s == pytest.approx(2e-6)
    assert load_device("jetson-nano").gpu.cta_tile == 64
    assert load_device("zcu104").sparse.codebook_lookup_cycles == 0
    assert load_device("coral-usb").sparse.gather_efficiency == 0.25
    assert all(load_device(n).raw.get("software_model") for n in list_devices() if (packaged_devices_dir() / f"{n}.yaml").is_file())


def test_a_set_override_still_beats_the_software_model() -> None:
    from hwsim.hardware import parse_set_option
    d = load_device("pi4", parse_set_option(["sparse.gather_efficiency=0.9"]))
    assert d.sparse.gather_efficiency == 0.9


def test_set_software_model_fills_the_named_class_not_the_files() -> None:
    """``--set software_model=NAME`` swaps the whole class: the keys come from NAME, not from the class the
    file named (cpu-a53 names arm-a53-neon, gather_efficiency 0.35; arm-ooo-neon has 0.45)."""
    from hwsim.hardware import apply_overrides, load_device

    base = load_device("cpu-a53")
    swapped = load_device("cpu-a53", {"software_model": "arm-ooo-neon"})
    assert base.sparse.gather_efficiency == 0.35
    assert swapped.sparse.gather_efficiency == 0.45
    assert swapped.sparse.huffman_decode_cycles_per_symbol == 8
    # a further override on the swapped profile keeps the swap (raw is the document as written)
    again = apply_overrides(swapped.raw, {"clock": "1.0 GHz"}, name="cpu-a53")
    assert again.sparse.gather_efficiency == 0.45
    # and a value the user sets wins over the class
    own = load_device("cpu-a53", {"software_model": "arm-ooo-neon", "sparse.gather_efficiency": "0.2"})
    assert own.sparse.gather_efficiency == 0.2
