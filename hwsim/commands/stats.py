"""hwsim stats: params, MACs, weight and activation bytes, per layer and total."""

from __future__ import annotations

import json

import click

from hwsim.commands._sparsity import apply_density_options, density_options
from hwsim.frontends import load_model
from hwsim.ir.counting import count_graph
from hwsim.ir.sparsity import EffectiveMacs, effective_counts, effective_totals
from hwsim.units import format_bytes, format_si


@click.command("stats")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--per-layer", is_flag=True, help="One row per layer as well as the totals.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@density_options
def command(model: str, per_layer: bool, as_json: bool, data: str | None, images: int,
            act_density: float | None) -> None:
    """Count params, MACs (dense and effective), weight and activation bytes of a model (.json or .onnx)."""
    graph = apply_density_options(load_model(model), data, images, act_density)
    counts = count_graph(graph)
    rows = {r.node: r for r in effective_counts(graph)}
    eff = effective_totals(tuple(rows.values()))
    if as_json:
        doc = counts.as_dict()
        doc["totals"]["effective_macs"] = eff.as_dict()["effective_macs"]
        doc["sparsity"] = eff.as_dict()
        for layer in doc["layers"]:
            if layer["name"] in rows:
                layer["sparsity"] = rows[layer["name"]].as_dict()
        if not per_layer:
            doc.pop("layers")
        click.echo(json.dumps(doc, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or captured: wide enough that no name or number is cut
        console = Console(width=220)
    if per_layer:
        table = Table(title=f"{graph.name}: per layer", show_lines=False)
        for col in ("layer", "op", "output shape", "params", "MACs", "w density", "act density", "effective MACs",
                    "weights", "act out"):
            left = col in ("layer", "op", "output shape")
            table.add_column(col, justify="left" if left else "right", no_wrap=col != "layer",
                             overflow="fold" if col == "layer" else "ellipsis")
        for n in counts.nodes:
            r = rows.get(n.name)
            dens = (f"{r.weight_density:.3g}", f"{r.activation_density:.3g} {_sources(r)}",
                    f"{round(r.effective_macs):,}") if r else ("", "", "")
            table.add_row(n.name, n.op, "x".join(map(str, n.out_shape)), f"{n.params:,}", f"{n.macs:,}", *dens,
                          format_bytes(n.weight_bytes), format_bytes(n.act_out_bytes))
        console.print(table)
    total = Table(title=f"{graph.name}: totals ({len(graph.nodes)} nodes)")
    total.add_column("quantity")
    total.add_column("value", justify="right")
    total.add_column("", justify="right")
    total.add_row("parameters", f"{counts.params:,}", format_si(counts.params))
    total.add_row("MACs (conv/linear/matmul), dense", f"{counts.macs:,}", format_si(counts.macs, "MAC"))
    total.add_row(f"MACs effective (zero weights and activations skipped: {eff.fraction:.1%} of dense)",
                  f"{round(eff.effective_macs):,}", format_si(eff.effective_macs, "MAC"))
    total.add_row("weight bytes (stored)", f"{counts.weight_bytes:,}", format_bytes(counts.weight_bytes))
    total.add_row("activation bytes (all written)", f"{counts.activation_bytes:,}",
                  format_bytes(counts.activation_bytes))
    for kind, value in counts.arith.items():
        total.add_row(f"other ops: {kind}", f"{value:,}", format_si(value))
    console.print(total)
    console.print("Effective MACs = dense MACs x weight density x density of the activations read (Han et al. 2015; "
                  "zero positions assumed independent). Activation densities: " + "; ".join(eff.sources) + ".",
                  soft_wrap=True)


def _sources(r: EffectiveMacs) -> str:
    """The activation density's source in a word (measured / annotated / assumed)."""
    kinds = sorted({a.source for a in r.activations})
    return f"({', '.join(kinds)})" if kinds else ""
