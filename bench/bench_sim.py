"""Benchmark the analytic engine: ResNet-50 on every device (target < 50 ms each), and 1,000 device
configurations of ResNet-50 (target < 20 s on a 2-core machine). Prints a table; exits 1 if a target
is missed. Run: python bench/bench_sim.py [--configs 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwsim.frontends import load_model  # noqa: E402
from hwsim.hardware import apply_overrides, list_devices, load_device  # noqa: E402
from hwsim.sim import ENGINES, get_engine, simulate  # noqa: E402
#: What the 1,000-configuration sweep varies per device kind (dotted --set keys and value choices).
SWEEP = {
    "cpu": {"clock": ["1.0 GHz", "1.4 GHz", "1.8 GHz", "2.2 GHz"], "memory.dram.bandwidth": ["2 GB/s", "4 GB/s", "8 GB/s", "12.8 GB/s"],
            "memory.l2.size": ["256 KiB", "512 KiB", "1 MiB", "2 MiB"], "cpu.cores": ["1", "2", "4", "8"]},
    "gpu": {"clock": ["400 MHz", "625 MHz", "921.6 MHz", "1.3 GHz"], "memory.dram.bandwidth": ["12.8 GB/s", "25.6 GB/s", "68 GB/s", "102 GB/s"],
            "memory.l2.size": ["256 KiB", "1 MiB", "2 MiB", "4 MiB"]},
    "systolic": {"clock": ["250 MHz", "500 MHz", "1 GHz"], "memory.dram.bandwidth": ["2 GB/s", "4 GB/s", "8 GB/s"],
                 "array.dataflow": ["os", "ws", "is"], "array.rows": ["16", "32", "64"], "array.cols": ["16", "32", "64"]},
    "fpga": {"clock": ["100 MHz", "150 MHz", "200 MHz"], "memory.dram.bandwidth": ["2 GB/s", "4.2 GB/s", "8 GB/s"]},
}


def time_device(graph, name: str, engine: str, repeat: int) -> tuple[float, float]:
    d = load_device(name)
    r = simulate(graph, d, engine=engine)  # warm: prepare() is cached per graph
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        simulate(graph, d, engine=engine)
        times.append(time.perf_counter() - t)
    return statistics.median(times), r.seconds


def sweep(graph, n: int, seed: int) -> tuple[float, int]:
    rng = random.Random(seed)
    bases = [load_device(name) for name in list_devices() if name != "host"]
    t = time.perf_counter()
    for i in range(n):
        base = bases[i % len(bases)]
        space = SWEEP.get(base.kind, {})
        sets = {k: rng.choice(v) for k, v in space.items()}
        dev = apply_overrides(base.raw, sets, name=base.name, source=base.source)
        simulate(graph, dev, check_fit=False)
    return time.perf_counter() - t, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=str(ROOT / "workloads" / "resnet50.json"))
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    graph = load_model(args.model)
    ok = True
    get_engine("analytic")
    engines = [e for e in ("analytic", "event") if e in ENGINES]
    print(f"{'device':<18} {'engine':<9} {'sim time ms':>12} {'target ms':>10} {'modelled latency ms':>20}")
    for name in list_devices():
        for engine in engines:
            try:
                dt, lat = time_device(graph, name, engine, args.repeat)
            except Exception as e:  # noqa: BLE001 - a device whose model is unfinished: report it
                print(f"{name:<18} {engine:<9} {'error':>12} {'':>10} {type(e).__name__}: {e}")
                continue
            target = 50 if engine == "analytic" else 3000
            ok &= dt * 1e3 < target
            print(f"{name:<18} {engine:<9} {dt * 1e3:>12.2f} {target:>10} {lat * 1e3:>20.3f}")
    total, n = sweep(graph, args.configs, args.seed)
    ok &= total < 20
    print(f"\n{n} device configurations of {graph.name} through analytic: {total:.2f} s "
          f"({total / n * 1e3:.2f} ms each; target < 20 s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
