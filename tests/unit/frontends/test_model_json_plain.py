"""The fast model.json reader (no pydantic) and the pydantic schema give one result: every document the
fast reader accepts, the schema accepts with the same validated form (defaults filled in); what the fast
reader is unsure of goes to the schema, which decides and writes the message. Checked over the shipped
workloads, compressed documents, hand-picked edge cases the fast reader must pass on, and mutated
documents (hypothesis, derandomized)."""

from __future__ import annotations

import collections
import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from testutils import LENET5_DOC, WORKLOADS, json_paths

from hwsim.compress import apply_method
from hwsim.compress.catalogue import get_method
from hwsim.frontends.model_file import ModelFile
from hwsim.frontends.model_json import graph_to_document, parse_model
from hwsim.frontends.model_json_plain import plain_document

MODEL_FILES = sorted(p for p in WORKLOADS.rglob("*.json") if "nodes" in json.loads(p.read_text()))


def _schema(doc: Any) -> dict[str, Any] | None:
    try:
        return ModelFile.model_validate(doc).model_dump()
    except ValidationError:
        return None


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: str(p.relative_to(WORKLOADS)))
def test_shipped_workloads_take_the_fast_reader_with_the_schemas_result(path) -> None:
    doc = json.loads(path.read_text())
    plain = plain_document(doc)
    assert plain is not None
    assert plain == _schema(doc)


@pytest.mark.parametrize("method", ["deep-compression", "int8", "prune-50", "ternary-twn"])
def test_compressed_documents_take_the_fast_reader_with_the_schemas_result(method: str) -> None:
    graph = apply_method(parse_model(copy.deepcopy(LENET5_DOC)), get_method(method)).graph
    doc = json.loads(json.dumps(graph_to_document(graph)))
    assert doc.get("tensors")  # annotations (dtype, encoding, density, meta) are exercised
    plain = plain_document(doc)
    assert plain is not None and plain == _schema(doc)


def _with(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(LENET5_DOC)
    change(doc)
    return doc


#: valid for the schema, but not in the plain form: the fast reader must pass them on, not guess
EDGE_VALID = {
    "int density (converted to float)": lambda d: d.setdefault("tensors", {}).update({"conv1.weight": {"density": 1}}),
    "version true (the schema's Literal[1] takes it)": lambda d: d.update({"version": True}),
    "dict subclass attrs": lambda d: d["nodes"][0].update({"attrs": collections.OrderedDict(d["nodes"][0].get("attrs", {}))}),
}

#: refused by the schema: the fast reader must pass them on (the schema writes the message)
EDGE_INVALID = {
    "bool in a shape": lambda d: d["inputs"][0].update({"shape": [True, 1, 28, 28]}),
    "name ending in a newline": lambda d: d["nodes"][0].update({"name": "conv1\n"}),
    "seed 2^64": lambda d: d.update({"seed": 2**64}),
    "negative seed": lambda d: d.update({"seed": -1}),
    "lone surrogate in a name": lambda d: d["nodes"][0].update({"name": "conv\ud8001"}),
    "control character in a name": lambda d: d["nodes"][0].update({"name": "conv\x001"}),
    "name of 1025 characters": lambda d: d["nodes"][0].update({"name": "n" * 1025}),
    "unknown key": lambda d: d["nodes"][0].update({"weight": 1}),
    "density nan": lambda d: d.setdefault("tensors", {}).update({"conv1.weight": {"density": float("nan")}}),
    "density 1.5": lambda d: d.setdefault("tensors", {}).update({"conv1.weight": {"density": 1.5}}),
    "quoted stored_bits": lambda d: d.setdefault("tensors", {}).update({"conv1.weight": {"stored_bits": "8"}}),
    "unknown input dtype": lambda d: d["inputs"][0].update({"dtype": "int99"}),
    "empty outputs": lambda d: d.update({"outputs": []}),
    "empty op": lambda d: d["nodes"][0].update({"op": ""}),
    "format misspelt": lambda d: d.update({"format": "hwsim-modle"}),
}


@pytest.mark.parametrize("name", list(EDGE_VALID))
def test_valid_edge_cases_go_to_the_schema_and_are_accepted(name: str) -> None:
    doc = _with(EDGE_VALID[name])
    schema = _schema(doc)
    assert schema is not None
    plain = plain_document(doc)
    assert plain is None or plain == schema


@pytest.mark.parametrize("name", list(EDGE_INVALID))
def test_invalid_edge_cases_go_to_the_schema_and_are_refused(name: str) -> None:
    doc = _with(EDGE_INVALID[name])
    assert plain_document(doc) is None
    assert _schema(doc) is None


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**65), st.floats(allow_nan=True),
                    st.sampled_from(["", "fp32", "int8", "x\n", "\ud800", "\x7f", "conv1", "relu", "dense"]),
                    st.lists(st.integers(-1, 4), max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), st.integers(),
                                                                             max_size=2))


@st.composite
def _mutated(draw: st.DrawFn) -> dict:
    doc = copy.deepcopy(LENET5_DOC)
    doc["tensors"] = {"conv1.weight": {"dtype": "int8", "density": 0.5, "stored_bits": 8, "meta": {"k": 1}}}
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(json_paths(doc)))
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_VALUES)
    return doc


_accepted: list[bool] = []


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_documents_fast_reader_never_disagrees_with_the_schema(doc: dict) -> None:
    plain = plain_document(doc)
    _accepted.append(plain is not None)
    if plain is not None:
        assert plain == _schema(doc)


def test_mutations_exercised_both_readers() -> None:
    # runs after the property test (file order): some mutants were read fast, some passed to the schema
    assert True in _accepted and False in _accepted


def test_the_fast_readers_document_shares_no_container_with_the_callers() -> None:
    doc = copy.deepcopy(LENET5_DOC)
    doc["meta"] = {"notes": [{"k": [1]}]}
    doc["nodes"][0].setdefault("attrs", {})["extra_list"] = [1, 2]
    plain = plain_document(doc)
    assert plain is not None
    assert plain["meta"]["notes"] is not doc["meta"]["notes"]
    assert plain["meta"]["notes"][0]["k"] is not doc["meta"]["notes"][0]["k"]
    assert plain["nodes"][0]["attrs"]["extra_list"] is not doc["nodes"][0]["attrs"]["extra_list"]
