"""Peak resident memory of `hwsim compress` and `hwsim verify` against the model's weight bytes (issue 12,
item 7: VGG-16 peaked at 4.1 GB, 7.4x its 553 MB of fp32 weights).

Bound, stated before measuring (issue 12): the peak RSS of each command stays within 3x the fp32 weight
bytes (the weights, the compressed form and one decoded working copy). Measured after the fix with the
default int8 (2026-12-03, 2-core machine under load): compress 1,131 MiB = 2.14x, verify 1,272 MiB = 2.41x
(were 3,977 MiB = 7.53x and 3,996 MiB = 7.57x). Multi-pass and low-rank methods, at 7328c63 and after
the second fix (intermediate graphs keep specs only, stores hang off the root, no full-size int64 /
float64 temporaries in sharing, sparse encoding, Huffman, pruning and the SVD), compress: deep-compression
6.12x -> 2.61x, prune-90 3.86x -> 2.68x, svd-lowrank 3.74x -> 1.86x (``--method NAME --only compress``).
``tests/unit/compress/test_peak_memory.py`` guards the mechanism on a
33 MiB model under tracemalloc.

Each command runs in its own process; its peak RSS is read from ``resource.getrusage(RUSAGE_CHILDREN)``
after it ends (one child at a time, so the maximum is that child's). Prints peak RSS, the model's fp32
weight bytes and their ratio.

    python bench/bench_peak_memory.py [--model workloads/vgg16.json] [--method int8]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.frontends import load_model  # noqa: E402
from hwsim.ir.counting import count_graph  # noqa: E402


#: the stated bound: peak RSS / fp32 weight bytes
BOUND = 3.0


def peak_of(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS bytes, seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode not in (0, 1):
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if after <= before:
        print(f"  (peak not above an earlier child's {before / 1024:.0f} MiB: run commands in decreasing order "
              "or one per invocation)", file=sys.stderr)
    return after * 1024.0, dt  # ru_maxrss is KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="workloads/vgg16.json")
    ap.add_argument("--method", default="int8")
    ap.add_argument("--only", choices=["compress", "verify"], default=None)
    args = ap.parse_args()
    g = load_model(ROOT / args.model)
    weights = count_graph(g).params * 4
    py = [sys.executable, "-m", "hwsim.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"compress": py + ["compress", args.model, "-m", args.method, "-o", str(Path(tmp) / "c.json"), "--json"],
                "verify": py + ["verify", args.model, "-m", args.method, "-n", "1", "--json", "--quiet"]}
        for name, cmd in runs.items():
            if args.only and name != args.only:
                continue
            peak, dt = peak_of(cmd)
            print(f"{name:9s} {args.model} -m {args.method}: peak RSS {peak / 2**20:8.0f} MiB, fp32 weights "
                  f"{weights / 2**20:.0f} MiB, ratio {peak / weights:.2f}x (bound {BOUND:g}x: "
                  f"{'within' if peak <= BOUND * weights else 'ABOVE'}), {dt:.1f} s", flush=True)


if __name__ == "__main__":
    main()
