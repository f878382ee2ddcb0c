#!/usr/bin/env python
"""Whole CLI calls, start-up included: ``hwsim --help`` (target < 0.2 s), ``hwsim stats
workloads/resnet18.json`` (target < 0.4 s) and ``hwsim simulate workloads/resnet18.json -d systolic-32x32
--json`` (aim < 0.5 s), beside a bare interpreter and ``import numpy`` as the floor.

    python bench/bench_startup.py [--repeat 9] [--before GIT_REF] [--cached-bytecode]

Each call is a fresh subprocess, run from the tree it measures; the table shows the median and best wall
time of ``--repeat`` runs, interleaved so machine load hits every row alike, and the median and best CPU
time (user + system of the child, from the children's rusage; load barely moves it, while the wall time
of a short process on a loaded machine mostly measures waiting). Targets are on wall time.

The device cache (``hwsim.hardware.device_cache``) is warmed by one untimed call first, as after a user's
first call; the row "(device cache off)" validates the device file with pydantic on every call.

Python's bytecode cache: hwsim's modules are compiled from source on every call when
PYTHONDONTWRITEBYTECODE is set (as on the machine these figures come from) and no ``__pycache__`` exists;
an installed package has its bytecode compiled once. The header says which condition the rows measure;
``--cached-bytecode`` adds rows with a warm cache in a temporary PYTHONPYCACHEPREFIX (the tree stays clean).
``--before REF`` checks REF out into a temporary git worktree and runs the same calls from it in the same
loop, for a before/after ratio measured in one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = "from hwsim.cli import main; main()"
TARGETS = {"hwsim --help": 0.2, "hwsim stats resnet18.json": 0.4, "hwsim simulate resnet18 --json": 0.5}
#: the device cache (hwsim.hardware.device_cache) of the timed calls: warmed by an untimed call first, as
#: after a user's first call; the "cache off" row validates the device file on every call
CACHE_OFF = "simulate ... (device cache off)"


def calls(root: Path) -> dict[str, list[str]]:
    model = str(root / "workloads" / "resnet18.json")
    simulate = [sys.executable, "-c", CLI, "simulate", model, "-d", "systolic-32x32", "--json"]
    return {"hwsim --help": [sys.executable, "-c", CLI, "--help"],
            "hwsim stats resnet18.json": [sys.executable, "-c", CLI, "stats", model],
            "hwsim simulate resnet18 --json": simulate, CACHE_OFF: simulate}


def run(argv: list[str], root: Path, pycache: str | None, cache_dir: str, name: str = "") -> tuple[float, float]:
    """(wall s, CPU s) of one fresh process run from ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root), "HWSIM_CACHE_DIR": "off" if name == CACHE_OFF else cache_dir}
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--before", default=None, help="git ref to measure beside this tree (e.g. main~5)")
    ap.add_argument("--cached-bytecode", action="store_true",
                    help="also measure with a warm bytecode cache (as an installed package runs)")
    args = ap.parse_args(argv)
    roots = {"this tree": ROOT}
    tmp = None
    if args.before:
        tmp = tempfile.mkdtemp(prefix="hwsim-before-")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", tmp, args.before], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        roots = {f"before ({args.before})": Path(tmp), **roots}
    env_bytecode = "off (PYTHONDONTWRITEBYTECODE)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    modes: dict[str, str | None] = {"": None}
    pyc_dir = None
    if args.cached_bytecode:
        pyc_dir = tempfile.mkdtemp(prefix="hwsim-pyc-")
        modes[" [pyc]"] = pyc_dir
    rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
    cache_dir = tempfile.mkdtemp(prefix="hwsim-device-cache-")
    floor = {"python -c pass": [sys.executable, "-c", "pass"], "python -c 'import numpy'": [sys.executable, "-c", "import numpy"]}
    print(f"load average at the start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores); bytecode cache of the "
          f"environment: {env_bytecode}" + ("; [pyc] rows: warm cache in a temporary PYTHONPYCACHEPREFIX" if pyc_dir else ""))
    try:
        for root in roots.values():  # warm the device cache (and the bytecode cache) once per tree, untimed
            for pyc in modes.values():
                run(calls(root)["hwsim simulate resnet18 --json"], root, pyc, cache_dir)
                if pyc is not None:
                    for cmd in calls(root).values():
                        run(cmd, root, pyc, cache_dir)
        for _ in range(args.repeat):
            for name, cmd in floor.items():
                rows.setdefault(("floor", name), []).append(run(cmd, ROOT, None, cache_dir))
            for label, root in roots.items():
                for suffix, pyc in modes.items():
                    for name, cmd in calls(root).items():
                        rows.setdefault((label + suffix, name), []).append(run(cmd, root, pyc, cache_dir, name))
    finally:
        if tmp:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tmp], check=False)
        for d in (pyc_dir, cache_dir):
            if d:
                subprocess.run(["rm", "-rf", d], check=False)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"{'tree':28s} {'call':31s} {'wall med s':>10s} {'wall best':>9s} {'CPU med s':>9s} {'CPU best':>8s} "
          f"{'target s':>8s}")
    missed = False
    for (label, name), ts in rows.items():
        target = TARGETS.get(name) if label.startswith("this tree") else None
        walls, cpus = [t[0] for t in ts], [t[1] for t in ts]
        med = statistics.median(walls)
        if target is not None and label == "this tree" and med > target:
            missed = True
        print(f"{label:28s} {name:31s} {med:10.3f} {min(walls):9.3f} {statistics.median(cpus):9.3f} "
              f"{min(cpus):8.3f} {target if target else '':>8}")
    if args.before:
        print("\nratio before / this tree (median wall; median CPU):")
        before = next(k for k in roots if k.startswith("before"))
        for name in TARGETS:
            b, n = rows[(before, name)], rows[("this tree", name)]
            print(f"  {name:31s} {statistics.median(x[0] for x in b) / statistics.median(x[0] for x in n):.2f}x; "
                  f"{statistics.median(x[1] for x in b) / statistics.median(x[1] for x in n):.2f}x")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
