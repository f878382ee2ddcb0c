"""Board power against published measurements (issue 10): power records live in the same records file,
with roles per source table; the prediction is the profile's, at the scope the measurement has."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hwsim.analysis.validation import load_records, predicted_power_w, run_power_validation
from hwsim.cli import cli
from hwsim.hardware import load_device

RECORDS = load_records()


def test_power_records_exist_in_both_roles_and_fit_ones_stay_fitted() -> None:
    roles = {RECORDS.role_of(r) for r in RECORDS.power_records}
    assert roles == {"fit", "validate"}
    for o in run_power_validation(RECORDS, roles=("fit",)):
        assert o.predicted_w is not None and o.ratio == pytest.approx(1.0, abs=0.05), o.record.id


def test_the_prediction_is_the_profiles_and_unknown_across_scopes() -> None:
    pi4 = load_device("pi4", {"clock": "1.8 GHz"})
    assert predicted_power_w(pi4, "idle", "board") == pi4.static_power_w
    busy = predicted_power_w(pi4, "all_cores_busy", "board")
    assert busy == pytest.approx(pi4.static_power_w + pi4.energy.instruction_pj * 1e-12 * 4 * 1.8e9)
    assert predicted_power_w(pi4, "idle", "chip") is None  # a board figure says nothing of the chip alone
    assert predicted_power_w(load_device("zcu104"), "all_cores_busy", "chip") is None  # not a CPU
    nano = load_device("jetson-nano")  # chip scope: its board idle is board_idle_power, its chip idle static_power
    assert predicted_power_w(nano, "idle", "board") == nano.board_idle_power_w
    assert predicted_power_w(nano, "idle", "chip") == nano.static_power_w
    assert predicted_power_w(load_device("fpga-large"), "idle", "board") is None  # no board idle known
    # the PYNQ-Z2's board baseline was measured with an accelerator looping: it predicts that load, not idle's
    # meaning on other boards, and no profile with a separate host_power predicts it
    pynq = load_device("pynq-z2")
    assert predicted_power_w(pynq, "accelerator_loop", "board") == pynq.board_idle_power_w
    assert predicted_power_w(pynq, "accelerator_loop", "chip") is None
    assert predicted_power_w(nano, "accelerator_loop", "board") is None
    zcu104 = load_device("zcu104")  # chip scope with a board idle (QuTiBench, fit)
    assert predicted_power_w(zcu104, "idle", "board") == zcu104.board_idle_power_w == 15.72


def test_validate_prints_the_power_records() -> None:
    res = CliRunner().invoke(cli, ["validate", "--role", "validate", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    ids = {r["id"] for r in doc["power_records"]}
    assert ids == {r.id for r in RECORDS.power_records if RECORDS.role_of(r) == "validate"}
    assert doc["power_summary"]["validate"][-1]["group"] == "overall"
