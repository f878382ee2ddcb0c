"""The method catalogue, methods files (YAML recipes) and apply_method."""

from __future__ import annotations

from pathlib import Path

import pytest
from dc_graphs import mlp, resnet_block

from hwsim.compress import PASSES, CompressedModel, apply_method
from hwsim.compress.catalogue import DEFAULT_METHODS, METHODS, get_method
from hwsim.compress.recipes import load_methods_file
from hwsim.errors import CompressionError, UnknownNameError

ISSUE_METHODS = ("baseline", "fp16", "int8", "int4-weights", "prune-50", "prune-90", "filter-prune-30",
                 "deep-compression", "binary-xnor", "ternary-twn", "svd-lowrank", "tucker-lowrank",
                 "depthwise-student", "winograd")


def test_catalogue_has_the_issue_methods_and_every_step_is_valid():
    for name in ISSUE_METHODS:
        assert name in METHODS
    assert set(DEFAULT_METHODS) <= set(METHODS.keys())
    for name, m in METHODS.items():
        assert m.description and m.needs_training in (True, False)
        for step, params in m.parsed():
            assert step in PASSES
        if m.needs_training:
            assert any("unknown" in n for n in m.notes), name


def test_get_method_errors_list_the_catalogue():
    with pytest.raises(UnknownNameError, match="known: .*deep-compression"):
        get_method("deep-compresion")


def test_apply_method_records_every_pass_and_notes():
    cm = apply_method(mlp(), "deep-compression")
    assert isinstance(cm, CompressedModel)
    assert [r.pass_name for r in cm.results] == ["prune", "share_kmeans", "sparse_format", "huffman"]
    assert cm.needs_training is True and any("fine-tuning" in n for n in cm.notes)
    rows = cm.layer_rows()
    assert {r["layer"] for r in rows} == {"ip1", "ip2", "ip3"}
    assert all(r["bytes_after"] <= r["bytes_before"] for r in rows)
    assert cm.original is not None and cm.original.tensor("ip1.weight").encoding == "dense"
    base = apply_method(mlp(), "baseline")
    assert base.results == () and base.graph.tensor("ip1.weight") == mlp().tensor("ip1.weight")


METHODS_YAML = """
version: 1
methods:
  my-dc:
    description: harder fc pruning, 4-bit index
    needs_training: true
    steps:
      - pass: prune
        params: {sparsity: 0.6, linear_sparsity: 0.92}
        overrides:
          "fc*": {sparsity: 0.95}
      - pass: share_kmeans
      - pass: sparse_format
        params: {format: relative_index, index_bits: 4}
      - pass: huffman
  int8-then-winograd:
    extends: int8
    steps:
      - pass: conv_algorithm
        params: {algorithm: winograd_f2x2_3x3}
        layers: ["b1c*"]
"""


def test_methods_file_with_overrides_globs_and_extends(tmp_path: Path):
    f = tmp_path / "m.yaml"
    f.write_text(METHODS_YAML)
    methods = load_methods_file(f)
    assert list(methods) == ["my-dc", "int8-then-winograd"]
    dc = methods["my-dc"]
    assert dc.steps[0] == ("prune", {"sparsity": 0.6, "linear_sparsity": 0.92, "overrides": {"fc*": {"sparsity": 0.95}}})
    cm = apply_method(resnet_block(), dc)
    assert cm.graph.tensor("fc1.weight").density == pytest.approx(0.05, abs=0.01)
    assert cm.graph.tensor("b1c1.weight").density == pytest.approx(0.4, abs=0.01)
    assert cm.graph.weight("b1c1.weight").index_bits == 4
    w = methods["int8-then-winograd"]
    assert [s for s, _ in w.steps] == ["quantize", "conv_algorithm"] and w.needs_training is False
    assert get_method(f"{f}#my-dc") == dc
    with pytest.raises(UnknownNameError, match="choose one"):
        get_method(str(f))
    with pytest.raises(UnknownNameError, match="no method 'x'"):
        get_method(f"{f}#x")


@pytest.mark.parametrize("text, where, message", [
    ("methods: {}\n", "methods", "at least 1"),
    ("methods:\n  a:\n    steps:\n      - pass: prune\n        parms: {}\n", "methods.a.steps[0].parms", "Extra"),
    ("methods:\n  a:\n    steps:\n      - pass: nope\n", "methods.a.steps[0].pass", "unknown pass 'nope'"),
    ("methods:\n  a:\n    steps:\n      - pass: prune\n        params: {sparsity: 2}\n",
     "methods.a.steps[0].params", "sparsity"),
    ("methods:\n  a:\n    extends: nothing\n", "methods.a.extends", "names no method"),
    ("methods:\n  a:\n    steps: []\n", "methods.a.steps", "at least one step"),
    ("- just a list\n", None, "mapping"),
    ("methods:\n  a:\n    steps:\n      - pass: prune\n        overrides: {x: {}}\n        params: {overrides: {}}\n",
     "methods.a.steps[0].overrides", "both"),
])
def test_methods_file_errors_name_file_and_key_path(tmp_path: Path, text, where, message):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(CompressionError) as e:
        load_methods_file(f)
    assert e.value.source == str(f)
    assert message in str(e.value)
    if where:
        assert e.value.where == where


def test_apply_errors_name_method_step_and_layer(tmp_path: Path):
    f = tmp_path / "m.yaml"
    f.write_text("methods:\n  m:\n    steps:\n      - pass: quantize\n      - pass: prune\n"
                 "        overrides: {nolayer: {sparsity: 0.5}}\n")
    with pytest.raises(CompressionError) as e:
        apply_method(mlp(), get_method(str(f)))
    assert e.value.source == str(f) and e.value.where == "method 'm' step 2 (prune)"
    assert "'nolayer' names no layer" in e.value.message
    with pytest.raises(CompressionError, match="does not exist"):
        load_methods_file(tmp_path / "missing.yaml")


def test_element_wise_passes_skip_weights_stored_otherwise_and_say_so():
    """After binarize (or share_hash) the Deep Compression passes leave those layers alone, with a note."""
    from hwsim.compress.method import Method

    steps = (("binarize", {"keep_first_last": False}), ("prune", {"sparsity": 0.5}), ("sparse_format", {}),
             ("quantize", {}), ("share_kmeans", {}), ("huffman", {}))
    cm = apply_method(mlp(), Method("x", "", steps))
    for pass_name in ("prune", "sparse_format", "quantize", "share_kmeans"):
        assert any(n.startswith(f"{pass_name}: skipped 3 layer(s)") and "ip1 (binary)" in n for n in cm.notes)
    assert cm.graph.tensor("ip1.weight").dtype.name == "binary"
