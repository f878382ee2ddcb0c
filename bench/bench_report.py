"""Benchmark: `hwsim report workloads/resnet18.json --device fpga-small` with the default catalogue
(target: under 60 s on this 2-core machine), through the real CLI, with the pipeline's step times.

    python bench/bench_report.py [--model workloads/resnet18.json] [--device fpga-small]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="workloads/resnet18.json")
    ap.add_argument("--device", default="fpga-small")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        html, js = Path(tmp) / "r.html", Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "hwsim.cli", "report", args.model, "--device", args.device, "-o", str(html),
               "--json", str(js), "--quiet", *args.extra]
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}):\n{p.stderr}")
        doc = json.loads(js.read_text())
        size = html.stat().st_size
    sys.path.insert(0, str(ROOT))
    print(f"| `hwsim report {args.model} --device {args.device}` | value |")
    print("|---|---|")
    print(f"| wall time (CLI, imports included) | {wall:.1f} s (target < 60 s) |")
    print(f"| methods x devices | {len(doc['methods'])} x {len(doc['devices'])} |")
    ok = sum(1 for r in doc["table"] if r["status"] == "ok")
    print(f"| rows with figures | {ok} of {len(doc['table'])} |")
    verified = sum(1 for m in doc["methods"] if m["verify"]["status"] == "ok")
    print(f"| methods verified | {verified} of {len(doc['methods'])} |")
    print(f"| HTML size | {size / 1024:.0f} KiB |")
    print(f"| CLI says | {p.stdout.strip().splitlines()[0]} |")


if __name__ == "__main__":
    main()
