"""tools/mlperf_power.py reduces an MLPerf Inference run the MLPerf way: mean latency from LoadGen's summary,
mean power over the samples inside LoadGen's power window (checked on a synthetic run: the real results
repository is not downloaded by tests)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "mlperf_power.py"


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("mlperf_power", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass module must be importable by name while it is defined
    spec.loader.exec_module(module)
    return module


def _mllog(key: str, value: str) -> str:
    return ":::MLLOG " + json.dumps({"key": key, "value": value, "time_ms": 1.0}) + "\n"


def _run(folder: Path, *, with_power: bool) -> Path:
    folder.mkdir(parents=True)
    (folder / "mlperf_log_summary.txt").write_text(
        "SUT name : TFLite_SUT\nMin latency (ns)                : 500000000\n"
        "Mean latency (ns)               : 592611844\n50.00 percentile latency (ns)   : 591282177\n")
    (folder / "mlperf_log_detail.txt").write_text(
        _mllog("generic_message", "Starting performance mode")
        + _mllog("power_begin", "03-03-2021 00:19:01.500") + _mllog("power_end", "03-03-2021 00:19:04.000"))
    if with_power:
        # before the window: 4 W (model loading); inside it: 6, 7, 8 W; after it: 3 W
        samples = (("00:19:00.994", 4.0), ("00:19:01.499", 4.0), ("00:19:02.000", 6.0), ("00:19:03.000", 7.0),
                   ("00:19:04.000", 8.0), ("00:19:04.994", 3.0))
        (folder / "spl.txt").write_text("".join(
            f"Time,03-03-2021 {t},Watts,{w:.6f},Volts,250.0,Amps,0.03,PF,0.44,Mark,x_testing\n" for t, w in samples))
    return folder


def test_power_is_the_mean_of_the_samples_inside_the_power_window(tmp_path: Path) -> None:
    fig = _tool().reduce_run(_run(tmp_path / "run_1", with_power=True))
    assert fig.mean_ms == pytest.approx(592.611844)
    assert fig.samples == 3
    assert fig.watts == pytest.approx((6.0 + 7.0 + 8.0) / 3)


def test_a_run_without_power_samples_gives_latency_only(tmp_path: Path) -> None:
    fig = _tool().reduce_run(_run(tmp_path / "run_1", with_power=False))
    assert fig.watts is None and fig.samples == 0
    assert fig.mean_ms == pytest.approx(592.611844)


def test_a_summary_without_mean_latency_is_refused(tmp_path: Path) -> None:
    run = _run(tmp_path / "run_1", with_power=False)
    (run / "mlperf_log_summary.txt").write_text("nothing here\n")
    with pytest.raises(ValueError, match="Mean latency"):
        _tool().reduce_run(run)
