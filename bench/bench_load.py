#!/usr/bin/env python
"""Load + shape inference + counting: ResNet-50 model.json and a synthetic 2,000-node graph.

    python bench/bench_load.py [--repeat 5]

Each case is timed end to end (read file, validate, build the OpGraph with every shape inferred, then
``count_graph``) in this process, after one warm-up run; the table shows the median and the best of
``--repeat`` runs against the targets of issue 2 (ResNet-50 < 0.3 s, 2,000 nodes < 2 s on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwsim.frontends import load_model  # noqa: E402
from hwsim.ir import count_graph  # noqa: E402


def synthetic_doc(nodes: int = 2000, channels: int = 32, size: int = 16) -> dict:
    """A residual chain of conv -> batchnorm -> relu -> add blocks (4 nodes each) on a small image."""
    doc_nodes: list[dict] = [{"name": "stem", "op": "conv2d", "attrs": {"out_channels": channels, "kernel": 3,
                                                                        "padding": 1}}]
    prev, i = "stem", 0
    while len(doc_nodes) + 4 <= nodes - 3:
        p = f"b{i}"
        doc_nodes += [
            {"name": f"{p}.conv", "op": "conv2d", "inputs": [prev],
             "attrs": {"out_channels": channels, "kernel": 3, "padding": 1}},
            {"name": f"{p}.bn", "op": "batchnorm"},
            {"name": f"{p}.relu", "op": "relu"},
            {"name": f"{p}.add", "op": "add", "inputs": [f"{p}.relu", prev]},
        ]
        prev, i = f"{p}.add", i + 1
    while len(doc_nodes) < nodes - 3:
        doc_nodes.append({"name": f"pad{len(doc_nodes)}", "op": "identity"})
    doc_nodes += [{"name": "pool", "op": "global_avgpool"}, {"name": "flatten", "op": "flatten"},
                  {"name": "fc", "op": "linear", "attrs": {"out_features": 10}}]
    return {"name": f"synthetic_{nodes}", "inputs": [{"name": "x", "shape": [1, 3, size, size]}], "nodes": doc_nodes}


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm-up: imports and op registry
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        synth = Path(tmp) / "synthetic_2000.json"
        synth.write_text(json.dumps(synthetic_doc()))
        cases = [("resnet50.json", ROOT / "workloads" / "resnet50.json", 0.3), ("synthetic 2,000 nodes", synth, 2.0)]
        rows = []
        for label, path, target in cases:
            holder: dict = {}

            def run(path: Path = path, holder: dict = holder) -> None:
                g = load_model(path)
                holder["nodes"], holder["macs"] = len(g.nodes), count_graph(g).macs

            times = _time(run, args.repeat)
            rows.append((label, holder["nodes"], statistics.median(times), min(times), target))
    print(f"{'case':<24}{'nodes':>7}{'median s':>11}{'best s':>9}{'target s':>10}  ok")
    ok_all = True
    for label, nodes, med, best, target in rows:
        ok = med < target
        ok_all &= ok
        print(f"{label:<24}{nodes:>7}{med:>11.3f}{best:>9.3f}{target:>10.1f}  {'yes' if ok else 'NO'}")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
