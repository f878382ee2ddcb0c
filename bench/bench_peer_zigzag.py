#!/usr/bin/env python
"""hwsim beside ZigZag on the same work, in one run: torchvision's ResNet-18 (ZigZag reads the ONNX
file it ships, whose weights are left out; hwsim reads its own workloads/resnet18.json, the same
layers) on ZigZag's own edge-TPU-like design (an 8x8x4x4 = 1,024-MAC array) and on hwsim's 32x32
systolic array (1,024 MACs). Both tools run for real. The cycle figures are not expected to be equal:
ZigZag searches temporal mappings (LOMA) for its own memory hierarchy; hwsim's systolic model follows
SCALE-Sim's fold arithmetic (see bench_peer_scalesim.py for a cycle-equal comparison).

Two comparisons, both printed:

- **whole process** (the target, hwsim >= 200x faster): each tool as a fresh process, start-up
  included: ZigZag's API call in a Python process, hwsim's CLI ``hwsim simulate workloads/resnet18.json
  -d systolic-32x32 --json`` (its device cache warmed by one untimed call first, as after a user's first
  call; a separate row with the cache off). Wall time and CPU time (user + system of the child, from the children's
  rusage: load on the machine barely moves it, while the wall time of a short process under load mostly
  measures waiting). hwsim: least of ``--hwsim-repeat`` calls; ZigZag: least of ``--repeat`` calls.
- **in process, after imports**: in a fresh child process each tool's modules are imported first, then
  the clock runs over the work alone: ZigZag's ``get_hardware_performance_zigzag`` call (its first);
  hwsim's ``load_model`` + ``load_device`` (validated, device cache off) + ``simulate`` (its first call,
  and the least of 5 more with a freshly read graph and device each). This separates start-up from simulation.

    python bench/bench_peer_zigzag.py [--repeat 1] [--hwsim-repeat 7]

Needs the ``bench`` extra (zigzag-dse).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "workloads" / "resnet18.json"
DEVICE = "systolic-32x32"

_ZIGZAG_CHILD = """
import json, os, sys, time
t_imp = time.perf_counter()
import zigzag
from zigzag.api import get_hardware_performance_zigzag
base = os.path.dirname(zigzag.__file__)
w0, c0 = time.perf_counter(), time.process_time()
energy, latency, _ = get_hardware_performance_zigzag(
    os.path.join(base, "inputs/workload/resnet18.onnx"), os.path.join(base, "inputs/hardware/edge_tpu_like.yaml"),
    os.path.join(base, "inputs/mapping/edge_tpu_like.yaml"), opt="latency", dump_folder=sys.argv[1],
    loma_show_progress_bar=False)
print(json.dumps({"latency_cycles": latency, "energy": energy,
                  "work_wall_s": time.perf_counter() - w0, "work_cpu_s": time.process_time() - c0}))
"""

_HWSIM_INPROC_CHILD = """
import json, sys, time
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.sim import simulate
# the modules the call would import on first use (the device is validated in the call: cache off)
import hwsim.cost.systolic, hwsim.sim.analytic, hwsim.hardware.schema, hwsim.hardware.software_model, yaml
def work():
    return simulate(load_model(sys.argv[1]), load_device(sys.argv[2]))
times = []
for _ in range(6):
    w0, c0 = time.perf_counter(), time.process_time()
    r = work()
    times.append((time.perf_counter() - w0, time.process_time() - c0))
print(json.dumps({"latency_cycles": r.total_cycles, "first": times[0],
                  "best_wall_s": min(t[0] for t in times[1:]), "best_cpu_s": min(t[1] for t in times[1:])}))
