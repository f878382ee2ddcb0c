"""The fast reader of model.json: a document in the plain form every file hwsim writes (and every
hand-written file that is valid in the obvious way) is accepted here without pydantic, with every
default filled in exactly as ``ModelFile.model_validate(data).model_dump()`` would.

It only ever says "valid, here it is" or "not sure": ``plain_document`` returns None for anything it
does not positively recognize as valid (a wrong type, an unknown key, a bound crossed, an int where a
float is stored, a dict subclass, text that is not valid Unicode), and the caller then validates with
the pydantic schema (``model_file``), which accepts or refuses and writes the error message. So the
set of documents accepted here is a subset of what the schema accepts, with the same result; a test
holds both over the shipped workloads and mutated documents. Why it exists: importing pydantic and
building the schema's models is a large share of a ``hwsim stats model.json`` call's start-up.
"""

from __future__ import annotations

import re
from typing import Any

from hwsim.errors import HwsimError
from hwsim.ir.dtypes import dtype

_FORMAT_NAME = "hwsim-model"
_FORMAT_VERSION = 1
_NAME = re.compile(r"[^\x00-\x1f\x7f]+")  # model_file.NAME_PATTERN, matched over the whole string
_NAME_MAX_LENGTH = 1024
_SEED_MAX = 2**64 - 1

_TOP = frozenset({"format", "version", "name", "seed", "weights", "inputs", "nodes", "outputs", "tensors", "meta"})
_INPUT = frozenset({"name", "shape", "dtype"})
_NODE = frozenset({"name", "op", "inputs", "outputs", "attrs", "params"})
_TENSOR = frozenset({"dtype", "encoding", "density", "stored_bits", "meta"})


class _NotPlain(Exception):
    """The document is not in the plain form: let the schema decide."""


def _text(v: Any, min_length: int = 0) -> str:
    if type(v) is not str or len(v) < min_length:
        raise _NotPlain
    if not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the schema refuses it
            raise _NotPlain from None
    return v


def _name(v: Any) -> str:
    _text(v, 1)
    if len(v) > _NAME_MAX_LENGTH or _NAME.fullmatch(v) is None:
        raise _NotPlain
    return v


def _names(v: Any, min_length: int = 0) -> list[str]:
    if type(v) is not list or len(v) < min_length:
        raise _NotPlain
    return [_name(x) for x in v]


def _optional_names(v: Any, min_length: int = 0) -> list[str] | None:
    return None if v is None else _names(v, min_length)


def _int(v: Any, low: int | None = None, high: int | None = None) -> int:
    if type(v) is not int or (low is not None and v < low) or (high is not None and v > high):
        raise _NotPlain
    return v


def _object(v: Any, keys: frozenset[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    if type(v) is not dict or not keys.issuperset(v) or any(k not in v for k in required):
        raise _NotPlain
    return v


def _any_dict(v: Any) -> dict[str, Any]:
    """dict[str, Any]: keys must be text; values are kept, their containers copied (as the schema's
    ``model_dump()`` gives new ones: the graph never shares a list with the caller's document)."""
    if type(v) is not dict:
        raise _NotPlain
    for k in v:
        _text(k)
    return {k: _copied(x) for k, x in v.items()}


def _copied(v: Any) -> Any:
    if type(v) is dict:
        return {k: _copied(x) for k, x in v.items()}
    if type(v) is list:
        return [_copied(x) for x in v]
    return v


def _input(v: Any) -> dict[str, Any]:
    d = _object(v, _INPUT, ("name", "shape"))
    shape = d["shape"]
    if type(shape) is not list or not shape:
        raise _NotPlain
    kind = _text(d.get("dtype", "fp32"))
    try:
        dtype(kind)
    except HwsimError:
        raise _NotPlain from None
    return {"name": _name(d["name"]), "shape": [_int(x) for x in shape], "dtype": kind}


def _node(v: Any) -> dict[str, Any]:
    d = _object(v, _NODE, ("name", "op"))
    params = _any_dict(d.get("params", {}))
    for p in params.values():
        _name(p)
    return {"name": _name(d["name"]), "op": _text(d["op"], 1), "inputs": _optional_names(d.get("inputs")),
            "outputs": _optional_names(d.get("outputs"), 1), "attrs": _any_dict(d.get("attrs", {})),
            "params": params}


def _annotation(v: Any) -> dict[str, Any]:
    d = _object(v, _TENSOR)
    density = d.get("density", 1.0)
    if type(density) is not float or not 0.0 <= density <= 1.0:  # an int density is converted: the schema's job
        raise _NotPlain
    bits = d.get("stored_bits")
    return {"dtype": _text(d.get("dtype", "fp32")), "encoding": _text(d.get("encoding", "dense")),
            "density": density, "stored_bits": None if bits is None else _int(bits, 0),
            "meta": _any_dict(d.get("meta", {}))}


def _document(data: Any) -> dict[str, Any]:
    d = _object(data, _TOP, ("name", "inputs", "nodes"))
    if d.get("format", _FORMAT_NAME) != _FORMAT_NAME or type(d.get("format", _FORMAT_NAME)) is not str:
        raise _NotPlain
    version = d.get("version", _FORMAT_VERSION)
    if type(version) is not int or version != _FORMAT_VERSION:
        raise _NotPlain
    weights = d.get("weights")
    inputs, nodes = d["inputs"], d["nodes"]
    if type(inputs) is not list or not inputs or type(nodes) is not list or not nodes:
        raise _NotPlain
    tensors = d.get("tensors", {})
    if type(tensors) is not dict:
        raise _NotPlain
    return {"format": _FORMAT_NAME, "version": _FORMAT_VERSION, "name": _text(d["name"], 1),
            "seed": _int(d.get("seed", 0), 0, _SEED_MAX),
            "weights": None if weights is None else _text(weights, 1),
            "inputs": [_input(i) for i in inputs], "nodes": [_node(n) for n in nodes],
            "outputs": _optional_names(d.get("outputs"), 1),
            "tensors": {_name(k): _annotation(a) for k, a in tensors.items()},
            "meta": _any_dict(d.get("meta", {}))}


def plain_document(data: Any) -> dict[str, Any] | None:
    """The validated document with its defaults (as the schema's ``model_dump()``), or None when ``data``
    is not in the plain form (then the schema must decide, and explain a refusal)."""
    try:
        return _document(data)
    except _NotPlain:
        return None
