#!/usr/bin/env python
"""int8 (W8A8) executor time against the fp32 executor's on the same model, in one run, 1 thread.

    python bench/bench_kernels_int8.py [--model workloads/resnet18.json] [--hw 224] [--repeats 5]

The model's seeded weights are materialized once; the int8 method of the catalogue is applied to them
(per-channel int8 weights, calibrated int8 activations); both graphs run on the same seeded input.
Times are the least CPU time of ``--repeats`` inferences each (BLAS pinned to one thread), fp32 and
int8 alternating so that both see the same machine load. The ratio is int8 / fp32 (target <= 1).
Also printed: the time per op kind of the int8 run, to show where it goes.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "workloads" / "resnet18.json"))
    ap.add_argument("--hw", type=int, default=224, help="input side (the model's own when 0)")
    ap.add_argument("--repeats", type=int, default=5)
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
    int8 = apply_method(fp32, get_method("int8")).graph
    x = {fp32.inputs[0]: np.random.default_rng(0).standard_normal(fp32.tensor(fp32.inputs[0]).shape)
         .astype(np.float32)}
    w32, w8 = resolve_weights(fp32), resolve_weights(int8, require_provided=False)
    best = {"fp32": float("inf"), "int8": float("inf")}
    runs = {}
    with threadpool_limits(limits=1):
        for name, g, w in (("fp32", fp32, w32), ("int8", int8, w8)):
            execute(g, x, weights=w)  # warm-up: plans, decoded weight codes
        for _ in range(args.repeats):
            for name, g, w in (("fp32", fp32, w32), ("int8", int8, w8)):
                t = time.process_time()
                runs[name] = execute(g, x, weights=w)
                best[name] = min(best[name], time.process_time() - t)
    print(f"{Path(args.model).stem} at {args.hw or 'its own'} px, 1 thread, least CPU time of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"| engine | CPU ms |\n|---|---|\n| fp32 executor | {best['fp32'] * 1e3:.1f} |\n"
          f"| int8 (W8A8) executor | {best['int8'] * 1e3:.1f} |")
    print(f"int8 / fp32: {best['int8'] / best['fp32']:.2f}x (target <= 1)")
    by_op: dict[str, float] = collections.defaultdict(float)
    for node in int8.nodes:
        by_op[f"{node.op} ({runs['int8'].forms[node.name]})"] += runs["int8"].per_node_seconds[node.name]
    print("int8 run, wall time per op kind (one run):")
    for k, v in sorted(by_op.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {k:28s} {v * 1e3:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
