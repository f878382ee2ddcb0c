"""model.json: hwsim's own model format (versioned; documented in docs/model-format.md).

Load = parse JSON -> validate with pydantic (extra keys forbidden; errors name the key path) ->
expand the sequential shorthand -> ``OpGraph.build`` (shapes inferred, names and cycles checked).
Save writes the canonical, fully explicit form, so load -> save -> load gives an identical graph.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hwsim.errors import HwsimError, ModelFormatError, quoted_value_hint
from hwsim.fileio import atomic_write, read_text
from hwsim.ir.dtypes import FP32, dtype
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec, frozen_meta
from hwsim.ir.weights import WeightStore

FORMAT_NAME = "hwsim-model"
FORMAT_VERSION = 1


class _Strict(BaseModel):
    # strict: a quoted number or a string boolean is an error naming the key, not coerced
    model_config = ConfigDict(extra="forbid", strict=True)


#: Node and tensor names: printable text (a NUL or another control character would corrupt the saved
#: weights' .npz keys and every report that prints the name).
Name = Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[^\x00-\x1f\x7f]+$")]


class InputSpec(_Strict):
    name: Name
    shape: list[Annotated[int, Field(strict=True)]] = Field(
        min_length=1, description="with the batch dimension, NCHW for images")
    dtype: str = "fp32"

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, v: str) -> str:
        try:
            dtype(v)
        except HwsimError as e:
            raise ValueError(e.message) from None
        return v


class NodeSpec(_Strict):
    name: Name
    op: str = Field(min_length=1)
    inputs: list[Name] | None = Field(default=None, description="default: the previous node's first output")
    outputs: list[Name] | None = Field(default=None, min_length=1, description="default: [name]")
    attrs: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Name] = Field(default_factory=dict, description="slot -> tensor name; default <node>.<slot>")


class TensorAnnotation(_Strict):
    dtype: str = "fp32"
    encoding: str = "dense"
    density: float = Field(default=1.0, ge=0.0, le=1.0)
    stored_bits: int | None = Field(default=None, ge=0)
    meta: dict[str, Any] = Field(default_factory=dict)


class ModelFile(_Strict):
    format: Literal["hwsim-model"] = FORMAT_NAME
    version: Literal[1] = FORMAT_VERSION
    name: str = Field(min_length=1)
    seed: int = Field(default=0, ge=0, le=2**64 - 1)
    weights: str | None = Field(default=None, min_length=1,
                                description=".npz file relative to this file, inside its folder")
    inputs: list[InputSpec] = Field(min_length=1)
    nodes: list[NodeSpec] = Field(min_length=1)
    outputs: list[Name] | None = Field(default=None, min_length=1, description="default: the last node's outputs")
    tensors: dict[Name, TensorAnnotation] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


def json_schema() -> dict[str, Any]:
    schema = ModelFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "hwsim model.json"
    return schema


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validation_message(err: ValidationError, limit: int = 5) -> tuple[str, str]:
    errors = err.errors()
    first = errors[0]
    msgs = [f"{_loc(e['loc'])}: {e['msg']}{quoted_value_hint(e)}" for e in errors[:limit]]
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return _loc(first["loc"]), "; ".join(msgs) + more


def parse_model(data: Any, source: str = "<model>", base_dir: Path | None = None,
                weights_path: Path | None = None) -> OpGraph:
    """Validate a decoded model.json document and build its graph."""
    if not isinstance(data, dict):
        raise ModelFormatError("a model file must hold a JSON object", source=source)
    try:
        mf = ModelFile.model_validate(data)
    except RecursionError:
        raise ModelFormatError("model document nested too deeply", source=source) from None
    except ValidationError as e:
        where, msg = validation_message(e)
        raise ModelFormatError(msg, source=source) from None
    inputs = [TensorSpec(i.name, tuple(i.shape), dtype(i.dtype), "input") for i in mf.inputs]
    nodes: list[Node] = []
    previous = [inputs[0].name]
    for ns in mf.nodes:
        ins = tuple(ns.inputs) if ns.inputs is not None else (previous[0],)
        outs = tuple(ns.outputs) if ns.outputs is not None else (ns.name,)
        nodes.append(Node(ns.name, ns.op, ins, outs, dict(ns.attrs), dict(ns.params)))
        previous = list(outs)
    outputs = mf.outputs if mf.outputs is not None else previous
    annotations: dict[str, TensorSpec] = {}
    for tname, ann in mf.tensors.items():
        try:
            dt = dtype(ann.dtype)
        except HwsimError as e:
            raise e.located(source=source, where=f"tensors.{tname}.dtype") from None
        # shape () = "take the inferred shape" (files do not repeat shapes)
        annotations[tname] = TensorSpec(tname, (), dt, "activation", ann.encoding, ann.density, ann.stored_bits,
                                        frozen_meta(ann.meta))
    if weights_path is None and mf.weights:
        folder = (base_dir or Path(".")).resolve()
        weights_path = folder / mf.weights
        if not weights_path.resolve().is_relative_to(folder):
            raise ModelFormatError(f"weights file {mf.weights!r} is outside the model's folder {str(folder)!r}; "
                                   "pass it explicitly to use it", source=source, where="weights")
    if weights_path is not None and not weights_path.is_file():
        raise ModelFormatError(f"weights file {str(weights_path)!r} does not exist", source=source, where="weights")
    if weights_path is not None:
        check_weights_archive(weights_path)
    store = WeightStore(seed=mf.seed, npz_path=weights_path)
    meta = dict(mf.meta)
    meta["seed"] = mf.seed
    graph = OpGraph.build(mf.name, inputs, nodes, outputs, store, annotations,
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


__all__ = ["ModelFile", "json_schema", "load_model_json", "parse_model", "save_model_json", "graph_to_document",
           "atomic_write_text", "FP32"]
