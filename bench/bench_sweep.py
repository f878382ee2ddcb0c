"""Benchmark: a 1,000-point what-if sweep of ResNet-50 (target: under 60 s on this 2-core machine).

    python bench/bench_sweep.py [--device cpu-a53] [--scheduler local|serial|ADDRESS] [--methods LIST]

10 clocks x 10 DRAM bandwidths x 10 L2 sizes of cpu-a53 (the analytic engine), through the real CLI
(`hwsim sweep`), in a fresh output directory so nothing comes from the cache; then the same command
again to show that a rerun is served from the cache. Prints a table of wall times.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARY = {
    "cpu-a53": ["clock=log:0.6GHz:2.4GHz:10", "memory.dram.bandwidth=log:1GB/s:25.6GB/s:10",
                "memory.l2.size=log:128KiB:4096KiB:10"],
    "fpga-small": ["clock=50:275:25MHz", "memory.dram.bandwidth=log:1GB/s:16GB/s:10",
                   "fpga.lut=log:20000:200000:10"],
    "systolic-32x32": ["clock=log:200MHz:1GHz:10", "memory.dram.bandwidth=log:1GB/s:32GB/s:10",
                       "array.rows=8:80:8"],
}


def run(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return dt, p.stdout.strip().splitlines()[0] if p.stdout.strip() else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu-a53", choices=sorted(VARY))
    ap.add_argument("--scheduler", default="local")
    ap.add_argument("--methods", default=None)
    ap.add_argument("--model", default="workloads/resnet50.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep"
        cmd = [sys.executable, "-m", "hwsim.cli", "sweep", args.model, "--device", args.device,
               "--scheduler", args.scheduler, "-o", str(out), "--quiet"]
        for v in VARY[args.device]:
            cmd += ["--vary", v]
        if args.methods:
            cmd += ["--methods", args.methods]
        first, line1 = run(cmd)
        again, line2 = run(cmd)
        rows = (out / "results.csv").read_text().count("\n") - 1
    print(f"| sweep of {args.model} on {args.device} ({args.scheduler}) | rows | wall time | target |")
    print("|---|---|---|---|")
    print(f"| first run: {line1} | {rows} | {first:.1f} s | < 60 s |")
    print(f"| rerun (cache): {line2} | {rows} | {again:.1f} s | |")


if __name__ == "__main__":
    main()
