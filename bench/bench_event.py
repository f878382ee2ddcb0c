"""Benchmark: the event engine on ResNet-50 (target < 3 s per device) beside the analytic engine, and
how far the two agree. Prints a table; run ``python bench/bench_event.py [model] [devices...]``.

``python bench/bench_event.py --per-node [LAYERS]`` times one whole ``simulate(..., engine="event")``
call (costs included) on the transformer_tiny generator's encoder with LAYERS layers (384 by default:
8,449 nodes) and on ResNet-50, per device, in ms per node (target <= 0.3 ms per node on the
transformer). ResNet-50's layers are mostly distinct, the transformer's repeat: the event engine
simulates each distinct op once, so the two rows show both cases."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwsim.frontends import load_model  # noqa: E402
from hwsim.sim import simulate  # noqa: E402
DEVICES = ("cpu-a53", "cpu-a72", "gpu-jetson-nano", "gpu-orin-nano", "fpga-small", "fpga-large", "systolic-32x32")


def per_node(layers: int) -> None:
    import json

    sys.path.insert(0, str(ROOT / "workloads"))
    from generate import transformer_tiny

    from hwsim.frontends.model_json import parse_model

    graphs = {f"transformer x{layers}": parse_model(json.loads(json.dumps(transformer_tiny(layers=layers).document())),
                                                    source="transformer.json"),
              "resnet50": load_model(ROOT / "workloads" / "resnet50.json")}
    print(f"{'model':18s} {'nodes':>6s} {'device':16s} {'analytic ms/node':>16s} {'event ms/node':>13s}")
    for name, g in graphs.items():
        for dev in ("cpu-a53", "gpu-jetson-nano", "systolic-32x32"):
            simulate(g, dev)  # warm the per-graph workload preparation
            t0 = time.perf_counter()
            simulate(g, dev)
            t1 = time.perf_counter()
            simulate(g, dev, engine="event")
            t2 = time.perf_counter()
            n = len(g.nodes)
            print(f"{name:18s} {n:6d} {dev:16s} {(t1 - t0) / n * 1e3:16.3f} {(t2 - t1) / n * 1e3:13.3f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--per-node":
        per_node(int(sys.argv[2]) if len(sys.argv) > 2 else 384)
        return
    model = sys.argv[1] if len(sys.argv) > 1 else "resnet50"
    devices = sys.argv[2:] or list(DEVICES)
    graph = load_model(ROOT / "workloads" / f"{model}.json")
    print(f"{'device':18s} {'analytic cycles':>16s} {'event cycles':>14s} {'event/analytic':>14s} "
          f"{'analytic s':>10s} {'event s':>8s}")
    worst = 0.0
    for dev in devices:
        simulate(graph, dev)  # warm the per-graph caches (workload preparation) once
        t0 = time.perf_counter()
        a = simulate(graph, dev)
        t1 = time.perf_counter()
        e = simulate(graph, dev, engine="event")
        t2 = time.perf_counter()
        worst = max(worst, t2 - t1)
        print(f"{dev:18s} {a.total_cycles:16d} {e.total_cycles:14d} {e.total_cycles / a.total_cycles:14.4f} "
              f"{t1 - t0:10.3f} {t2 - t1:8.3f}")
    print(f"slowest event run: {worst:.3f} s (target < 3 s)")


if __name__ == "__main__":
    main()
