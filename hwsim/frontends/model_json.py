"""model.json: hwsim's own model format (versioned; documented in docs/model-format.md).

Load = parse JSON -> validate (extra keys forbidden; errors name the key path) -> expand the sequential
shorthand -> ``OpGraph.build`` (shapes inferred, names and cycles checked). Validation has two readers
with one result: a document in the plain form is read by ``model_json_plain`` without pydantic (fast
start-up); anything else goes to the pydantic schema in ``model_file``, which accepts it or writes the
error message. Save writes the canonical, fully explicit form, so load -> save -> load gives an
identical graph.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

from hwsim.errors import HwsimError, ModelFormatError
from hwsim.fileio import atomic_write, read_text
from hwsim.frontends.model_json_plain import plain_document
from hwsim.ir.dtypes import FP32, dtype
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec, frozen_meta
from hwsim.ir.weights import WeightStore

FORMAT_NAME = "hwsim-model"
FORMAT_VERSION = 1


def json_schema() -> dict[str, Any]:
    """The JSON schema of model.json (from the pydantic models; ``python -m hwsim.frontends.schema``)."""
    from hwsim.frontends.model_file import json_schema as schema

    return schema()


def __getattr__(name: str) -> Any:
    """``ModelFile`` and its parts stay importable from here, built on first use (pydantic is slow to import)."""
    if name in ("ModelFile", "InputSpec", "NodeSpec", "TensorAnnotation", "validation_message"):
        from hwsim.frontends import model_file

        return getattr(model_file, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def validated_document(data: Any, source: str = "<model>") -> dict[str, Any]:
    """A decoded model.json document validated, with every default filled in (the pydantic schema's
    ``model_dump()``; through the fast reader when the document is in its plain form)."""
    if not isinstance(data, dict):
        raise ModelFormatError("a model file must hold a JSON object", source=source)
    doc = plain_document(data)
    if doc is None:
        from hwsim.frontends.model_file import validated_document as by_schema

        doc = by_schema(data, source)
    return doc


def parse_model(data: Any, source: str = "<model>", base_dir: Path | None = None,
                weights_path: Path | None = None) -> OpGraph:
    """Validate a decoded model.json document and build its graph."""
    mf = validated_document(data, source)
    inputs = [TensorSpec(i["name"], tuple(i["shape"]), dtype(i["dtype"]), "input") for i in mf["inputs"]]
    nodes: list[Node] = []
    previous = [inputs[0].name]
    for ns in mf["nodes"]:
        ins = tuple(ns["inputs"]) if ns["inputs"] is not None else (previous[0],)
        outs = tuple(ns["outputs"]) if ns["outputs"] is not None else (ns["name"],)
        nodes.append(Node(ns["name"], ns["op"], ins, outs, dict(ns["attrs"]), dict(ns["params"])))
        previous = list(outs)
    outputs = mf["outputs"] if mf["outputs"] is not None else previous
    annotations: dict[str, TensorSpec] = {}
    for tname, ann in mf["tensors"].items():
        try:
            dt = dtype(ann["dtype"])
        except HwsimError as e:
            raise e.located(source=source, where=f"tensors.{tname}.dtype") from None
        # shape () = "take the inferred shape" (files do not repeat shapes)
        annotations[tname] = TensorSpec(tname, (), dt, "activation", ann["encoding"], ann["density"],
                                        ann["stored_bits"], frozen_meta(ann["meta"]))
    weights_file = mf["weights"]
    if weights_path is None and weights_file:
        folder = (base_dir or Path(".")).resolve()
        weights_path = folder / weights_file
        if not weights_path.resolve().is_relative_to(folder):
            raise ModelFormatError(f"weights file {weights_file!r} is outside the model's folder {str(folder)!r}; "
                                   "pass it explicitly to use it", source=source, where="weights")
    if weights_path is not None and not weights_path.is_file():
        raise ModelFormatError(f"weights file {str(weights_path)!r} does not exist", source=source, where="weights")
    if weights_path is not None:
        check_weights_archive(weights_path)
    store = WeightStore(seed=mf["seed"], npz_path=weights_path)
    meta = dict(mf["meta"])
    meta["seed"] = mf["seed"]
    graph = OpGraph.build(mf["name"], inputs, nodes, outputs, store, annotations,
                          meta, source)
    return graph


def check_weights_archive(path: Path) -> None:
    """A weights file must be an intact .npz archive (every member's CRC checked, streamed: no array is
    built), so a damaged file is refused when the model is read, not by whichever command first needs
    a value."""
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, zlib.error) as e:
        raise ModelFormatError(f"weights file is not a readable .npz archive: {e}", source=str(path)) from None
    if bad is not None:
        raise ModelFormatError(f"weights file is damaged: member {bad!r} fails its checksum", source=str(path))


def load_model_json(path: str | Path, weights_path: str | Path | None = None) -> OpGraph:
    """Read a model.json. Its ``weights`` file must lie inside the model's folder; ``weights_path`` (given
    explicitly by the caller) overrides it and may be anywhere."""
    path = Path(path)
    text = read_text(path, ModelFormatError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelFormatError(f"malformed JSON: {e.msg}", source=str(path), where=f"line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise ModelFormatError("JSON nested too deeply", source=str(path)) from None
    return parse_model(data, str(path), path.parent, Path(weights_path) if weights_path is not None else None)


def graph_to_document(graph: OpGraph, weights_file: str | None = None) -> dict[str, Any]:
    """The canonical model.json document of a graph (explicit inputs, outputs, params, normalized attrs)."""
    doc: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": graph.name,
        "seed": int(graph.meta.get("seed", graph.weights.seed)),
    }
    if weights_file:
        doc["weights"] = weights_file
    doc["inputs"] = [{"name": n, "shape": list(graph.tensor(n).shape), "dtype": graph.tensor(n).dtype.name}
                     for n in graph.inputs]
    doc["nodes"] = [
        {"name": n.name, "op": n.op, "inputs": list(n.inputs), "outputs": list(n.outputs),
         "attrs": _jsonable(dict(n.attrs)), "params": dict(n.params)}
        for n in graph.nodes
    ]
    doc["outputs"] = list(graph.outputs)
    ann = graph.annotations()
    if ann:
        doc["tensors"] = {
            name: {"dtype": s.dtype.name, "encoding": s.encoding, "density": s.density,
                   "stored_bits": s.stored_bits, "meta": _jsonable(_thaw(s.meta))}
            for name, s in sorted(ann.items())
        }
    meta = {k: v for k, v in graph.meta.items() if k != "seed"}
    if meta:
        doc["meta"] = _jsonable(meta)
    return doc


def _thaw(meta: Any) -> Any:
    if isinstance(meta, tuple) and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in meta):
        return {k: _thaw(v) for k, v in meta}
    if isinstance(meta, tuple):
        return [_thaw(v) for v in meta]
    return meta


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item):
        return v.item()
    return v


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file so that readers never see a half-written one (temp file + rename)."""
    atomic_write(path, text, ModelFormatError)


def save_model_json(graph: OpGraph, path: str | Path, weights_file: str | None = None) -> None:
    doc = graph_to_document(graph, weights_file)
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


__all__ = ["json_schema", "load_model_json", "parse_model", "save_model_json", "graph_to_document",
           "atomic_write_text", "validated_document", "FP32"]
