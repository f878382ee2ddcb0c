"""hwsim simulate MODEL --device NAME [--method M] [--engine analytic|event] [--set KEY=VALUE ...] [--json]:
cost and schedule one model (optionally compressed by a named method) on one device."""

from __future__ import annotations

import json
from typing import Any

import click

from hwsim.commands._sparsity import apply_density_options, attach_effective_macs, density_options
from hwsim.frontends import load_model
from hwsim.hardware import load_device, parse_set_option
from hwsim.ir import OpGraph
from hwsim.sim import simulate
from hwsim.sim.result import RunResult
from hwsim.units import format_bytes, format_si


def apply_named_method(graph: OpGraph, method: str) -> OpGraph:
    """The graph compressed by a catalogue method or a methods-file entry ("baseline": unchanged)."""
    if method == "baseline":
        return graph
    from hwsim.compress import apply_method  # lazy: the compression stack is only needed here
    from hwsim.compress.catalogue import get_method

    return apply_method(graph, get_method(method)).graph


def result_doc(r: RunResult, per_op: bool, graph: OpGraph | None = None) -> dict[str, Any]:
    doc = r.as_dict()
    if not per_op:
        doc.pop("ops")
    return attach_effective_macs(doc, graph) if graph is not None else doc


def method_label(graph: OpGraph, method: str | None) -> tuple[str, str | None]:
    """(what the simulated model carries, the compression the model file records). A file written by
    ``hwsim compress`` records its method (``meta.compressed_by``): simulating it is not "baseline"."""
    recorded = graph.meta.get("compressed_by")
    recorded = str(recorded) if recorded else None
    applied = method if method not in (None, "baseline") else None
    if recorded and applied:
        return f"{recorded} (from the model file) + {applied}", recorded
    if recorded:
        return f"{recorded} (from the model file)", recorded
    return applied or "baseline", None


def _early_exit(graph: OpGraph, r: RunResult) -> Any:
    """Expected and worst-case cost of a model with exit branches (None without)."""
    if not graph.meta.get("early_exits"):
        return None
    from hwsim.analysis.metrics import early_exit_cost
    from hwsim.ir.counting import count_graph

    shape = graph.tensor(graph.inputs[0]).shape if graph.inputs else ()
    batch = max(1, int(shape[0])) if shape else 1
    return early_exit_cost(graph, r, {n.name: n.macs for n in count_graph(graph).nodes}, batch)


@click.command("simulate")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--device", "-d", required=True, help="Device name (`hwsim devices` lists them) or a YAML path.")
@click.option("--method", "-m", default=None,
              help="Compression method to apply first (catalogue name, or methods.yaml#name); default none "
                   "(the model as stored: baseline, or what the model file records it was compressed by).")
@click.option("--engine", "-e", default="analytic", show_default=True, help="Engine: analytic or event.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a device profile key for this run (dotted path), e.g. memory.dram.bandwidth='12.8 GB/s'.")
@click.option("--per-op", is_flag=True, help="Show every op, not only the totals.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.option("--prefill", type=click.IntRange(min=1), default=None,
              help="LLM configs: prompt tokens (prefill); with it the run is a whole generation.")
@click.option("--context", type=click.IntRange(min=1), default=None,
              help="LLM configs: context length of the reported decode step (default: the prompt length).")
@click.option("--new-tokens", type=click.IntRange(min=1), default=None,
              help="LLM configs: tokens to generate (the first comes from prefill).")
