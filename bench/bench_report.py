"""Benchmark: `hwsim report workloads/resnet18.json --device fpga-small` with the default catalogue and
verification on (target: under 20 s on this 2-core machine), through the real CLI.

    python bench/bench_report.py [--model workloads/resnet18.json] [--device fpga-small] [--repeat 1]
                                 [--against /path/to/other/checkout]

``--against`` runs the same command from another checkout of hwsim (e.g. the commit before a change)
alternately with this one, in the same run, and prints the ratio of the two (absolute times on a
shared machine are noisy; the ratio of interleaved runs is what to compare). CPU seconds are the
children's user+system time (main process and verification workers).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(tree: Path, args: argparse.Namespace) -> tuple[float, float, dict, int, str]:
    """(wall s, CPU s, JSON document, HTML bytes, first line of stdout) of one CLI run from ``tree``."""
    with tempfile.TemporaryDirectory() as tmp:
        html, js = Path(tmp) / "r.html", Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "hwsim.cli", "report", args.model, "--device", args.device, "-o", str(html),
               "--json", str(js), "--quiet", *args.extra]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}) from {tree}:\n{p.stderr}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, json.loads(js.read_text()), html.stat().st_size, p.stdout.strip().splitlines()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="workloads/resnet18.json")
    ap.add_argument("--device", default="fpga-small")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--against", type=Path, default=None, help="another hwsim checkout to compare with")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[])
    args = ap.parse_args()
    trees = [("this", ROOT)] + ([("against", args.against.resolve())] if args.against else [])
    times: dict[str, list[tuple[float, float]]] = {k: [] for k, _ in trees}
    docs: dict[str, dict] = {}
    for _ in range(args.repeat):
        for key, tree in (trees if _ % 2 == 0 else trees[::-1]):  # interleaved, alternating order
            wall, cpu, doc, size, says = run_once(tree, args)
            times[key].append((wall, cpu))
            docs[key] = {"doc": doc, "size": size, "says": says}
    doc = docs["this"]["doc"]
    print(f"| `hwsim report {args.model} --device {args.device}` | value |")
    print("|---|---|")
    for key, tree in trees:
        wall = statistics.median(w for w, _ in times[key])
        cpu = statistics.median(c for _, c in times[key])
        print(f"| wall / CPU time, {key} ({tree}) | {wall:.1f} s / {cpu:.1f} s (median of {args.repeat}; "
              f"target wall < 20 s on 2 idle cores) |")
    if args.against:
        w = [a[0] / b[0] for a, b in zip(times["this"], times["against"])]
        c = [a[1] / b[1] for a, b in zip(times["this"], times["against"])]
        print(f"| this / against (interleaved runs) | wall {statistics.median(w):.2f}x, CPU {statistics.median(c):.2f}x |")
    print(f"| methods x devices | {len(doc['methods'])} x {len(doc['devices'])} |")
    ok = sum(1 for r in doc["table"] if r["status"] == "ok")
    print(f"| rows with figures | {ok} of {len(doc['table'])} |")
    verified = sum(1 for m in doc["methods"] if m["verify"]["status"] == "ok")
    print(f"| methods verified | {verified} of {len(doc['methods'])} |")
    print(f"| HTML size | {docs['this']['size'] / 1024:.0f} KiB |")
    print(f"| CLI says | {docs['this']['says']} |")
    print(f"| load average while measuring | {os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
