"""hwsim devices: list the device catalogue; ``hwsim devices show NAME`` prints one profile with its
derived peaks (ops/s per unit and bit width, bytes/s per level, ridge points, sparse break-even)."""

from __future__ import annotations

import json
from typing import Any

import click

from hwsim.hardware import DeviceProfile, list_devices, load_device, parse_set_option
from hwsim.hardware.peaks import best_peak, level_bandwidths, peak_ops, ridge_point
from hwsim.units import format_bytes, format_si

#: Formats whose break-even density ``show`` reports (a batch-1 1024 x 1024 fp32 linear layer).
BREAK_EVEN_FORMATS = ("csr", "bitmap", "coo")


def _summary(d: DeviceProfile) -> dict[str, Any]:
    def peak(dtype: str) -> float | None:
        p = best_peak(d, dtype)
        return p.ops_per_s if p else None

    return {"name": d.name, "kind": d.kind, "clock_hz": d.clock_hz, "fp32_ops_per_s": peak("fp32"),
            "int8_ops_per_s": peak("int8"), "dram_bytes_per_s": d.dram.bandwidth_bytes_per_s,
            "description": d.description}


def describe(d: DeviceProfile, *, break_even: bool = True) -> dict[str, Any]:
    """Everything ``show`` prints, as plain data."""
    from hwsim.cost.sparse import break_even_density

    doc: dict[str, Any] = {
        "name": d.name, "kind": d.kind, "description": d.description, "source": d.source,
        "clock_hz": d.clock_hz, "process_nm": d.process_nm, "static_power_w": d.static_power_w,
        "power_scope": d.power_scope, "board_idle_power_w": d.board_idle_power_w,
        "host_power_w": d.host_power_w, "soc_active_power_w": d.soc_active_power_w,
        "peaks_ops_per_s": {p.label: p.ops_per_s for p in peak_ops(d)},
        "memory": [{"name": lv.name, "size_bytes": lv.size_bytes, "instances": lv.instances,
                    "bandwidth_bytes_per_s": lv.bandwidth_bytes_per_s, "latency_s": lv.latency_s,
                    "energy_pj_per_byte": lv.energy_pj_per_byte, "on_chip": lv.on_chip} for lv in d.memory],
        "bandwidth_bytes_per_s": level_bandwidths(d),
        "ridge_ops_per_dram_byte": {dt: ridge_point(d, dt) for dt in ("fp32", "fp16", "int8", "binary")
                                    if ridge_point(d, dt) is not None},
        "energy_pj": {"mac": dict(d.energy.mac_pj), "op": dict(d.energy.op_pj),
                      "process_scale": d.energy.process_scale},
        "overrides": dict(d.overrides),
    }
    if break_even:
        doc["sparse_break_even_density"] = {f: break_even_density(d, f) for f in BREAK_EVEN_FORMATS}
    return doc


@click.group("devices", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """List device profiles ($HWSIM_DEVICES_DIR, ~/.config/hwsim/devices, the shipped ones); `devices show NAME` prints one with derived peaks."""
    if ctx.invoked_subcommand is not None:
        return
    rows = [_summary(load_device(n)) for n in list_devices()]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="devices")
    for col in ("name", "kind", "clock", "fp32 peak", "int8 peak", "DRAM"):  # descriptions: `devices show NAME`
        table.add_column(col, justify="left" if col in ("name", "kind") else "right", no_wrap=True)
    for r in rows:
        table.add_row(r["name"], r["kind"], format_si(r["clock_hz"], "Hz"),
                      *("-" if v is None else format_si(v, "OPS") for v in (r["fp32_ops_per_s"], r["int8_ops_per_s"])),
                      format_si(r["dram_bytes_per_s"], "B/s"))
    Console().print(table)


