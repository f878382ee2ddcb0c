"""Reduce MLPerf Inference results (latency logs and power-analyser samples) to the figures of hwsim's
records.

An MLPerf Inference submission (github.com/mlcommons/inference_results_v1.0 and later) keeps, per system
and benchmark, ``<scenario>/performance/run_1/``:

- ``mlperf_log_summary.txt``: LoadGen's latency statistics (``Mean latency (ns)``);
- ``mlperf_log_detail.txt``: LoadGen's log, with ``power_begin`` / ``power_end``, the wall-clock window
  of the timed run (MLPerf's power rules average the power samples over exactly that window);
- ``spl.txt`` (power submissions only): the analyser's samples through PTDaemon, one a second
  (``Time,<dd-mm-yyyy hh:mm:ss.fff>,Watts,<W>,...``), at the system's mains input.

For one run this prints the mean latency in ms and, when the run has power samples, the mean of the
samples whose time lies in [power_begin, power_end] (the MLPerf reduction) and their count; in
SingleStream the queries run back to back, one at a time, so energy per inference = W x mean latency.
No figure is fitted or adjusted here.

    python tools/mlperf_power.py /path/to/inference_results_v1.0 closed/Krai/results/<system>/resnet50/singlestream

Used for hwsim's Krai Raspberry Pi 4 records of v1.0, v2.0 and v2.1 (the later rounds keep the same files, plus a
``ranging/`` run that sets the analyser's range and is not the measurement: only ``run_1`` is read).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_TIME_FORMAT = "%m-%d-%Y %H:%M:%S.%f"
_MEAN = re.compile(r"^Mean latency \(ns\)\s*:\s*(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class RunFigures:
    """What one MLPerf run gives an hwsim record: mean latency, and the mean power over its window."""

    mean_ms: float
    watts: float | None
    samples: int


def _power_window(detail: str) -> tuple[datetime, datetime]:
    marks: dict[str, datetime] = {}
    for line in detail.splitlines():
        if line.startswith(":::MLLOG"):
            entry = json.loads(line[len(":::MLLOG"):])
            if entry.get("key") in ("power_begin", "power_end"):
                marks[entry["key"]] = datetime.strptime(entry["value"], _TIME_FORMAT)
    if set(marks) != {"power_begin", "power_end"}:
        raise ValueError("mlperf_log_detail.txt: no power_begin / power_end entries")
    return marks["power_begin"], marks["power_end"]


def _samples(spl: str) -> list[tuple[datetime, float]]:
    out = []
    for line in spl.splitlines():
        fields = line.split(",")
        if len(fields) >= 4 and fields[0] == "Time" and fields[2] == "Watts":
            out.append((datetime.strptime(fields[1], _TIME_FORMAT), float(fields[3])))
    return out


def reduce_run(run_dir: Path) -> RunFigures:
    """The figures of one ``.../performance/run_1`` directory."""
    found = _MEAN.search((run_dir / "mlperf_log_summary.txt").read_text())
    if found is None:
        raise ValueError(f"{run_dir / 'mlperf_log_summary.txt'}: no 'Mean latency (ns)' line")
    mean_ms = int(found.group(1)) / 1e6
    spl = run_dir / "spl.txt"
    if not spl.exists():
        return RunFigures(mean_ms, None, 0)
    begin, end = _power_window((run_dir / "mlperf_log_detail.txt").read_text())
    inside = [w for t, w in _samples(spl.read_text()) if begin <= t <= end]
    if not inside:
        raise ValueError(f"{spl}: no sample inside the power window {begin} .. {end}")
    return RunFigures(mean_ms, statistics.fmean(inside), len(inside))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkout", type=Path, help="a checkout of an mlcommons/inference_results_v* repository")
    ap.add_argument("benchmarks", nargs="+", help="<division>/<submitter>/results/<system>/<benchmark>/<scenario>")
    args = ap.parse_args()
    for bench in args.benchmarks:
        try:
            fig = reduce_run(args.checkout / bench / "performance" / "run_1")
        except (OSError, ValueError) as e:  # a missing file or a log without the expected entries
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        power = f"{fig.watts:.3f} W over {fig.samples} samples" if fig.watts is not None else "no power samples"
        print(f"{bench}: mean {fig.mean_ms:.2f} ms; {power}")


if __name__ == "__main__":
    main()
