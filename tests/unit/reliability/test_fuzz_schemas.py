"""Property tests (hypothesis) over the three input schemas: a model.json document, a device profile and
a methods document, each mutated at a random place into a random JSON value or with a key removed.

The property is the README's promise for bad input: reading either succeeds or raises an HwsimError
(one message, exit 2 on the command line), never another exception; and what is accepted runs
(simulate / compress) to a finite result or an HwsimError. The ONNX reader's fuzzing is the `onnx`
helper's (tests/unit/frontends). Derandomized, so CI runs the same examples every time.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testutils import LENET5_DOC, json_paths

from hwsim.errors import HwsimError
from hwsim.frontends.model_json import parse_model
from hwsim.hardware import apply_overrides, read_raw
from hwsim.hardware.loader import device_path
from hwsim.sim import simulate

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: JSON-like values a mutation puts in place (numbers at the edges: 0, negative, huge, inf, nan)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
              st.sampled_from([0, -1, 1, 3, 2**31, -(2**63), 1e400, -1e400, float("nan"), 0.5, -0.5, 1e-300]),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
              st.sampled_from(["", "\x00", "1.4", "1e400 GHz", "-3 GB/s", "0 B", "5 cycles", "ws", "conv1",
                               "../x.npz", "relu", "fp32", "int3", "quantize"])),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children,
                                                                                max_size=3)),
    max_leaves=6)


@st.composite
def mutated(draw: st.DrawFn, base: dict) -> dict:
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = json_paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
        else:
            parent[key] = draw(VALUES)
    return doc


def _finite(r: Any) -> None:
    assert math.isfinite(r.seconds) and r.seconds >= 0 and math.isfinite(r.energy_total_pj)


@SETTINGS
@given(mutated(LENET5_DOC))
def test_model_json_is_read_or_refused_and_what_is_read_simulates(doc: dict) -> None:
    try:
        g = parse_model(doc, "fuzz.json")
    except HwsimError:
        return
    try:
        r = simulate(g, "cpu-a53")
    except HwsimError:
        return
    _finite(r)


_CPU = read_raw(device_path("cpu-a53"))
_FPGA = read_raw(device_path("fpga-small"))
_LENET = parse_model(copy.deepcopy(LENET5_DOC))


@pytest.mark.parametrize("base", [_CPU, _FPGA], ids=["cpu", "fpga"])
@SETTINGS
@given(data=st.data())
def test_device_profile_is_read_or_refused_and_what_is_read_simulates(base: dict, data: st.DataObject) -> None:
    doc = data.draw(mutated(base))
    try:
        dev = apply_overrides(doc, {}, name="fuzz", source="fuzz.yaml")
    except HwsimError:
        return
    try:
        r = simulate(_LENET, dev)
    except HwsimError:
        return
    _finite(r)


METHODS_DOC = {"version": 1, "methods": {
    "dc": {"description": "deep compression", "steps": [
        {"pass": "prune", "params": {"sparsity": 0.6}, "overrides": {"ip*": {"sparsity": 0.9}}},
        {"pass": "share_kmeans"},
        {"pass": "sparse_format", "params": {"format": "relative_index", "index_bits": 4}},
        {"pass": "huffman"}]},
    "q": {"extends": "int8", "steps": [{"pass": "quantize", "params": {"bits": 4}, "layers": ["conv1"]}]},
}}


@SETTINGS
@given(mutated(METHODS_DOC))
def test_methods_document_is_read_or_refused_and_what_is_read_applies(doc: dict) -> None:
    from hwsim.compress import apply_method
    from hwsim.compress.recipes import parse_methods

    try:
        methods = parse_methods(doc, "fuzz.yaml")
    except HwsimError:
        return
    for m in methods.values():
        try:
            out = apply_method(_LENET, m).graph
        except HwsimError:
            continue
        _finite(simulate(out, "cpu-a53"))