@command.command("provenance")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
def provenance(names: tuple[str, ...], as_json: bool) -> None:
    """Share of each profile's numeric lines marked ASSUMED (issue 10 target: under 20 %), with the keys; the
    shared software model (hwsim/hardware/software_models.yaml) is counted once, on its own row."""
    from hwsim.hardware.loader import device_path
    from hwsim.hardware.provenance import LABELS, profile_provenance
    from hwsim.hardware.software_model import software_models_path

    rows = [profile_provenance(device_path(n)) for n in (names or list_devices())]
    if not names:
        rows.append(profile_provenance(software_models_path(), "(shared software model)"))
    if as_json:
        click.echo(json.dumps([{"profile": r.profile, "numeric_lines": r.numeric_lines,
                                "assumed_lines": r.assumed_lines, "assumed_share": r.assumed_share,
                                "assumed_keys": list(r.assumed_keys),
                                "labels": {lb: r.count(lb) for lb in LABELS}} for r in rows], indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="provenance of numeric profile lines: ASSUMED share (target < 20 % per board profile)")
    counted = ("numeric", "ASSUMED", "share", *(lb for lb in LABELS if lb != "ASSUMED"))
    for col in ("profile", *counted, "ASSUMED keys"):
        table.add_column(col, justify="right" if col in counted else "left")
    for r in rows:
        table.add_row(r.profile, str(r.numeric_lines), str(r.assumed_lines), f"{r.assumed_share:.0%}",
                      *(str(r.count(lb)) for lb in LABELS if lb != "ASSUMED"), ", ".join(r.assumed_keys))
    Console(width=220).print(table)


@command.command("show")
@click.argument("name")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a profile key (dotted path).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
def show(name: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Print one device profile with its derived peaks."""
    d = load_device(name, parse_set_option(sets))
    doc = describe(d)
    if as_json:
        click.echo(json.dumps(doc, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{d.name}[/bold] ({d.kind}): {d.description}")
    con.print(f"clock {format_si(d.clock_hz, 'Hz')}, {d.process_nm:g} nm, static power {d.static_power_w:g} W "
              f"({d.power_scope or 'scope unstated'}), file {d.source}")
    board = (("idle", d.board_idle_power_w), ("host while running", d.host_power_w),
             ("rest of the SoC while running", d.soc_active_power_w))
    if any(w is not None for _, w in board):
        con.print("board: " + ", ".join(f"{label} {w:g} W" for label, w in board if w is not None))
    if d.overrides:
        con.print("overrides: " + ", ".join(f"{k}={v}" for k, v in d.overrides))
    spec = d.spec
    con.print(f"{d.kind}: " + ", ".join(f"{k}={v}" for k, v in vars(spec).items() if not isinstance(v, dict)
                                        and k != "model_params"))
    t = Table(title="peak throughput (1 MAC = 2 ops)")
    t.add_column("unit.dtype")
    t.add_column("ops/s", justify="right")
    for label, v in doc["peaks_ops_per_s"].items():
        t.add_row(label, format_si(v, "OPS"))
    con.print(t)
    m = Table(title="memory hierarchy (from the compute units outwards)")
    for col in ("level", "size", "bandwidth", "latency", "pJ/byte", "on chip"):
        m.add_column(col, justify="left" if col == "level" else "right")
    for lv in d.memory:
        size = format_bytes(lv.size_bytes) + (f" x{lv.instances}" if lv.instances > 1 else "")
        m.add_row(lv.name, size, format_si(lv.bandwidth_bytes_per_s, "B/s"), f"{lv.latency_s * 1e9:.1f} ns",
                  f"{lv.energy_pj_per_byte:.3g}", "yes" if lv.on_chip else "no")
    con.print(m)
    con.print("ridge point (ops per DRAM byte): " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                               doc["ridge_ops_per_dram_byte"].items()))
    be = doc["sparse_break_even_density"]
    con.print("sparse break-even density (batch-1 1024x1024 fp32 linear; sparse wins below): " +
              ", ".join(f"{k} {'n/a' if v is None else f'{v:.3f}'}" for k, v in be.items()))
    e = d.energy
    con.print("energy per MAC (pJ, Horowitz 45 nm x %.2f): " % e.process_scale +
              ", ".join(f"{k} {v:.3g}" for k, v in e.mac_pj.items()))