@density_options
def command(model: str, device: str, method: str | None, engine: str, sets: tuple[str, ...], per_op: bool,
            as_json: bool, prefill: int | None, context: int | None, new_tokens: int | None, data: str | None,
            images: int, act_density: float | None) -> None:
    """Simulate MODEL (.json / .onnx / LLM config .yaml) on a device: latency, energy, traffic, memory,
    bound per op; for an LLM config with --prefill/--context/--new-tokens, a whole generation.

    A model with early exits shows the expected cost (weighted by its exit probabilities) and the worst
    case (no input leaves early), labelled."""
    dev = load_device(device, parse_set_option(sets))
    if prefill is not None or context is not None or new_tokens is not None:
        from hwsim.commands.llm_generation import run_generation

        run_generation(model, dev, method or "baseline", engine, prefill, context, new_tokens, as_json)
        return
    loaded = load_model(model)
    label, recorded = method_label(loaded, method)
    graph = apply_density_options(apply_named_method(loaded, method or "baseline"), data, images, act_density)
    r = simulate(graph, dev, engine=engine, method=label)
    ee = _early_exit(graph, r)
    if as_json:
        doc = result_doc(r, per_op, graph)
        doc["compressed_by_model_file"] = recorded
        doc["early_exit"] = ee.as_dict() if ee is not None else None
        if ee is not None:
            doc["seconds_expected"], doc["seconds_worst_case"] = ee.expected_latency_s, ee.worst_latency_s
            doc["energy_j_expected"], doc["energy_j_worst_case"] = ee.expected_energy_total_j, ee.worst_energy_total_j
        click.echo(json.dumps(doc, indent=1, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    if per_op:
        t = Table(title=f"{r.model} on {r.device}: per op ({r.engine})")
        for col in ("node", "op", "bound", "cycles", "compute", "memory", "DRAM bytes", "energy pJ"):
            t.add_column(col, justify="left" if col in ("node", "op", "bound") else "right")
        dram = dev.dram.name
        for o in r.ops:
            t.add_row(o.node, o.op, o.bound, f"{o.cycles:,}", f"{o.compute_cycles:,}", f"{o.memory_cycles:,}",
                      format_bytes(o.transfer_bytes.get(dram, 0)), f"{sum(o.energy_pj.values()):.3g}")
        con.print(t)
    from rich.markup import escape

    t = Table(title=escape(f"{r.model} [{r.method}] on {r.device} ({r.engine})"))
    t.add_column("quantity")
    t.add_column("value", justify="right")
    if ee is not None:
        t.add_row("latency, expected (early exits)", f"{ee.expected_latency_s * 1e3:.3f} ms")
        t.add_row("latency, worst case (no early exit)",
                  f"{r.seconds * 1e3:.3f} ms ({r.total_cycles:,} cycles @ {format_si(r.clock_hz, 'Hz')})")
        t.add_row("energy, expected (early exits)", f"{ee.expected_energy_total_j * 1e3:.3f} mJ")
        t.add_row("energy, worst case (no early exit)", f"{r.energy_total_pj / 1e9:.3f} mJ")
    else:
        t.add_row("latency", f"{r.seconds * 1e3:.3f} ms ({r.total_cycles:,} cycles @ {format_si(r.clock_hz, 'Hz')})")
        scope = r.extra.get("energy_scope", "unstated")
        t.add_row({"chip": "energy (chip)", "board": "energy (board, at the wall)"}.get(scope, "energy (scope unstated)"),
                  f"{r.energy_total_pj / 1e9:.3f} mJ")
        if scope == "chip" and "board_energy_j" in r.extra:
            t.add_row("energy (board, at the wall)", f"{float(r.extra['board_energy_j']) * 1e3:.3f} mJ")
    for k, v in r.energy_pj.items():
        t.add_row(f"  energy: {k}", f"{v / 1e9:.3f} mJ")
    for k, v in r.transfer_bytes.items():
        t.add_row(f"traffic: {k}", format_bytes(v))
    eff = attach_effective_macs({}, graph)["sparsity"]
    t.add_row("MACs dense / effective", f"{format_si(eff['dense_macs'], 'MAC')} / {format_si(eff['effective_macs'], 'MAC')}"
              f" (activation densities: {'; '.join(eff['activation_density_sources'])})")
    t.add_row("weights (stored)", format_bytes(r.weight_bytes))
    t.add_row("peak activations", format_bytes(r.peak_activation_bytes))
    t.add_row("footprint", f"{format_bytes(r.footprint_bytes)} ({'fits' if r.fits_memory else 'does NOT fit'})")
    bounds: dict[str, int] = {}
    for o in r.ops:
        bounds[o.bound] = bounds.get(o.bound, 0) + o.cycles
    op_time = sum(bounds.values())  # ops overlap in a pipelined design, so their time can exceed the latency
    for k, v in sorted(bounds.items()):
        t.add_row(f"op time {k}-bound", f"{100 * v / max(op_time, 1):.1f} % of the ops' summed time")
    if r.resources:
        wanted = r.resources.get("bram18_wanted")
        t.add_row("FPGA resources", ", ".join(f"{k} {v:,}/{r.resource_limits.get(k, '?')}"
                                              for k, v in r.resources.items() if k != "bram18_wanted")
                  + (f" (BRAM capped: {wanted:,} wanted, see notes)" if wanted and wanted > r.resources.get("bram18", 0)
                     else ""))
    con.print(t)
    if ee is not None:
        con.print(f"early exits: expected = weighted by the exit probabilities the method states "
                  f"({', '.join(f'{x.exit} {x.probability:.0%}' for x in ee.exits)}, full network "
                  f"{ee.full_probability:.0%}); worst case = no input leaves early (every branch runs); the rows "
                  "below the two are the worst case." + (f" {ee.note}" if ee.note else ""))
