"""hwsim compress MODEL --method NAME|FILE -o out.json|out.onnx [--weights-out out.npz] [--json]:
apply a compression method and write the compressed model with a summary of what each pass did.

An ``.onnx`` output is the compressed graph written by ``hwsim.frontends.onnx_writer``: the same function
with every weight decoded to the float32 values the kernels compute with (ONNX cannot hold the encodings;
the model.json does). fp32 graphs only: a graph with integer or fp16 activations is refused.

The written model.json carries every tensor's annotations (dtype, encoding, density, stored_bits,
meta), which is all a cost model reads. ``--weights-out`` writes the weights as the float32 values a
kernel computes with (decoded from their encodings; an .npz cannot hold the encoded payloads), and
the model.json points at that file and says so in ``meta.weights_values`` (as do the summary and
``--json``): the stored form is described by the annotations, not by the file.

Sizes come from really encoding the weights, so by default the weights are materialized: the model's
own (npz / ONNX initializers) or, when it ships none, seeded Kaiming-normal ones (said in the
summary). ``--no-materialize`` runs cost-only: formats' formula estimates, no arrays.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import click
import numpy as np

from hwsim.errors import UsageError
from hwsim.fileio import atomic_write_many
from hwsim.frontends import load_model
from hwsim.frontends.model_json import graph_to_document
from hwsim.ir import OpGraph
from hwsim.units import format_bytes


def _register_calibrator() -> None:
    """The ``kernels`` / ``digits`` activation calibrators (``hwsim.analysis.act_calibration``, the one
    place they are defined) are registered on first use by the command, not at import: importing the
    command module for ``hwsim --help`` or another command must not load the compression stack."""
    import hwsim.analysis.act_calibration  # noqa: F401  (registers them)


#: What ``--weights-out`` holds, written into the model.json's meta and the summary: an .npz has no place for
#: the encoded payloads, so the file holds the values they decode to.
DECODED_WEIGHTS = ("decoded float32: each weight as the float values its stored form decodes to (integer codes "
                   "times scales, codebook entries, zeros of pruned positions), not the stored codes, scales, "
                   "codebooks or sparse indices; the tensors' dtype, encoding and stored_bits annotations describe "
                   "that stored form and its size")


def _weights_bytes(graph: OpGraph) -> int:
    return sum(graph.tensor(t).size_bytes for t in graph.weight_names())


def summary_doc(cm: Any, graph_in: OpGraph, seeded: bool, materialized: bool) -> dict[str, Any]:
    before, after = _weights_bytes(graph_in), _weights_bytes(cm.graph)
    return {
        "model": graph_in.name, "method": cm.method.name, "description": cm.method.description,
        "steps": [{"pass": n, "params": dict(p)} for n, p in cm.method.steps],
        "weights": ("seeded Kaiming-normal (the model ships none)" if seeded else
                    "the model's own" if materialized else "not materialized: formula sizes"),
        "weight_bytes_before": before, "weight_bytes_after": after,
        "compression_ratio": round(before / after, 3) if after else None,
        "needs_training": cm.needs_training, "notes": list(cm.notes),
        "layers": cm.layer_rows(),
    }


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "x".join(str(x) for x in v)
    return str(v)


def _npz_writer(graph: OpGraph) -> Callable[[BinaryIO], None]:
    """Writes the decoded float32 weights as an .npz, one tensor at a time (no second copy of them all)."""
    def write(f: BinaryIO) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            for t in graph.weight_names():
                arr = np.ascontiguousarray(graph.dense_weight(t), dtype=np.float32)
                with z.open(f"{t}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, arr, allow_pickle=False)

    return write


@click.command("compress")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--method", "-m", required=True, help="Catalogue name (see `hwsim methods`), methods.yaml, or "
              "methods.yaml#name.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              help="Compressed model.json to write, or an .onnx file (the same function, weights decoded to float32).")
@click.option("--weights-out", type=click.Path(dir_okay=False), default=None,
              help="Also write the (decoded float32) weights as .npz, referenced by the model.json.")
@click.option("--materialize/--no-materialize", default=True, show_default=True,
              help="Encode real weights (seeded ones if the model ships none) or only estimate sizes.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def command(model: str, method: str, output: str, weights_out: str | None, materialize: bool, as_json: bool) -> None:
    """Compress MODEL with a method; write the compressed model and summarize every pass per layer."""
    from hwsim.compress import apply_method
    from hwsim.compress.catalogue import get_method
    from hwsim.compress.compact import set_model_loader

    _register_calibrator()
    if weights_out is not None and not weights_out.endswith(".npz"):
        raise UsageError("the weights file must end in .npz", where="--weights-out")
    as_onnx = output.endswith(".onnx")
    if not output.endswith(".json") and not as_onnx:
        raise UsageError("the output must be a model .json or .onnx file", where="--output")
    if as_onnx and (weights_out is not None or not materialize):
        raise UsageError("an .onnx output holds its own (decoded float32) weights: no --weights-out, no "
                         "--no-materialize", where="--output")
    meth = get_method(method)
    graph = load_model(model)
    seeded = materialize and not graph.weights.provided_names()
    if materialize:
        graph = graph.materialize()
    set_model_loader(load_model)
    try:
        cm = apply_method(graph, meth)
    finally:
        set_model_loader(None)
    out = cm.graph.with_meta(compressed_by=meth.name)
    if weights_out is not None:  # the file holds decoded floats, not the encoded payloads: say so in the model
        out = out.with_meta(weights_values=DECODED_WEIGHTS)
    out_path = Path(output)
    files: list[tuple[Path, Callable[[BinaryIO], None]]] = []
    weights_file = None
    if weights_out is not None:
        wpath = Path(weights_out)
        files.append((wpath, _npz_writer(out)))
        weights_file = os.path.relpath(wpath.resolve(), out_path.resolve().parent)
    if as_onnx:  # the same function as ONNX: weights decoded to float32 (ONNX has no spelling for the formats)
        from hwsim.frontends.onnx_writer import graph_to_onnx

        data = graph_to_onnx(out).SerializeToString()
        files.append((out_path, lambda f: f.write(data)))
    else:
        text = (json.dumps(graph_to_document(out, weights_file), indent=1) + "\n").encode("utf-8")
        files.append((out_path, lambda f: f.write(text)))
    atomic_write_many(files, UsageError)  # both or neither: the .npz never without its model.json
    doc = summary_doc(cm, graph, seeded, materialize)
    if weights_out is not None:
        doc["weights_file"] = {"path": weights_out, "values": DECODED_WEIGHTS}
    if as_json:
        click.echo(json.dumps(doc, indent=1, default=str))
        return
    _print_table(doc, output, weights_out)


def _print_table(doc: dict[str, Any], output: str, weights_out: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    if not con.is_terminal:
        con = Console(width=160)
    t = Table(title=f"{doc['model']} [{doc['method']}]: {doc['description']}")
    for col in ("pass", "layer", "action", "sparsity", "bits", "rank", "format", "bytes before", "bytes after"):
        t.add_column(col, justify="right" if col.startswith(("bytes", "spars", "bits")) else "left")
    for r in doc["layers"]:
        t.add_row(r["pass"], r["layer"], r["action"], _fmt(r["sparsity"]), _fmt(r["bits"]), _fmt(r["rank"]),
                  _fmt(r["format"]), f"{r['bytes_before']:,}", f"{r['bytes_after']:,}")
    con.print(t)
    ratio = doc["compression_ratio"]
    con.print(f"weights: {format_bytes(doc['weight_bytes_before'])} -> {format_bytes(doc['weight_bytes_after'])}"
              + (f" ({ratio:.2f}x smaller)" if ratio else "") + f"; values: {doc['weights']}")
    if doc["needs_training"]:
        con.print("task accuracy: unknown (this method needs training the tool does not do)")
    for n in doc["notes"]:
        con.print(f"note: {n}")
    con.print(f"wrote {output}" + (f" and {weights_out}" if weights_out else ""))
    if weights_out:
        con.print(f"{weights_out} holds {DECODED_WEIGHTS}")
