"""Benchmark: apply every catalogue method to ResNet-50 with materialized weights.

    python bench/bench_compress.py [--model workloads/resnet50.json] [--methods a,b,...] [--json out.json]

Prints one row per method (seconds, weight bytes before -> after, ratio) and the total. The issue's
target: the whole catalogue under 60 s on the 2-core CI machine. Weights are the model's own or, for
the shipped workloads (which carry none), seeded Kaiming-normal ones materialized once up front (not
timed per method). Each method starts from the same materialized graph; passes never modify it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.compress import apply_method  # noqa: E402
from hwsim.compress.catalogue import METHODS  # noqa: E402
from hwsim.frontends import load_model  # noqa: E402


def weight_bytes(graph) -> int:
    return sum(graph.tensor(t).size_bytes for t in graph.weight_names())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "workloads" / "resnet50.json"))
    ap.add_argument("--methods", default=None, help="comma-separated subset (default: the whole catalogue)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    names = args.methods.split(",") if args.methods else list(METHODS.keys())
    t0 = time.perf_counter()
    graph = load_model(args.model).materialize()
    load_s = time.perf_counter() - t0
    before = weight_bytes(graph)
    params = sum(graph.tensor(t).numel for t in graph.weight_names())
    print(f"{graph.name}: {params:,} weights materialized in {load_s:.2f} s; {before / 2**20:.1f} MiB fp32")
    print(f"{'method':22} {'family':16} {'seconds':>8} {'MiB after':>10} {'ratio':>8}")
    rows = []
    total = 0.0
    for name in names:
        t = time.perf_counter()
        cm = apply_method(graph, name)
        dt = time.perf_counter() - t
        total += dt
        after = weight_bytes(cm.graph)
        family = METHODS.get(name).family if name in METHODS else "file"
        rows.append({"method": name, "family": family, "seconds": round(dt, 3), "bytes_before": before,
                     "bytes_after": after, "ratio": round(before / after, 3) if after else None})
        print(f"{name:22} {family:16} {dt:8.2f} {after / 2**20:10.2f} {before / after:8.2f}x", flush=True)
    print(f"{'total':22} {'':16} {total:8.2f}   (target < 60 s; {len(names)} methods)")
    by_family: dict[str, float] = {}
    for r in rows:
        by_family[r["family"]] = by_family.get(r["family"], 0.0) + r["seconds"]
    print("by family: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(by_family.items(), key=lambda kv: -kv[1])))
    if args.json:
        Path(args.json).write_text(json.dumps({"model": graph.name, "total_seconds": round(total, 3),
                                               "methods": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
