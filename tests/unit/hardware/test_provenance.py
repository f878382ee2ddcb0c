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
