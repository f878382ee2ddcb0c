"""Shared constants and helpers for tests. Import as ``from testutils import ROOT, WORKLOADS`` (``tests`` is on
pytest's pythonpath); never import from conftest modules (several exist, by design)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ROOT / "workloads"
DEVICES = ROOT / "hwsim" / "hardware" / "devices"
GOLDEN_DATA = Path(__file__).resolve().parent / "golden" / "data"
ANCHORS = GOLDEN_DATA

LENET5_DOC = {
    "name": "lenet5",
    "inputs": [{"name": "x", "shape": [1, 1, 28, 28]}],
    "nodes": [
        {"name": "conv1", "op": "conv2d", "attrs": {"out_channels": 20, "kernel": 5, "bias": True}},
        {"name": "pool1", "op": "maxpool", "attrs": {"kernel": 2}},
        {"name": "conv2", "op": "conv2d", "attrs": {"out_channels": 50, "kernel": 5, "bias": True}},
        {"name": "pool2", "op": "maxpool", "attrs": {"kernel": 2}},
        {"name": "flat", "op": "flatten"},
        {"name": "ip1", "op": "linear", "attrs": {"out_features": 500}},
        {"name": "relu1", "op": "relu"},
        {"name": "ip2", "op": "linear", "attrs": {"out_features": 10}},
    ],
}


def json_paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key / index path inside a JSON-like document (what the fuzz tests mutate)."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += json_paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += json_paths(v, prefix + (i,))
    return out

