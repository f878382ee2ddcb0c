#!/usr/bin/env python
"""Compressed executors' time against the fp32 executor's on the same model, in one run, 1 thread.

    python bench/bench_kernels_int8.py [--model workloads/resnet18.json] [--hw 224] [--repeats 5]
                                       [--methods int8,binary-xnor]

The model's seeded weights are materialized once; each method of the catalogue is applied to them
(int8: per-channel int8 weights, calibrated int8 activations, W8A8; binary-xnor: XNOR-Net's binary
weights and sign activations, first and last layer fp32); every graph runs on the same seeded input.
The first inference of each (numba compilation or cache load, plans, decoded weights) is timed and
printed apart; steady state is the least CPU time of ``--repeats`` inferences each (BLAS and numba
pinned to one thread), the engines interleaved so that all see the same machine load. Ratios are
method / fp32 (target <= 1). Also printed: the time per op kind of each compressed run.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def cold_compile_seconds(methods: str) -> float:
    """Wall time of the compiled kernels' first calls in a fresh process with an empty numba cache."""
    import subprocess
    import tempfile

    code = f"""
import time, numpy as np
from hwsim.compress import apply_method
from hwsim.compress.catalogue import get_method
from hwsim.ir import Node, OpGraph, TensorSpec
from hwsim.kernels import execute
g = OpGraph.build("t", [TensorSpec("x", (1, 8, 6, 6), role="input")], [
    Node("c0", "conv2d", ("x",), ("a",), {{"out_channels": 8, "kernel": 3, "padding": 1}}),
    Node("c1", "conv2d", ("a",), ("b",), {{"out_channels": 8, "kernel": 3, "padding": 1}}),
    Node("fl", "flatten", ("b",), ("f",)),
    Node("fc", "linear", ("f",), ("y",), {{"out_features": 4}})], ["y"]).materialize()
x = {{"x": np.ones((1, 8, 6, 6), np.float32)}}
graphs = [apply_method(g, get_method(m)).graph for m in {methods.split(",")!r}]
t = time.perf_counter()
for q in graphs:
    execute(q, x)
print(time.perf_counter() - t)
"""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "workloads" / "resnet18.json"))
    ap.add_argument("--hw", type=int, default=224, help="input side (the model's own when 0)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--methods", default="int8,binary-xnor")
    args = ap.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from hwsim.compress import apply_method
    from hwsim.compress.catalogue import get_method
    from hwsim.frontends import load_model
    from hwsim.kernels import execute, resolve_weights

    graph = load_model(args.model)
    if args.hw:
        s = graph.tensor(graph.inputs[0])
        graph = graph.rebuild(inputs=[s.with_(shape=(*s.shape[:2], args.hw, args.hw))])
    fp32 = graph.materialize()
    engines = {"fp32": fp32}
    for m in args.methods.split(","):
        engines[m] = apply_method(fp32, get_method(m)).graph
    x = {fp32.inputs[0]: np.random.default_rng(0).standard_normal(fp32.tensor(fp32.inputs[0]).shape)
         .astype(np.float32)}
    weights = {name: resolve_weights(g, require_provided=False) for name, g in engines.items()}
    best = {name: float("inf") for name in engines}
    first = {}
    runs = {}
    with threadpool_limits(limits=1):
        for name, g in engines.items():
            t = time.perf_counter()
            execute(g, x, weights=weights[name])  # compile / load compiled kernels, plans, decoded weights
            first[name] = time.perf_counter() - t
        for _ in range(args.repeats):
            for name, g in engines.items():
                t = time.process_time()
                runs[name] = execute(g, x, weights=weights[name])
                best[name] = min(best[name], time.process_time() - t)
    print(f"{Path(args.model).stem} at {args.hw or 'its own'} px, 1 thread, least CPU time of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"numba compile with an empty cache, fresh process: {cold_compile_seconds(args.methods):.2f} s "
          f"(the first-run column loads the on-disk cache instead)")
    print("| engine | first run wall ms (compile/cache load, plan) | steady CPU ms | / fp32 |\n|---|---|---|---|")
    for name in engines:
        print(f"| {name} | {first[name] * 1e3:.0f} | {best[name] * 1e3:.1f} | {best[name] / best['fp32']:.2f}x |")
    for name, g in engines.items():
        if name == "fp32":
            continue
        by_op: dict[str, float] = collections.defaultdict(float)
        for node in g.nodes:
            by_op[f"{node.op} ({runs[name].forms[node.name]})"] += runs[name].per_node_seconds[node.name]
        print(f"{name} run, wall time per op kind (one run):")
        for k, v in sorted(by_op.items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {k:28s} {v * 1e3:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
