"""tools/deepedgebench_power.py reduces DeepEdgeBench's raw logs the authors' way (checked on a synthetic
checkout: the real one is not downloaded by tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "deepedgebench_power.py"


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("deepedgebench_power", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_loop_averages_the_samples_from_its_start_through_the_first_after_its_end() -> None:
    tool = _tool()
    times = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    watts = [9.0, 2.0, 4.0, 6.0, 8.0, 9.0]
    # start 0.5 -> first sample at or after it is t=1; end 3.5 -> first sample after it is t=4 (included)
    assert tool._loop_mean(times, watts, 0.5, 3.5) == pytest.approx((2 + 4 + 6 + 8) / 4)


def test_the_report_gives_power_and_ms_per_inference_of_the_same_loops(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    tool = _tool()
    root = tmp_path / "results"
    for board, run in tool.RUNS:
        folder = root / "inference_classification" / board
        folder.mkdir(parents=True, exist_ok=True)
        samples = "".join(f"{t:.1f} 1.0 5.0 {5.0 if 10 <= t <= 30 else 2.0}\n" for t in range(0, 41))
        (folder / f"{board}_all.txt").write_text("serial_data\n" + samples)
        # two loops of 1000 invokes: 10 s and 8 s -> 10 ms and 8 ms per inference
        (folder / f"pow_ts_{run}.txt").write_text(
            "label_data\n0 test_start\n1 init_inference_start\n2 init_inference_end\n"
            "10.5 inf_start_batch_1\n20.5 inf_end_batch_1\n21.5 inf_start_batch_2\n29.5 inf_end_batch_2\n"
            "40 test_end\n41 top_1_0.7\n")
    (root / "idle").mkdir()
    for board in tool.IDLE:
        (root / "idle" / f"{board}.txt").write_text("serial_data\n1 0.5 5.0 2.0\n2 0.5 5.0 3.0\n")
    monkeypatch.setattr("sys.argv", ["deepedgebench_power.py", str(tmp_path)])
    tool.main()
    out = capsys.readouterr().out
    assert f"{tool.RUNS[0][1]:22s} 5.00 W  9.00 ms per inference  45.0 mJ (2 loops)" in out
    assert "idle rpi               2.50 W (2 samples)" in out
