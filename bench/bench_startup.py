#!/usr/bin/env python
"""Wall time of whole CLI calls, start-up included: ``hwsim --help`` (target < 0.2 s) and ``hwsim stats
workloads/resnet18.json`` (target < 0.4 s), beside a bare interpreter and ``import numpy`` as the floor.

    python bench/bench_startup.py [--repeat 9] [--before GIT_REF]

Each call is a fresh subprocess; the table shows the median and best of ``--repeat`` runs, interleaved
so machine load hits every row alike. ``--before REF`` checks REF out into a temporary git worktree and
runs the same calls from it in the same loop, for a before/after ratio measured in one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = "from hwsim.cli import main; main()"
TARGETS = {"hwsim --help": 0.2, "hwsim stats resnet18.json": 0.4}


def calls(root: Path) -> dict[str, list[str]]:
    return {"hwsim --help": [sys.executable, "-c", CLI, "--help"],
            "hwsim stats resnet18.json": [sys.executable, "-c", CLI, "stats", str(ROOT / "workloads" / "resnet18.json")]}


def wall(argv: list[str], root: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(root)}
    t = time.perf_counter()
    subprocess.run(argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--before", default=None, help="git ref to measure beside this tree (e.g. main~5)")
    args = ap.parse_args(argv)
    roots = {"this tree": ROOT}
    tmp = None
    if args.before:
        tmp = tempfile.mkdtemp(prefix="hwsim-before-")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", tmp, args.before], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        roots = {f"before ({args.before})": Path(tmp), **roots}
    rows: dict[tuple[str, str], list[float]] = {}
    floor = {"python -c pass": [sys.executable, "-c", "pass"], "python -c 'import numpy'": [sys.executable, "-c", "import numpy"]}
    try:
        for _ in range(args.repeat):
            for name, cmd in floor.items():
                rows.setdefault(("floor", name), []).append(wall(cmd, ROOT))
            for label, root in roots.items():
                for name, cmd in calls(root).items():
                    rows.setdefault((label, name), []).append(wall(cmd, root))
    finally:
        if tmp:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tmp], check=False)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    print(f"{'tree':22s} {'call':28s} {'median s':>9s} {'best s':>8s} {'target s':>9s}")
    missed = False
    for (label, name), ts in rows.items():
        target = TARGETS.get(name) if label == "this tree" else None
        med = statistics.median(ts)
        if target is not None and min(ts) > target:
            missed = True
        print(f"{label:22s} {name:28s} {med:9.3f} {min(ts):8.3f} {target if target else '':>9}")
    if args.before:
        print("\nratio before / this tree (median):")
        before = next(k for k in roots if k.startswith("before"))
        for name in TARGETS:
            print(f"  {name:28s} {statistics.median(rows[(before, name)]) / statistics.median(rows[('this tree', name)]):.2f}x")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
