"""Are verify and report linear in the number of layers? (issue 12, item 7: weight lookup scanned every
node, so a 10k-layer model took 297 s.)

Builds chains of N small linear+relu layers (N = 1,000 ... 10,000), and times, in one run, the weight
lookup of every layer, ``hwsim verify -m baseline`` (kernels + fidelity on one input) and ``hwsim
report --methods baseline --verify off`` (compress + simulate + HTML) on each. Linear scaling means the
time ratio 10k/1k is ~10 (quadratic: ~100). Prints one row per N and the ratios.

    python bench/bench_layers_scale.py [--sizes 1000,2000,5000,10000] [--skip-report]
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
sys.path.insert(0, str(ROOT))

from hwsim.frontends.model_json import parse_model  # noqa: E402


def chain(n_layers: int, width: int = 8) -> dict:
    nodes = []
    for i in range(n_layers // 2):
        nodes.append({"name": f"fc{i}", "op": "linear", "attrs": {"out_features": width}})
        nodes.append({"name": f"relu{i}", "op": "relu"})
    return {"name": f"chain{n_layers}", "inputs": [{"name": "x", "shape": [1, width]}], "nodes": nodes}


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,2000,5000,10000")
    ap.add_argument("--skip-report", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            doc = chain(n)
            path = Path(tmp) / f"chain{n}.json"
            path.write_text(json.dumps(doc))
            g = parse_model(doc)
            t = time.perf_counter()
            for name in g.weight_names():
                g.weight(name)
            lookup = time.perf_counter() - t
            py = [sys.executable, "-m", "hwsim.cli"]
            verify = timed(py + ["verify", str(path), "-m", "baseline", "-n", "1", "--json", "--quiet"])
            report = None if args.skip_report else timed(
                py + ["report", str(path), "--device", "cpu-a53", "--methods", "baseline", "--verify", "off",
                      "--quiet", "-o", str(Path(tmp) / f"r{n}.html")])
            rows.append((n, lookup, verify, report))
            print(f"{n:>6} layers: weight lookup {lookup:7.3f} s, verify {verify:7.2f} s"
                  + (f", report {report:7.2f} s" if report is not None else ""), flush=True)
    first, last = rows[0], rows[-1]
    k = last[0] / first[0]
    print(f"ratio {last[0]}/{first[0]} layers = {k:.0f}x: lookup {last[1] / first[1]:.1f}x, verify "
          f"{last[2] / first[2]:.1f}x" + (f", report {last[3] / first[3]:.1f}x" if last[3] else "")
          + f" (linear: ~{k:.0f}x, quadratic: ~{k * k:.0f}x)")


if __name__ == "__main__":
    main()
