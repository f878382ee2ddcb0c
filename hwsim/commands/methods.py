"""hwsim methods [--passes] [--json]: the compression method catalogue (and the passes it is built from)."""

from __future__ import annotations

import json

import click


@click.command("methods")
@click.option("--passes", "show_passes", is_flag=True, help="List the registered passes instead of the methods.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
def command(show_passes: bool, as_json: bool) -> None:
    """List the named compression methods (use one with `hwsim compress --method NAME`)."""
    from hwsim.compress import PASSES
    from hwsim.compress.catalogue import DEFAULT_METHODS, METHODS

    if show_passes:
        rows = [{"pass": name, "family": d.family, "lossless": d.lossless,
                 "description": (d.doc.splitlines() or [""])[0]} for name, d in sorted(PASSES.items())]
        if as_json:
            click.echo(json.dumps(rows, indent=1))
            return
        _table("compression passes", ["pass", "family", "lossless", "description"], rows)
        return
    rows = [{"method": m.name, "family": m.family, "needs_training": m.needs_training,
             "default": m.name in DEFAULT_METHODS, "steps": " -> ".join(s for s, _ in m.steps) or "(none)",
             "description": m.description} for _, m in METHODS.items()]
    if as_json:
        click.echo(json.dumps([{**r, "definition": METHODS.get(r["method"]).as_dict()} for r in rows], indent=1))
        return
    _table("compression methods (* = compared by default)", ["method", "needs_training", "steps", "description"],
           [{**r, "method": r["method"] + (" *" if r["default"] else ""),
             "needs_training": {True: "yes", False: "no", None: "unknown"}[r["needs_training"]]} for r in rows])


def _table(title: str, cols: list[str], rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in cols:
        t.add_column(c.replace("_", " "))
    for r in rows:
        t.add_row(*(str(r[c]) for c in cols))
    con = Console()
    (con if con.is_terminal else Console(width=160)).print(t)
