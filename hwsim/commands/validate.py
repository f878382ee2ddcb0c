"""hwsim validate [--role fit|validate|all] [--json]: hwsim's device models against published
measurements (hwsim/analysis/data/validation_records.yaml): predicted / measured per record (latency,
board power, energy per inference), and the geometric-mean ratio and error factor per device kind and
overall, per role."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hwsim.analysis.validation import (
    RECORDS_PATH, EnergyOutcome, PowerWhileRunning, Summary, load_records, run_energy_validation, run_power_validation,
    run_validation, summarize,
)

if TYPE_CHECKING:
    from rich.table import Table


@click.command("validate")
@click.option("--role", type=click.Choice(["validate", "fit", "all"]), default="all", show_default=True,
              help="Which records to run: validate (never used to fit), fit, or all.")
@click.option("--records", "records_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Records file (default: the one shipped with hwsim).")
@click.option("--workloads", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the standard model files (default: the repository's workloads/).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
def command(role: str, records_path: Path | None, workloads: Path | None, as_json: bool) -> None:
    """Predicted vs published latency per record; geometric-mean ratio and error factor per device kind."""
    records = load_records(records_path or RECORDS_PATH)
    roles = ("fit", "validate") if role == "all" else (role,)
    outcomes = run_validation(records, roles=roles, workloads=workloads)  # type: ignore[arg-type]
    summaries = {r: summarize(outcomes, r) for r in roles}  # type: ignore[arg-type]
    power = run_power_validation(records, roles=roles)  # type: ignore[arg-type]
    known = [o for o in power if o.predicted_w is not None]
    power_summaries = {r: summarize(known, r) for r in roles}  # type: ignore[arg-type]
    energy = run_energy_validation(records, roles=roles, workloads=workloads)  # type: ignore[arg-type]
    known_energy = [o for o in energy if o.predicted_mj is not None]
    energy_summaries = {r: summarize(known_energy, r) for r in roles}  # type: ignore[arg-type]
    running_summaries = {r: summarize([PowerWhileRunning(o) for o in known_energy], r)  # type: ignore[arg-type, misc]
                         for r in roles}
    if as_json:
        doc = {
            "energy_records": [_energy_json(o) for o in energy],
            "energy_summary": {r: [s.__dict__ for s in rows] for r, rows in energy_summaries.items()},
            "power_while_running_summary": {r: [s.__dict__ for s in rows] for r, rows in running_summaries.items()},
            "power_records": [{"id": o.record.id, "role": o.role, "kind": o.kind, "profile": o.profile,
                               "load": o.record.load, "scope": o.record.scope, "measured_w": o.record.watts,
                               "predicted_w": o.predicted_w,
                               "ratio": None if o.predicted_w is None else o.ratio, "table": o.record.table}
                              for o in power],
            "power_summary": {r: [s.__dict__ for s in rows] for r, rows in power_summaries.items()},
            "records": [{"id": o.record.id, "role": o.role, "kind": o.kind, "profile": o.profile,
                         "model": o.record.model, "method": o.record.method, "measured_ms": o.record.ms,
                         "predicted_ms": o.predicted_ms, "ratio": o.ratio, "table": o.record.table}
                        for o in outcomes],
            "summary": {r: [s.__dict__ for s in rows] for r, rows in summaries.items()},
        }
        click.echo(json.dumps(doc, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console() if Console().is_terminal else Console(width=200)
    t = Table(title="hwsim vs published measurements (ms per inference, batch 1)")
    for col in ("record", "role", "profile", "model", "method", "measured", "predicted", "ratio"):
        t.add_column(col, justify="right" if col in ("measured", "predicted", "ratio") else "left")
    for o in outcomes:
        t.add_row(o.record.id, o.role, o.profile, o.record.model, o.record.method, f"{o.record.ms:.2f}",
                  f"{o.predicted_ms:.2f}", f"{o.ratio:.2f}")
    con.print(t)
    for r, rows in summaries.items():
        con.print(_summary_table(f"role {r}: geometric-mean ratio (predicted/measured) and error factor", rows))
    if power:
        pt = Table(title="power: hwsim vs published measurements (W; '?' = the profile cannot predict it)")
        for col in ("record", "role", "profile", "load", "scope", "measured", "predicted", "ratio"):
            pt.add_column(col, justify="right" if col in ("measured", "predicted", "ratio") else "left")
        for o in power:
            pt.add_row(o.record.id, o.role, o.profile, o.record.load, o.record.scope, f"{o.record.watts:.2f}",
                       "?" if o.predicted_w is None else f"{o.predicted_w:.2f}",
                       "?" if o.predicted_w is None else f"{o.ratio:.2f}")
        con.print(pt)
        for r, rows in power_summaries.items():
            con.print(_summary_table(f"power, role {r}: geometric-mean ratio and error factor", rows))
    if energy:
        et = Table(title="energy per inference: hwsim vs published measurements (mJ = W x ms of the same loop; "
                         "'?' = the profile cannot give that scope)")
        for col in ("record", "role", "profile", "model", "method", "scope", "measured mJ", "predicted mJ", "ratio",
                    "measured W", "predicted W", "measured ms", "predicted ms"):
            et.add_column(col, justify="left" if col in ("record", "role", "profile", "model", "method", "scope")
                          else "right")
        for o in energy:
            known_e = o.predicted_mj is not None
            et.add_row(o.record.id, o.role, o.profile, o.record.model, o.record.method, o.record.scope,
                       f"{o.record.mj:.1f}", f"{o.predicted_mj:.1f}" if known_e else "?",
                       f"{o.ratio:.2f}" if known_e else "?", f"{o.record.watts:.2f}",
                       f"{o.predicted_w:.2f}" if known_e else "?", f"{o.record.ms:.2f}", f"{o.predicted_ms:.2f}")
        con.print(et)
        for r, rows in energy_summaries.items():
            con.print(_summary_table(f"energy per inference, role {r}: geometric-mean ratio and error factor", rows))
        for r, rows in running_summaries.items():
            con.print(_summary_table(f"board power while running (energy / latency, the latency error taken out), "
                                     f"role {r}", rows))


def _energy_json(o: EnergyOutcome) -> dict[str, object]:
    known = o.predicted_mj is not None
    return {"id": o.record.id, "role": o.role, "kind": o.kind, "profile": o.profile, "model": o.record.model,
            "method": o.record.method, "scope": o.record.scope, "table": o.record.table,
            "measured_mj": o.record.mj, "predicted_mj": o.predicted_mj, "ratio": o.ratio if known else None,
            "measured_w": o.record.watts, "predicted_w": o.predicted_w,
            "measured_ms": o.record.ms, "predicted_ms": o.predicted_ms}


def _summary_table(title: str, rows: Sequence[Summary]) -> "Table":
    """A rich table of per-kind summaries (latency or power): records, geometric-mean ratio, error factor."""
    from rich.table import Table

    table = Table(title=title)
    if not rows:
        table.caption = "no records with this role"
    for col in ("device kind", "records", "gmean ratio", "error factor", "within 1.5x"):
        table.add_column(col, justify="left" if col == "device kind" else "right")
    for row in rows:
        table.add_row(row.group, str(row.n), f"{row.gmean_ratio:.2f}", f"{row.error_factor:.2f}x",
                      f"{row.within_1_5x}/{row.n}")
    return table
