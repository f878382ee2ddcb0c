"""The validation records (hwsim/analysis/data/validation_records.yaml) keep their discipline:
one role per source table, every board's profile loads, every fitted profile line cites only `fit`
records, and `hwsim validate` reports every record of the roles it is asked for."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwsim.analysis.validation import (
    Outcome, Record, RecordsFile, fitted_record_ids, load_records, summarize, summarize_group,
    tables_used_in_both_roles,
)
from hwsim.cli import cli
from hwsim.hardware import load_device

RECORDS = load_records()
ROOT = Path(__file__).resolve().parents[2]
DEVICES_DIR = ROOT / "hwsim" / "hardware" / "devices"


def _fit_profiles_tables() -> set[str]:
    """The tables bench/fit_profiles.py fits to (read from the script itself)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fit_profiles", ROOT / "bench" / "fit_profiles.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {t for target in mod.TARGETS.values() for t in target["tables"]}


def test_at_least_40_records_with_both_roles() -> None:
    roles = [RECORDS.role_of(r) for r in RECORDS.records]
    assert len(RECORDS.records) >= 40
    assert roles.count("validate") >= 20 and roles.count("fit") >= 1


def test_every_board_profile_loads() -> None:
    for name, setup in RECORDS.boards.items():
        dev = load_device(setup.profile, setup.overrides)
        assert dev.name == setup.profile, name


def test_a_table_cannot_mix_roles() -> None:
    """Roles belong to tables, so a record cannot carry its own: the schema forbids it."""
    doc = {"boards": {"b": {"profile": "pi4"}},
           "tables": {"t": {"role": "fit", "source": "s", "engine": "e", "scope": "x"}},
           "records": [{"id": "a", "table": "t", "board": "b", "model": "m", "method": "baseline", "ms": 1,
                        "row": "r", "role": "validate"}]}
    with pytest.raises(ValueError, match="role"):
        RecordsFile.model_validate(doc)


def test_records_name_known_tables_and_boards_and_unique_ids() -> None:
    doc = {"boards": {"b": {"profile": "pi4"}},
           "tables": {"t": {"role": "fit", "source": "s", "engine": "e", "scope": "x"}},
           "records": [{"id": "a", "table": "nope", "board": "b", "model": "m", "method": "baseline", "ms": 1,
                        "row": "r"}]}
    with pytest.raises(ValueError, match="unknown table"):
        RecordsFile.model_validate(doc)


def test_profiles_cite_only_fit_records_as_fitted() -> None:
    """A profile line that says 'fitted' names the record ids it was fitted to; each must be a fit record."""
    ids = {r.id: RECORDS.role_of(r) for r in [*RECORDS.records, *RECORDS.power_records]}
    cited = 0
    for path in DEVICES_DIR.glob("*.yaml"):
        for line in path.read_text().splitlines():
            if "fitted" not in line.lower():
                continue
            for rid in re.findall(r"\{([a-z0-9_.+-]+)\}", line):
                assert rid in ids, f"{path.name}: cites unknown record {rid}"
                assert ids[rid] == "fit", f"{path.name}: fitted to validate record {rid}"
                cited += 1
    assert cited >= 1


def test_no_source_table_has_rows_in_both_roles() -> None:
    """Rows of one table are never split between fitting and validating: a table is used to fit when
    it is declared `fit`, when a profile cites one of its rows as fitted, or when bench/fit_profiles.py
    fits to it; to validate when it is declared `validate`. No table may be both."""
    fitted = [i for ids in fitted_record_ids(DEVICES_DIR).values() for i in ids]
    assert fitted, "no profile cites a fitted record: the check below would be vacuous"
    assert tables_used_in_both_roles(RECORDS, fitted, _fit_profiles_tables()) == {}


