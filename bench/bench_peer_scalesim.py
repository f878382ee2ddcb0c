#!/usr/bin/env python
"""hwsim beside SCALE-Sim on the same work, in one run: ResNet-18 (its 20 convs and the fc) on a 32x32
systolic array, per dataflow. Both tools are run for real; the table shows each tool's wall time, their
ratio, and whether hwsim's per-layer array cycles equal SCALE-Sim's (the ratio counts only at equal
cycles). Target: hwsim >= 1,000x faster.

    python bench/bench_peer_scalesim.py [--dataflows os] [--layers N] [--scalesim-python PY]

SCALE-Sim 3.0.0 needs numpy < 2: give ``--scalesim-python`` an interpreter that has it, e.g.
``python -m venv --system-site-packages /tmp/ssvenv && /tmp/ssvenv/bin/pip install scalesim "numpy<2"``
(the ``bench`` extra installs scalesim itself). Each tool runs as a fresh process, start-up included
(hwsim's ``simulate --json`` for the whole network, one dataflow per call); hwsim's in-process time
(graph loaded and imports done: costs + analytic schedule, best of 5) is shown too. A full SCALE-Sim run takes minutes per
dataflow (os ~9 min, ws ~33 min on this machine); ``--layers N`` runs the first N layers for both.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_spec = importlib.util.spec_from_file_location("run_scalesim", ROOT / "tests" / "golden" / "tools" / "run_scalesim.py")
assert _spec and _spec.loader
run_scalesim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_scalesim)

_SCALESIM_CHILD = """
import sys, time
from scalesim.scale_sim import scalesim
cfg, topo, layout, out = sys.argv[1:5]
sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout)
sim.run_scale(top_path=out)
"""


def _timed_child(argv: list[str], **kw) -> tuple[float, float]:
    """(wall s, CPU s) of one child process: CPU is user + system from the children's rusage, which
    load on the machine barely moves (wall time of a short process under load mostly measures waiting)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, **kw)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_peer(py: str, df: str, layers: list[dict], tmp: Path) -> tuple[float, float, list[int]]:
    topo, layout, cfg = tmp / "topology.csv", tmp / "layout.csv", tmp / f"{df}.cfg"
    run_scalesim.write_topology(layers, topo)
    run_scalesim.write_layout(layers, layout)
    run_scalesim.write_config(df, cfg)
    out = tmp / f"out_{df}"
    out.mkdir()
    wall, cpu = _timed_child([py, "-c", _SCALESIM_CHILD, str(cfg), str(topo), str(layout), str(out)])
    rows = run_scalesim.read_compute_report(next(out.glob("*/COMPUTE_REPORT.csv")))
    return wall, cpu, [int(r["Total Cycles"]) for r in rows]


def hwsim_model(layers: list[dict], tmp: Path) -> Path:
    """The same layers as one model.json (each conv reads the graph input of its own shape)."""
    inputs, nodes = [], []
    for ly in layers:
        x = f"{ly['name']}.x"
        if ly["name"] == "fc":
            inputs.append({"name": x, "shape": [1, ly["channels"]]})
            nodes.append({"name": ly["name"], "op": "linear", "inputs": [x], "outputs": [f"{ly['name']}.y"],
                          "attrs": {"out_features": ly["filters"]}})
        else:
            inputs.append({"name": x, "shape": [1, ly["channels"], ly["in_hw"], ly["in_hw"]]})
            nodes.append({"name": ly["name"], "op": "conv2d", "inputs": [x], "outputs": [f"{ly['name']}.y"],
                          "attrs": {"out_channels": ly["filters"], "kernel": ly["kernel"], "stride": ly["stride"],
                                    "padding": ly["padding"]}})
    doc = {"name": "resnet18_scalesim_layers", "inputs": inputs, "nodes": nodes,
           "outputs": [n["outputs"][0] for n in nodes]}
    path = tmp / "layers.json"
    path.write_text(json.dumps(doc))
    return path


def run_hwsim(model: Path, df: str, repeat: int) -> tuple[float, float, list[int], float]:
    """Least wall and least CPU time of ``repeat`` whole CLI calls (start-up included), the cycles, and
    the least in-process time of the simulation itself."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", "from hwsim.cli import main; main()", "simulate", str(model), "-d", "systolic-32x32",
            "--set", f"array.dataflow={df}", "--json"]
    runs = [_timed_child(argv, env=env) for _ in range(repeat)]
    wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
    from hwsim.frontends import load_model
    from hwsim.hardware import load_device
    from hwsim.sim import op_costs, simulate

    graph = load_model(model)
    dev = load_device("systolic-32x32", {"array.dataflow": df})
    simulate(graph, dev)  # warm: imports, the device's derived tables
    inproc = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        simulate(graph, dev)
        inproc = min(inproc, time.perf_counter() - t)
    return wall, cpu, [c.extra["array_cycles"] for c in op_costs(graph, dev)], inproc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataflows", default="os")
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--scalesim-python", default=sys.executable)
    ap.add_argument("--hwsim-repeat", type=int, default=5, help="whole hwsim CLI calls; the least time counts")
    args = ap.parse_args(argv)
    layers = run_scalesim.resnet18_layers()[: args.layers]
    print(f"ResNet-18, {len(layers)} layers, 32x32 array; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'dataflow':8s} {'SCALE-Sim s':>11s} {'hwsim CLI s':>11s} {'ratio':>8s} {'SCALE-Sim CPU s':>15s} "
          f"{'hwsim CLI CPU s':>15s} {'CPU ratio':>9s} {'hwsim in-proc ms':>16s} {'ratio in-proc':>13s} "
          f"{'cycles equal':>12s}")
    ok = True
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = hwsim_model(layers, tmp)
        for df in args.dataflows.split(","):
            peer_s, peer_cpu, peer_cycles = run_peer(args.scalesim_python, df, layers, tmp)
            ours_s, ours_cpu, ours_cycles, inproc = run_hwsim(model, df, args.hwsim_repeat)
            equal = ours_cycles == peer_cycles
            ratio = peer_s / ours_s
            ok &= equal and ratio >= 1000
            print(f"{df:8s} {peer_s:11.1f} {ours_s:11.3f} {ratio:7.0f}x {peer_cpu:15.1f} {ours_cpu:15.3f} "
                  f"{peer_cpu / ours_cpu:8.0f}x {inproc * 1e3:16.1f} {peer_s / inproc:12.0f}x "
                  f"{'yes' if equal else 'NO'}:{sum(ours_cycles):,}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
