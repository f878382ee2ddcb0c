"""The DPU profiles run the configuration their latency tables were measured on.

Each DPU latency table's source names its configuration as the model zoo prints it ('3 * B4096 @ 287MHz'):
the profile its records run on must have that DPU size (`fpga.model_params.overlay_preset`) and that clock,
or the fit (ZCU104) and the validation (ZCU102, Ultra96) compare a different DPU with the table."""

from __future__ import annotations

import re

import pytest

from hwsim.analysis.validation import load_records
from hwsim.hardware import load_device

RECORDS = load_records()
#: '3 * B4096 @ 287MHz' in a table's source: cores, DPU size, clock in MHz
CONFIG = re.compile(r"(\d+) \* (B\d+) @ (\d+)MHz")


def _dpu_tables() -> dict[str, set[str]]:
    """Table name -> the boards of its latency records, for the tables whose records run a DPU-like overlay."""
    tables: dict[str, set[str]] = {}
    for r in RECORDS.records:
        dev = load_device(RECORDS.boards[r.board].profile, RECORDS.boards[r.board].overrides)
        if dev.kind == "fpga" and dev.fpga is not None and "overlay_preset" in dev.fpga.model_params:
            tables.setdefault(r.table, set()).add(r.board)
    return tables


DPU_TABLES = _dpu_tables()
#: DPU tables whose source publishes no DPU configuration (QuTiBench gives each board's peak rate only): their
#: boards run the profile's model-zoo configuration, ASSUMED (the board setups say so)
CONFIGURATION_NOT_PUBLISHED = {"qutibench-imagenet-dpu"}


def test_the_three_model_zoo_boards_have_a_dpu_latency_table() -> None:
    assert set(DPU_TABLES) >= {"vitisai-zcu104", "vitisai-zcu102", "vitisai-ultra96"}


@pytest.mark.parametrize("table", sorted(CONFIGURATION_NOT_PUBLISHED))
def test_a_table_without_a_published_configuration_names_none(table: str) -> None:
    """Exempt from the check below only while its source names no configuration."""
    assert table in DPU_TABLES
    assert not CONFIG.findall(RECORDS.tables[table].source)


@pytest.mark.parametrize("table", sorted(set(DPU_TABLES) - CONFIGURATION_NOT_PUBLISHED))
def test_profile_runs_the_table_dpu_configuration(table: str) -> None:
    found = CONFIG.findall(RECORDS.tables[table].source)
    assert len(found) == 1, f"{table}: source names {len(found)} DPU configurations"
    cores, size, mhz = found[0]
    assert int(cores) >= 1  # a one-thread row keeps one of them busy: the profile models one core
    for board in DPU_TABLES[table]:
        dev = load_device(RECORDS.boards[board].profile, RECORDS.boards[board].overrides)
        assert dev.fpga is not None
        assert dev.fpga.model_params["overlay_preset"] == size, (table, board)
        assert dev.clock_hz == pytest.approx(int(mhz) * 1e6), (table, board)
