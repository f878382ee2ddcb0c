"""tools/qutibench_power.py selects the rows of hwsim's FPGA energy records from QuTiBench's CSV (checked on a
synthetic checkout: the real one is not downloaded by tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "qutibench_power.py"
HEADER = ("NN_Topology,HWType,Datatype,Op mode,batch/thread/stream,lat-sys,lat-comp,fps-system,fps-comp,tp-system,"
          "tp-comp,top1,top5 [%],Base_Pwr_W,Idle_Pwr_W,Full_Pwr_W,GOPS,PruningFactor, level\n")


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("qutibench_power", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(net: str, hw: str, threads: int, lat: float, idle: str, full: float, pruning: float) -> str:
    return f"{net},{hw},INT8,,{threads},{lat},1,1,1,0,0,70,90,2.5,{idle},{full},1,{pruning},l3\n"


def _checkout(tmp_path: Path, rows: str) -> Path:
    csv = tmp_path / "_notebooks/data/cleaned_csv/experimental_data_imagenet.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text(HEADER + rows)
    return tmp_path


def test_only_one_thread_unpruned_dpu_rows_of_known_networks_are_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    tool = _tool()
    rows = (_row("ResNet-50", "Ultra96-DPU", 1, 40.0, "6.8", 8.0, 100.0)
            + _row("ResNet-50", "Ultra96-DPU", 2, 70.0, "6.8", 8.2, 100.0)       # two threads: left out
            + _row("ResNet-50", "Ultra96-DPU", 1, 20.0, "6.8", 8.1, 30.0)        # pruned: left out
            + _row("GoogLeNetv1", "Ultra96-DPU", 1, 19.0, "6.8", 8.0, 100.0)     # no hwsim model: left out
            + _row("MobileNetv1", "EdgeTPU-fast", 1, 6.0, "0.25", 0.5, 100.0)    # not a DPU board: left out
            + _row("ResNet-50", "ZCU104-DPU", 1, 18.0, "", 21.0, 100.0)          # idle blank on this row
            + _row("MobileNetv1", "ZCU104-DPU", 1, 9.0, "15.72", 17.6, 100.0))
    monkeypatch.setattr("sys.argv", ["qutibench_power.py", str(_checkout(tmp_path, rows))])
    tool.main()
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "idle Ultra96-DPU  6.8 W  (profile ultra96)",
        "idle ZCU104-DPU   15.72 W  (profile zcu104)",
        "Ultra96-DPU  ResNet-50    8 W x 40 ms = 320.0 mJ  (profile ultra96, model resnet50)",
        "ZCU104-DPU   ResNet-50    21 W x 18 ms = 378.0 mJ  (profile zcu104, model resnet50)",
        "ZCU104-DPU   MobileNetv1  17.6 W x 9 ms = 158.4 mJ  (profile zcu104, model mobilenet_v1)",
    ]


def test_a_board_whose_rows_disagree_on_idle_is_refused(tmp_path: Path) -> None:
    tool = _tool()
    path = _checkout(tmp_path, _row("ResNet-50", "ZCU102-DPU", 1, 18.0, "29.0", 31.8, 100.0)
                     + _row("ResNet-50", "ZCU102-DPU", 2, 19.0, "28.0", 34.4, 100.0))
    with pytest.raises(SystemExit, match="ZCU102-DPU: Idle_Pwr_W differs"):
        tool.board_idle(tool._rows(path / tool.CSV))
