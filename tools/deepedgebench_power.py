"""Reduce DeepEdgeBench's published raw power logs to the figures of hwsim's energy records.

DeepEdgeBench (Baller, Jindal, Chadha, Gerndt, IC2E 2021, arXiv 2108.09457) measured each board at its
5 V input with an HM310P laboratory supply sampled ~5 times a second, and published the logs in the
authors' repository (github.com/stephanballer/deepedgebench, ``results/``):

- ``results/idle/<board>.txt``: the supply's samples (time, A, V, W) with the board idle (LAN on);
- ``results/inference_classification/<board>/<board>_all.txt``: the samples over a whole test session,
  and ``pow_ts_<board>_<runtime>_<model>.txt`` the timestamps of its inference loops: 5 images, each
  invoked 1,000 times back to back (``test_scripts/inf_<board>.sh``: NUM_INF=5, NUM_REP=1000).

For one run this prints the mean board power while the loops ran (the authors' own reduction in
``utils/serial_utils.py``: per loop, the mean of the samples from the first at or after its start to the
first after its end; then the mean over the 5 loops), and the time per inference of the same loops
(loop duration / 1,000), so energy per inference = W x ms with both from one measurement. For idle it
prints the mean of all samples. No figure is fitted or adjusted here.

    python tools/deepedgebench_power.py /path/to/deepedgebench          # a checkout of the repository
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

#: (board directory, run name): the runs hwsim's records use (hwsim/analysis/data/validation_records.yaml)
RUNS = (("rpi", "rpi_tflite_mn2"), ("rpi", "rpi_tflite_mn2q"), ("jetson", "jetson_onnxtrt_mn2"),
        ("jetson", "jetson_tftrt_mn2"), ("coral", "coral_litetpu_mn2q"),
        ("coral", "coral_tflite_mn2q"))
IDLE = ("rpi", "jetson", "coral")
REPETITIONS = 1000


def _samples(path: Path) -> tuple[list[float], list[float]]:
    times, watts = [], []
    for line in path.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) == 4:
            times.append(float(fields[0]))
            watts.append(float(fields[3]))
    return times, watts


def _loops(path: Path) -> list[tuple[float, float]]:
    marks = [line.split() for line in path.read_text().splitlines()[1:]]
    starts = [float(t) for t, name in (m for m in marks if len(m) == 2) if name.startswith("inf_start")]
    ends = [float(t) for t, name in (m for m in marks if len(m) == 2) if name.startswith("inf_end")]
    return list(zip(starts, ends))


def _loop_mean(times: list[float], watts: list[float], start: float, end: float) -> float:
    first = next(i for i, t in enumerate(times) if t >= start)
    last = next(i for i, t in enumerate(times) if t > end)
    return statistics.fmean(watts[first:last + 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkout", type=Path, help="a checkout of github.com/stephanballer/deepedgebench")
    root = ap.parse_args().checkout / "results"
    for board, run in RUNS:
        folder = root / "inference_classification" / board
        times, watts = _samples(folder / f"{board}_all.txt")
        loops = _loops(folder / f"pow_ts_{run}.txt")
        power = statistics.fmean(_loop_mean(times, watts, s, e) for s, e in loops)
        ms = statistics.fmean((e - s) / REPETITIONS for s, e in loops) * 1e3
        print(f"{run:22s} {power:.2f} W  {ms:.2f} ms per inference  {power * ms:.1f} mJ ({len(loops)} loops)")
    for board in IDLE:
        _, watts = _samples(root / "idle" / f"{board}.txt")
        print(f"idle {board:17s} {statistics.fmean(watts):.2f} W ({len(watts)} samples)")


if __name__ == "__main__":
    main()
