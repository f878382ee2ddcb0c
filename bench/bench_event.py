"""Benchmark: the event engine on ResNet-50 (target < 3 s per device) beside the analytic engine, and
how far the two agree. Prints a table; run ``python bench/bench_event.py [model] [devices...]``."""

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


def main() -> None:
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
