"""Energy per inference against published board measurements (issue 10): energy records live in the same
records file as the latency and power ones, with roles per source table.

The target is issue 10's, set before anything was measured: energy per inference within 1.5x of a published
board measurement for at least one board of each device kind. A kind that misses it today is a strict
expected failure carrying its measured figure (or the lack of any record), so the test turns red when that
changes either way (then update docs/validation.md). `hwsim validate` prints every record.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

import pytest
from click.testing import CliRunner

from hwsim.analysis.validation import (
    EnergyOutcome, load_records, predicted_energy_mj, run_energy_validation, summarize_group,
)
from hwsim.cli import cli
from hwsim.hardware import load_device
from hwsim.sim import simulate

RECORDS = load_records()
#: issue 10, "Done when": energy per inference within this factor of a board measurement
TARGET = 1.5
KINDS = ("cpu", "fpga", "gpu", "systolic")

#: kinds with no board within the target today: why, with the measured figure (hwsim validate)
KNOWN_MISSES: dict[str, str] = {}  # none since the MLPerf Tiny PYNQ-Z2 records (fpga had been one: QuTiBench's
# DPU boards alone gave 1.62x at best; docs/validation.md keeps that finding)


@lru_cache(maxsize=None)
def _outcomes(role: str) -> tuple[EnergyOutcome, ...]:
    return tuple(run_energy_validation(RECORDS, roles=(role,)))  # type: ignore[arg-type]


def test_energy_records_are_validate_only_and_name_their_loop() -> None:
    assert RECORDS.energy_records
    for r in RECORDS.energy_records:
        assert RECORDS.role_of(r) == "validate", r.id  # nothing is fitted to an energy record
        assert r.mj == pytest.approx(r.watts * r.ms)
        # board: the whole board at its input; chip: an accelerator alone at its own plug (the Coral USB stick)
        assert r.scope == "board" or RECORDS.boards[r.board].profile == "coral-usb", r.id


def test_every_validate_record_gets_a_board_prediction() -> None:
    outs = _outcomes("validate")
    assert {o.record.id for o in outs} == {r.id for r in RECORDS.energy_records}
    for o in outs:
        assert o.predicted_mj is not None and o.predicted_mj > 0, o.record.id
        assert o.predicted_w == pytest.approx(o.predicted_mj / o.predicted_ms)


def test_board_energy_is_board_idle_x_latency_plus_chip_dynamic_plus_host() -> None:
    from hwsim.analysis.validation import _graph, default_workloads_dir

    dev = load_device("coral-devboard", {"host_power": "0.5 W"})  # the shipped profile leaves it unknown: the override is read
    assert dev.board_idle_power_w and dev.host_power_w == 0.5
    r = simulate(_graph(default_workloads_dir(), "mobilenet_v2", "int8", 224), dev, method="int8", check_fit=False)
    dynamic_j = sum(v for k, v in r.energy_pj.items() if k != "static") / 1e12
    expected = (dev.board_idle_power_w + dev.host_power_w + (dev.soc_active_power_w or 0.0)) * r.seconds + dynamic_j
    assert predicted_energy_mj(r, "board") == pytest.approx(expected * 1e3)
    assert predicted_energy_mj(r, "chip") == pytest.approx(sum(r.energy_pj.values()) / 1e9)
    # a board-scope profile gives no chip figure: its static power is the board's
    pi = simulate(_graph(default_workloads_dir(), "mobilenet_v2", "int8", 224), load_device("pi4"), method="int8",
                  check_fit=False)
    assert predicted_energy_mj(pi, "chip") is None
    assert predicted_energy_mj(pi, "board") == pytest.approx(sum(pi.energy_pj.values()) / 1e9)


def test_host_busy_power_is_board_idle_plus_host_power() -> None:
    """A board whose profile gives both is predicted, with its host core busy, as board_idle_power +
    host_power; a profile without either has no prediction. The Coral Dev Board's host core is unknown:
    the only measurement of it seen (DeepEdgeBench's A53 run) is a row of the validate table's own logs."""
    from hwsim.analysis.validation import predicted_power_w

    nano = load_device("jetson-nano")  # the host core from tegrastats CPU-rail readings of other Nanos
    assert predicted_power_w(nano, "host_busy", "board") == pytest.approx(nano.board_idle_power_w + nano.host_power_w)
    assert predicted_power_w(nano, "host_busy", "chip") is None
    coral = load_device("coral-devboard")
    assert coral.board_idle_power_w is not None and coral.host_power_w is None
    assert predicted_power_w(coral, "host_busy", "board") is None
    assert predicted_power_w(load_device("coral-usb"), "host_busy", "board") is None
    assert load_device("zcu102").host_power_w is None
    assert predicted_power_w(load_device("zcu102"), "host_busy", "board") is None  # board idle, no host_power
    assert not any(r.load == "host_busy" for r in RECORDS.power_records)  # no record fits a host core


def _params() -> list:  # type: ignore[type-arg]
    return [pytest.param(k, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[k])] if k in KNOWN_MISSES
                         else [], id=k) for k in KINDS]


@pytest.mark.parametrize("kind", _params())
def test_one_board_per_kind_within_the_issue_target(kind: str) -> None:
    outs = [o for o in _outcomes("validate") if o.kind == kind]
    assert outs, f"no validate energy record of kind {kind}"
    boards = sorted({o.record.board for o in outs})
    factors = {b: summarize_group(b, [o for o in outs if o.record.board == b]).error_factor for b in boards}
    best = min(factors, key=factors.__getitem__)
    worst = max(outs, key=lambda o: abs(math.log(o.ratio)))
    assert factors[best] <= TARGET, (
        f"{kind}: best board {best} at error factor {factors[best]:.2f}x (target {TARGET}x); "
        f"worst record {worst.record.id} at {worst.ratio:.2f}x")


def test_validate_prints_the_energy_records() -> None:
    res = CliRunner().invoke(cli, ["validate", "--role", "validate", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    rows = {r["id"]: r for r in doc["energy_records"]}
    assert set(rows) == {r.id for r in RECORDS.energy_records}
    for r in RECORDS.energy_records:
        assert rows[r.id]["measured_mj"] == pytest.approx(r.mj)
        assert rows[r.id]["ratio"] == pytest.approx(rows[r.id]["predicted_mj"] / r.mj)
    assert doc["energy_summary"]["validate"][-1]["group"] == "overall"
    # the same records as board power while running: predicted energy / predicted latency against the W
    running = {g["group"]: g for g in doc["power_while_running_summary"]["validate"]}
    cpu = [r for r in rows.values() if r["kind"] == "cpu"]
    logs = [math.log(r["predicted_w"] / r["measured_w"]) for r in cpu]
    assert running["cpu"]["gmean_ratio"] == pytest.approx(math.exp(sum(logs) / len(logs)))
