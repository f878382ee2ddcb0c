#!/usr/bin/env python
"""hwsim beside ZigZag on the same work, in one run: torchvision's ResNet-18 (ZigZag reads the ONNX
file it ships, whose weights are left out; hwsim reads its own workloads/resnet18.json, the same
layers) on ZigZag's own edge-TPU-like design (an 8x8x4x4 = 1,024-MAC array) and on hwsim's 32x32
systolic array (1,024 MACs). Both tools run for real, each as a fresh process (start-up included); the table shows their
wall times, the ratio (target: hwsim >= 200x faster) and each tool's latency in cycles. The cycle
figures are not expected to be equal: ZigZag searches temporal mappings (LOMA) for its own
memory hierarchy; hwsim's systolic model follows SCALE-Sim's fold arithmetic (see
bench_peer_scalesim.py for a cycle-equal comparison).

    python bench/bench_peer_zigzag.py [--repeat 1]

Needs the ``bench`` extra (zigzag-dse).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_ZIGZAG_CHILD = """
import json, os, sys, logging
import zigzag
from zigzag.api import get_hardware_performance_zigzag
base = os.path.dirname(zigzag.__file__)
energy, latency, _ = get_hardware_performance_zigzag(
    os.path.join(base, "inputs/workload/resnet18.onnx"), os.path.join(base, "inputs/hardware/edge_tpu_like.yaml"),
    os.path.join(base, "inputs/mapping/edge_tpu_like.yaml"), opt="latency", dump_folder=sys.argv[1],
    loma_show_progress_bar=False)
print(json.dumps({"latency_cycles": latency, "energy": energy}))
"""

_HWSIM_CHILD = """
import json, sys
from hwsim.frontends import load_model
from hwsim.sim import simulate
r = simulate(load_model(sys.argv[1]), "systolic-32x32")
print(json.dumps({"latency_cycles": r.total_cycles, "nodes": len(r.ops)}))
"""


def zigzag_onnx() -> Path:
    import zigzag

    return Path(zigzag.__file__).parent / "inputs" / "workload" / "resnet18.onnx"


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, dict]:
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - t
    return wall, json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"ResNet-18 (ZigZag: its {zigzag_onnx().name}; hwsim: workloads/resnet18.json); load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.repeat):
            hw = timed([sys.executable, "-c", _HWSIM_CHILD, str(ROOT / "workloads" / "resnet18.json")], env)
            zz = timed([sys.executable, "-c", _ZIGZAG_CHILD, d])
            rows.append((zz, hw))
    zz_s = min(r[0][0] for r in rows)
    hw_s = min(r[1][0] for r in rows)
    zz_doc, hw_doc = rows[0][0][1], rows[0][1][1]
    print(f"{'tool':8s} {'design':28s} {'wall s':>8s} {'latency cycles':>15s}")
    print(f"{'ZigZag':8s} {'edge_tpu_like (8x8x4x4)':28s} {zz_s:8.2f} {zz_doc['latency_cycles']:15,.0f}")
    print(f"{'hwsim':8s} {'systolic-32x32 (analytic)':28s} {hw_s:8.2f} {hw_doc['latency_cycles']:15,.0f}")
    ratio = zz_s / hw_s
    print(f"ZigZag / hwsim wall: {ratio:.0f}x (target >= 200x)")
    return 0 if ratio >= 200 else 1


if __name__ == "__main__":
    sys.exit(main())
