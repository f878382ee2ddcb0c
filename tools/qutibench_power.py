"""Select, from QuTiBench's published measurements, the figures of hwsim's FPGA energy records.

QuTiBench (Blott, Halder, Leeser, Doyle et al.; ACM JETC 2019, IEEE TC 2021) publishes every measurement of
its web portal as CSV in github.com/RCL-lab/QutibenchWeb, ``_notebooks/data/cleaned_csv/
experimental_data_imagenet.csv``: per hardware platform, network, thread count and pruning factor the system
latency (``lat-sys``, ms) and the board's base, idle and full power (``Base_Pwr_W``, ``Idle_Pwr_W``,
``Full_Pwr_W``; column meanings in ``_notebooks/data/FAIR_data/Data-level_documentation_for_quantitive_data.txt``).

This prints the rows the records use (hwsim/analysis/data/validation_records.yaml, tables qutibench-idle and
qutibench-imagenet-dpu): for each DPU board its idle power (one value, which must agree on every row that
gives it), and for every one-thread, unpruned row of a network hwsim has a model file for, full power x
system latency = energy per inference. Nothing is fitted or adjusted here.

    python tools/qutibench_power.py /path/to/QutibenchWeb          # a checkout of the repository
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

CSV = Path("_notebooks/data/cleaned_csv/experimental_data_imagenet.csv")
#: QuTiBench's platform name -> the hwsim profile the records run it on
BOARDS = {"Ultra96-DPU": "ultra96", "ZCU102-DPU": "zcu102", "ZCU104-DPU": "zcu104"}
#: QuTiBench's network name -> hwsim model file (workloads/)
MODELS = {"ResNet-50": "resnet50", "MobileNetv1": "mobilenet_v1"}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(f)]


def board_idle(rows: list[dict[str, str]]) -> dict[str, float]:
    """Each DPU board's Idle_Pwr_W; a board whose rows give two different values is an error."""
    idle: dict[str, set[float]] = {}
    for r in rows:
        if r["HWType"] in BOARDS and r["Idle_Pwr_W"]:
            idle.setdefault(r["HWType"], set()).add(float(r["Idle_Pwr_W"]))
    for board, values in idle.items():
        if len(values) != 1:
            raise SystemExit(f"{board}: Idle_Pwr_W differs between its rows: {sorted(values)}")
    return {board: values.pop() for board, values in idle.items()}


def energy_rows(rows: list[dict[str, str]]) -> list[tuple[str, str, float, float]]:
    """(board, network, full W, lat-sys ms) of the one-thread, unpruned DPU rows of networks hwsim has."""
    return [(r["HWType"], r["NN_Topology"], float(r["Full_Pwr_W"]), float(r["lat-sys"])) for r in rows
            if r["HWType"] in BOARDS and r["NN_Topology"] in MODELS and r["batch/thread/stream"] == "1"
            and float(r["PruningFactor"]) == 100.0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkout", type=Path, help="a checkout of github.com/RCL-lab/QutibenchWeb")
    rows = _rows(ap.parse_args().checkout / CSV)
    for board, watts in sorted(board_idle(rows).items()):
        print(f"idle {board:12s} {watts:g} W  (profile {BOARDS[board]})")
    for board, net, watts, ms in energy_rows(rows):
        print(f"{board:12s} {net:12s} {watts:g} W x {ms:g} ms = {watts * ms:.1f} mJ  "
              f"(profile {BOARDS[board]}, model {MODELS[net]})")


if __name__ == "__main__":
    main()