def test_the_both_roles_check_catches_a_split_table() -> None:
    """The check above fails on the defect it guards against (issue 10: the A53 efficiency fitted to one
    row of the XNNPACK table and 'validated' on its other rows)."""
    doc = {"boards": {"b": {"profile": "pi4"}},
           "tables": {"x": {"role": "validate", "source": "s", "engine": "e", "scope": "x"},
                      "y": {"role": "validate", "source": "s", "engine": "e", "scope": "x"}},
           "records": [{"id": "x.1", "table": "x", "board": "b", "model": "m", "method": "baseline", "ms": 1,
                        "row": "r1"},
                       {"id": "x.2", "table": "x", "board": "b", "model": "m", "method": "baseline", "ms": 2,
                        "row": "r2"}]}
    rf = RecordsFile.model_validate(doc)
    assert set(tables_used_in_both_roles(rf, ["x.1"], [])) == {"x"}
    assert set(tables_used_in_both_roles(rf, [], ["y"])) == {"y"}
    assert tables_used_in_both_roles(rf, [], []) == {}


def test_published_figures_live_in_the_records_file_only() -> None:
    """No golden data file keeps its own published figures with a fit/validate-like role (the old
    tests/golden/data/latency_figures.json did, and split a table between 'calibration' and 'validation')."""
    offenders = []
    for path in (ROOT / "tests" / "golden" / "data").rglob("*.json"):
        text = path.read_text(encoding="utf-8", errors="replace")
        if re.search(r'"role"\s*:\s*"(fit|validate|validation|calibration)"', text):
            offenders.append(path.name)
    assert offenders == []


def _outcome(ratio: float, kind: str, role: str = "validate") -> Outcome:
    rec = Record(id=f"r{ratio}{kind}", table="t", board="b", model="m", method="baseline", ms=1.0, row="r")
    return Outcome(rec, role, kind, "p", ratio)  # type: ignore[arg-type]


def test_summary_is_the_geometric_mean_and_error_factor() -> None:
    s = summarize_group("x", [_outcome(2.0, "cpu"), _outcome(0.5, "cpu")])
    assert s.gmean_ratio == pytest.approx(1.0)
    assert s.error_factor == pytest.approx(2.0)
    assert s.within_1_5x == 0
    rows = summarize([_outcome(1.2, "cpu"), _outcome(3.0, "gpu"), _outcome(9.0, "gpu", "fit")], "validate")
    assert [r.group for r in rows] == ["cpu", "gpu", "overall"]
    assert rows[-1].error_factor == pytest.approx(math.sqrt(1.2 * 3.0))
    assert summarize([_outcome(1.2, "cpu")], "fit") == []  # a role with no records has no rows, not NaN ones


def test_validate_json_is_strict_json_with_no_nan() -> None:
    res = CliRunner().invoke(cli, ["validate", "--json"])
    assert res.exit_code == 0, res.output
    json.loads(res.output, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c} in validate --json"))


def test_validate_command_reports_every_record_of_the_role() -> None:
    res = CliRunner().invoke(cli, ["validate", "--role", "fit", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    fit_ids = {r.id for r in RECORDS.records if RECORDS.role_of(r) == "fit"}
    assert {r["id"] for r in doc["records"]} == fit_ids
    for r in doc["records"]:
        assert r["predicted_ms"] > 0 and r["ratio"] == pytest.approx(r["predicted_ms"] / r["measured_ms"])
    assert doc["summary"]["fit"][-1]["group"] == "overall"


def test_overlay_buffer_bram_follows_the_design_not_the_budget() -> None:
    """Issue 12: the overlay's tile buffers used to fill the BRAM budget whatever the method (238/280
    on fpga-small for every row); they now hold the largest layer's working set, within the budget."""
    from testutils import WORKLOADS

    from hwsim.compress.method import apply_method
    from hwsim.frontends import load_model
    from hwsim.sim import simulate

    g = load_model(WORKLOADS / "mobilenet_v2.json")
    dev = load_device("zcu102")
    bram = {m: simulate(g if m == "baseline" else apply_method(g, m).graph, dev, check_fit=False).resources["bram18"]
            for m in ("baseline", "int8")}
    assert bram["int8"] < bram["baseline"]


def test_device_uncertainty_uses_own_records_else_the_kind() -> None:
    from hwsim.analysis.validation import device_uncertainty

    own = device_uncertainty("zcu102", "fpga")
    assert own is not None and own.own and own.n == 6 and own.error_factor >= 1.0  # 5 model-zoo rows + QuTiBench's
    other = device_uncertainty("cpu-a72", "cpu")  # no record on this profile: the cpu boards' error stands in, labelled
    assert other is not None and not other.own and "has none" in other.describe()
    assert device_uncertainty("nothing", "no-such-kind") is None