"""


def zigzag_onnx() -> Path:
    import zigzag

    return Path(zigzag.__file__).parent / "inputs" / "workload" / "resnet18.onnx"


def timed_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall s, CPU s = user + system of the child from the children's rusage, stdout) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), r.stdout


def _last_json(stdout: str) -> dict:
    """The JSON document a child printed: the whole output (the CLI's indented --json), else its last line."""
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        return json.loads(stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1, help="ZigZag processes (each ~2 min); the least time counts")
    ap.add_argument("--hwsim-repeat", type=int, default=7, help="hwsim CLI processes; the least time counts")
    args = ap.parse_args(argv)
    cli = [sys.executable, "-c", "from hwsim.cli import main; main()", "simulate", str(MODEL), "-d", DEVICE, "--json"]
    print(f"ResNet-18 (ZigZag: its {zigzag_onnx().name}; hwsim: workloads/resnet18.json); load average "
          f"{os.getloadavg()[0]:.1f} at start on {os.cpu_count()} cores; bytecode cache "
          f"{'off (PYTHONDONTWRITEBYTECODE)' if os.environ.get('PYTHONDONTWRITEBYTECODE') else 'on'}")
    hw_runs, hw_off, zz_runs, hw_inproc = [], [], [], None
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory(prefix="hwsim-device-cache-") as cache:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HWSIM_CACHE_DIR": cache}
        env_off = {**env, "HWSIM_CACHE_DIR": "off"}
        timed_child(cli, env)  # untimed: validates the device file and stores it in the cache
        for i in range(max(args.repeat, args.hwsim_repeat)):  # interleaved: load hits both tools alike
            if i < args.hwsim_repeat:
                wall, cpu, out = timed_child(cli, env)
                hw_runs.append((wall, cpu, _last_json(out)["total_cycles"]))
                hw_off.append(timed_child(cli, env_off)[:2])
            if i < args.repeat:
                wall, cpu, out = timed_child([sys.executable, "-c", _ZIGZAG_CHILD, d])
                zz_runs.append((wall, cpu, _last_json(out)))
        hw_inproc = _last_json(timed_child([sys.executable, "-c", _HWSIM_INPROC_CHILD, str(MODEL), DEVICE], env_off)[2])
    zz_wall, zz_cpu = min(r[0] for r in zz_runs), min(r[1] for r in zz_runs)
    hw_wall, hw_cpu = min(r[0] for r in hw_runs), min(r[1] for r in hw_runs)
    zz_doc = zz_runs[0][2]
    zz_work_wall = min(r[2]["work_wall_s"] for r in zz_runs)
    zz_work_cpu = min(r[2]["work_cpu_s"] for r in zz_runs)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"\n{'tool':7s} {'design':27s} {'latency cycles':>15s} | {'process wall s':>14s} {'process CPU s':>13s} | "
          f"{'in-process wall s':>17s} {'in-process CPU s':>16s}")
    print(f"{'ZigZag':7s} {'edge_tpu_like (8x8x4x4)':27s} {zz_doc['latency_cycles']:15,.0f} | {zz_wall:14.2f} "
          f"{zz_cpu:13.2f} | {zz_work_wall:17.2f} {zz_work_cpu:16.2f}")
    first_wall, first_cpu = hw_inproc["first"]
    print(f"{'hwsim':7s} {'systolic-32x32 (analytic)':27s} {hw_runs[0][2]:15,.0f} | {hw_wall:14.3f} {hw_cpu:13.3f} | "
          f"{first_wall:17.4f} {first_cpu:16.4f}   (first call; least of 5 more: {hw_inproc['best_wall_s'] * 1e3:.1f} ms "
          f"wall, {hw_inproc['best_cpu_s'] * 1e3:.1f} ms CPU)")
    off_wall, off_cpu = min(r[0] for r in hw_off), min(r[1] for r in hw_off)
    print(f"{'hwsim':7s} {'  (device cache off)':27s} {'':15s} | {off_wall:14.3f} {off_cpu:13.3f} |")
    ratio_wall, ratio_cpu = zz_wall / hw_wall, zz_cpu / hw_cpu
    print(f"\nwhole process (target >= 200x): ZigZag / hwsim wall {ratio_wall:.0f}x, CPU {ratio_cpu:.0f}x "
          f"(hwsim: least of {len(hw_runs)} CLI calls; ZigZag: least of {len(zz_runs)}); device cache off: wall "
          f"{zz_wall / off_wall:.0f}x, CPU {zz_cpu / off_cpu:.0f}x")
    print(f"in process, after imports: ZigZag / hwsim first call wall {zz_work_wall / first_wall:,.0f}x, "
          f"CPU {zz_work_cpu / first_cpu:,.0f}x")
    return 0 if ratio_wall >= 200 else 1


if __name__ == "__main__":
    sys.exit(main())
