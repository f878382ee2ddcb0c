"""Produce the SCALE-Sim reference numbers for ``tests/golden/test_scalesim.py`` (run once, by hand).

SCALE-Sim (Samajdar et al., ISPASS 2020; ``pip install scalesim``, v3.0.0 used) is the published
cycle-level systolic-array simulator. This script writes ResNet-18's conv layers (torchvision
architecture, batch 1, 224x224) and its FC layer as a SCALE-Sim topology, one config per dataflow
(os, ws, is) for a 32x32 array, runs the real tool on each, and stores its COMPUTE_REPORT.csv plus a
JSON summary under ``tests/golden/data/scalesim/``. The golden test reads only those files, so the
test suite never needs scalesim.

SCALE-Sim pads nothing: its ofmap is ceil((H - R + S) / S). We therefore give it the input extent a
padded conv really reads, (out - 1) * stride + kernel, so its ofmap equals PyTorch's.

Usage (scalesim 3.0.0 needs numpy < 2; use a separate venv):
    python -m venv --system-site-packages /tmp/ssvenv
    /tmp/ssvenv/bin/pip install scalesim "numpy<2"
    /tmp/ssvenv/bin/python tests/golden/tools/run_scalesim.py [--layers N]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata as md
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "data" / "scalesim"
ARRAY = (32, 32)
DATAFLOWS = ("os", "ws", "is")


def resnet18_layers() -> list[dict]:
    """(name, in H=W, kernel, C, K, stride, pad) of torchvision resnet18's convs, then fc."""
    rows: list[tuple[str, int, int, int, int, int, int]] = [("conv1", 224, 7, 3, 64, 2, 3)]
    spatial, c_in = 56, 64
    for stage, c_out in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if (stage > 1 and block == 0) else 1
            prefix = f"layer{stage}.{block}"
            rows.append((f"{prefix}.conv1", spatial, 3, c_in, c_out, stride, 1))
            out = spatial // stride
            rows.append((f"{prefix}.conv2", out, 3, c_out, c_out, 1, 1))
            if stride == 2:
                rows.append((f"{prefix}.downsample.0", spatial, 1, c_in, c_out, 2, 0))
            spatial, c_in = out, c_out
    layers = []
    for name, h, k, c, kk, s, p in rows:
        out = (h + 2 * p - k) // s + 1
        layers.append({"name": name, "in_hw": h, "kernel": k, "channels": c, "filters": kk, "stride": s,
                       "padding": p, "out_hw": out, "extent": (out - 1) * s + k})
    layers.append({"name": "fc", "in_hw": 1, "kernel": 1, "channels": 512, "filters": 1000, "stride": 1,
                   "padding": 0, "out_hw": 1, "extent": 1})
    return layers


def write_topology(layers: list[dict], path: Path) -> None:
    lines = ["Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"]
    for ly in layers:
        e, k = ly["extent"], ly["kernel"]
        lines.append(f"{ly['name']},{e},{e},{k},{k},{ly['channels']},{ly['filters']},{ly['stride']},")
    path.write_text("\n".join(lines) + "\n")


def write_layout(layers: list[dict], path: Path) -> None:
    """SCALE-Sim 3 insists on a layout file; with custom layouts off its content is not used."""
    header = ("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, Filter Height Intraline "
              "Factor, Filter Width Intraline Factor, Channel Intraline Factor, Num Filter Intraline Factor, IFMAP "
              "Height Intraline Order, IFMAP Width Intraline Order, Channel Intraline Order, IFMAP Height Interline "
              "Order, IFMAP Width Interline Order, Channel Interline Order, Num Filter Intraline Order, Channel "
              "Intraline Order, Filter Height Intraline Order, Filter Width Intraline Order, Num Filter Interline "
              "Order, Channel Interline Order, Filter Height Interline Order, Filter Width Interline Order,")
    rows = [f"{ly['name']},1,1,1,1,1,1,0,1,2,0,1,2,0,1,2,3,0,1,2,3," for ly in layers]
    path.write_text("\n".join([header, *rows]) + "\n")


def write_config(df: str, path: Path) -> None:
    rows, cols = ARRAY
    path.write_text(f"""[general]
run_name = hwsim_resnet18_{rows}x{cols}_{df}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:   64
FilterSramSzkB:  64
OfmapSramSzkB:   64
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {df}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
""")


def read_compute_report(path: Path) -> list[dict]:
    out = []
    with path.open() as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        for row in reader:
            vals = [v.strip() for v in row if v.strip() != ""]
            out.append(dict(zip(header, vals)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=None, help="only the first N layers (smoke run)")
    ap.add_argument("--dataflows", default=",".join(DATAFLOWS))
    args = ap.parse_args()
    from scalesim.scale_sim import scalesim  # the real tool; never imported by hwsim or its tests

    OUT.mkdir(parents=True, exist_ok=True)
    layers = resnet18_layers()[: args.layers]
    write_topology(layers, OUT / "resnet18_topology.csv")
    write_layout(layers, OUT / "resnet18_layout.csv")
    summary_path = OUT / "scalesim_resnet18_32x32.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary.update({
        "tool": f"scalesim {md.version('scalesim')} (numpy {md.version('numpy')}, python {platform.python_version()})",
        "source": "Samajdar et al., 'A Systematic Methodology for Characterizing Scalability of DNN Accelerators "
                  "using SCALE-Sim', ISPASS 2020; github.com/scalesim-project/scale-sim-v2",
        "command": "python tests/golden/tools/run_scalesim.py",
        "date": dt.date.today().isoformat(),
        "array": list(ARRAY),
        "topology": "resnet18_topology.csv",
        "layers": layers,
    })
    summary.setdefault("dataflows", {})
    for df in args.dataflows.split(","):
        cfg = OUT / f"scalesim_32x32_{df}.cfg"
        write_config(df, cfg)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg),
                           topology=str(OUT / "resnet18_topology.csv"), layout=str(OUT / "resnet18_layout.csv"))
            sim.run_scale(top_path=tmp)
            report = next(Path(tmp).glob("*/COMPUTE_REPORT.csv"))
            shutil.copy(report, OUT / f"COMPUTE_REPORT_{df}.csv")
            rows = read_compute_report(report)
        per_layer = []
        for ly, row in zip(layers, rows):
            per_layer.append({"name": ly["name"], "compute_cycles": int(row["Total Cycles"]),
                              "stall_cycles": int(row["Stall Cycles"]),
                              "cycles_incl_prefetch": int(row["Total Cycles (incl. prefetch)"]),
                              "mapping_efficiency_pct": float(row["Mapping Efficiency %"]),
                              "compute_util_pct": float(row["Compute Util %"])})
            print(f"{df} {ly['name']:24s} compute cycles {row['Total Cycles']:>10s} stalls {row['Stall Cycles']}")
        summary["dataflows"][df] = {"config": cfg.name, "report": f"COMPUTE_REPORT_{df}.csv",
                                    "wall_seconds": round(time.time() - t0, 1), "layers": per_layer}
        summary_path.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {summary_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
