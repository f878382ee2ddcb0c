"""Sweeps: value specs with units, sampling, caching/resume, Dask equality, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwsim.analysis.cache import ResultCache
from hwsim.analysis.sweep import make_points, parse_vary
from hwsim.cli import main
from hwsim.errors import UsageError

ROOT = Path(__file__).resolve().parents[3]
LENET = str(ROOT / "workloads" / "lenet5.json")
DEVICE = "systolic-32x32"
VARY = ["--vary", "clock=200:800:200MHz", "--vary", "memory.dram.bandwidth=2GB/s,8GB/s"]


# --- value specs -----------------------------------------------------------------------------------

def test_list_with_units():
    s = parse_vary("memory.dram.bandwidth=4GB/s, 8 GB/s,16GB/s")
    assert s.key == "memory.dram.bandwidth"
    assert s.values == ("4 GB/s", "8 GB/s", "16 GB/s")
    assert s.numbers == (4.0, 8.0, 16.0) and s.unit == "GB/s" and s.label == "memory.dram.bandwidth (GB/s)"


def test_linear_range_unit_once_or_everywhere():
    a = parse_vary("clock=100:300:50MHz")
    b = parse_vary("clock=100MHz:300MHz:50MHz")
    assert a.values == b.values == ("100 MHz", "150 MHz", "200 MHz", "250 MHz", "300 MHz")
    assert a.numbers == (100.0, 150.0, 200.0, 250.0, 300.0) and a.unit == "MHz"


def test_integer_and_float_ranges():
    assert parse_vary("array.rows=8:32:8").values == ("8", "16", "24", "32")
    assert parse_vary("x=0.5:1.0:0.25").values == ("0.5", "0.75", "1")


def test_log_range():
    s = parse_vary("memory.dram.bandwidth=log:1GB/s:16GB/s:5")
    assert s.log and s.values == ("1 GB/s", "2 GB/s", "4 GB/s", "8 GB/s", "16 GB/s")
    assert parse_vary("array.rows=log:8:128:5").values == ("8", "16", "32", "64", "128")


@pytest.mark.parametrize("item,msg", [
    ("clock=300:100:50MHz", "empty range"),
    ("clock=log:1:10:0", "empty range"),
    ("clock=100:300:0", "step must be positive"),
    ("clock=", "no values"),
    ("clock", "KEY=VALUES"),
    ("clock=1GHz:500MHz:100MHz", "empty range"),
    ("clock=1GHz:2:250MHz", "every bound its unit"),
    ("clock=1GHz:2GB/s:1MHz", "one quantity"),
    ("clock=1e400GHz:2e400GHz:1GHz", "not a finite number"),
    ("clock=1GHz:2GHz:1e-300Hz", "at most"),
    ("clock=a,,b", "empty value"),
    ("clock=log:0:10:3", "lo > 0"),
])
def test_bad_specs(item, msg):
    with pytest.raises(UsageError, match=msg):
        parse_vary(item)


def test_ranges_accept_mixed_prefixes_of_one_quantity():
    s = parse_vary("clock=1GHz:2GHz:250MHz")
    assert s.values == ("1 GHz", "1.25 GHz", "1.5 GHz", "1.75 GHz", "2 GHz") and s.unit == "GHz"
    assert s.numbers == (1.0, 1.25, 1.5, 1.75, 2.0)
    b = parse_vary("memory.dram.bandwidth=log:500MB/s:2GB/s:3")  # decimal prefixes: 2 GB/s = 2000 MB/s
    assert b.values == ("500 MB/s", "1000 MB/s", "2000 MB/s") and b.unit == "MB/s"
    assert parse_vary("memory.l2.size=log:512KiB:2MiB:3").values == ("512 KiB", "1024 KiB", "2048 KiB")
    mixed = parse_vary("clock=1GHz,500MHz")  # a list keeps its spellings, numbers in the first unit
    assert mixed.values == ("1 GHz", "500 MHz") and mixed.numbers == (1.0, 0.5) and mixed.unit == "GHz"


def test_log_range_with_a_unit_is_not_rounded_to_whole_numbers():
    s = parse_vary("memory.dram.bandwidth=log:1GB/s:32GB/s:10")
    assert len(s.values) == 10 and s.values[1] == "1.46973 GB/s" and s.values[-1] == "32 GB/s"


@pytest.mark.parametrize("item", ["clock=log:1GHz:2GHz:1e8", "clock=1Hz:1e12Hz:1Hz", "x=log:1:2:100000000"])
def test_range_size_is_checked_before_the_range_is_built(item):
    import time

    t0 = time.perf_counter()
    with pytest.raises(UsageError, match="at most"):
        parse_vary(item)
    assert time.perf_counter() - t0 < 5.0  # built, 1e8 values would take minutes and gigabytes


def test_bare_numbers_for_a_quantity_key_are_refused(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["sweep", LENET, "--device", DEVICE, "--vary", "clock=1,2", "--scheduler", "serial",
              "-o", str(tmp_path / "out")])
    assert e.value.code == 2
    assert "clock: needs a unit, e.g. 1 GHz" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_grid_and_seeded_samples():
    specs = [parse_vary("a=1,2,3"), parse_vary("b=10:40:10")]
    grid = make_points(specs)
    assert len(grid) == 12 and grid[0].overrides == (("a", "1"), ("b", "10"))
    assert grid[-1].overrides == (("a", "3"), ("b", "40"))
    s1, s2 = make_points(specs, samples=5, seed=7), make_points(specs, samples=5, seed=7)
    assert s1 == s2 and len({p.overrides for p in s1}) == 5
    assert {p.overrides for p in s1} <= {p.overrides for p in grid}
    assert make_points(specs, samples=5, seed=8) != s1
    assert len(make_points(specs, samples=100)) == 12


def test_cache_ignores_a_torn_line(tmp_path):
    path = tmp_path / "c.jsonl"
    with ResultCache(path) as c:
        c.put("k1", {"v": 1})
        c.put("k2", {"v": 2})
    with open(path, "a") as f:
        f.write('{"key": "k3", "val')  # interrupted mid-line
    c = ResultCache(path)
    assert c.get("k1") == {"v": 1} and c.get("k2") == {"v": 2} and "k3" not in c


# --- end to end through the CLI ------------------------------------------------------------------

def _sweep(tmp_path: Path, name: str, *extra: str) -> tuple[int, Path]:
    out = tmp_path / name
    with pytest.raises(SystemExit) as e:
        main(["sweep", LENET, "--device", DEVICE, *VARY, "-o", str(out), "--quiet", *extra])
    return e.value.code, out


def _rows(out: Path):
    import pandas as pd

    return pd.read_parquet(out / "results.parquet")


def test_serial_sweep_writes_csv_parquet_html_and_resumes(tmp_path, capsys):
    code, out = _sweep(tmp_path, "s", "--scheduler", "serial", "--target-latency", "1s")
    assert code == 0
    df = _rows(out)
    assert len(df) == 8 and set(df["status"]) == {"ok"}
    assert (out / "results.csv").read_text().count("\n") == 9
    html = (out / "sweep.html").read_text()
    assert html.count('<svg role="img"') >= 6 and "Cheapest configuration" in html
    # latency falls as the clock rises at a fixed bandwidth
    fixed = df[df["memory.dram.bandwidth"] == "8 GB/s"].sort_values("clock [MHz]")
    assert list(fixed["latency_s"]) == sorted(fixed["latency_s"], reverse=True)
    capsys.readouterr()
    code, out2 = _sweep(tmp_path, "s", "--scheduler", "serial")
    assert code == 0
    assert "0 computed, 8 cached" in capsys.readouterr().out
    assert _rows(out2).equals(df)


def test_dask_local_cluster_gives_identical_results(tmp_path):
    from distributed import LocalCluster

    code, serial = _sweep(tmp_path, "serial", "--scheduler", "serial")
    assert code == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster:
        code, dask = _sweep(tmp_path, "dask", "--scheduler", cluster.scheduler_address)
    assert code == 0
    a, b = _rows(serial), _rows(dask)
    assert a.equals(b)
    assert (serial / "results.csv").read_bytes() == (dask / "results.csv").read_bytes()


@pytest.mark.parametrize("vary,msg", [
    ("memory.dram.bandwith=1GB/s,2GB/s", "unknown key 'bandwith'"),
    ("clock=300:100:50MHz", "empty range"),
    ("clock=-5MHz,100MHz", "--vary clock"),
])
def test_bad_input_exit_2_no_files(tmp_path, capsys, vary, msg):
    out = tmp_path / "bad"
    with pytest.raises(SystemExit) as e:
        main(["sweep", LENET, "--device", DEVICE, "--vary", vary, "-o", str(out), "--quiet"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and err.count("\n") == 1
    assert not out.exists()


def test_unwritable_output_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as e:
        main(["sweep", LENET, "--device", DEVICE, *VARY, "-o", str(blocker / "out"), "--quiet"])
    assert e.value.code == 2
    assert "cannot write" in capsys.readouterr().err
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_log_range_of_counts_is_whole():
    s = parse_vary("fpga.lut=log:20000:200000:4")
    assert s.values == ("20000", "43089", "92832", "200000")


def test_interrupted_sweep_resumes_with_only_the_missing_points(tmp_path, capsys):
    out = tmp_path / "r"
    with pytest.raises(SystemExit):  # a first, partial sweep (as if interrupted after two clocks)
        main(["sweep", LENET, "--device", DEVICE, "--vary", "clock=200MHz,400MHz", "--vary",
              "memory.dram.bandwidth=2 GB/s,8GB/s", "-o", str(out), "--quiet", "--scheduler", "serial"])
    capsys.readouterr()
    code, out2 = _sweep(tmp_path, "r", "--scheduler", "serial")
    assert code == 0
    assert "4 computed, 4 cached" in capsys.readouterr().out
    partial = ResultCache(out / "cache" / "results.jsonl")
    assert len(partial) == 8


def test_a_different_sweep_into_the_same_folder_is_refused(tmp_path, capsys):
    code, out = _sweep(tmp_path, "s", "--scheduler", "serial")
    assert code == 0 and (out / "sweep.json").is_file()
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["sweep", LENET, "--device", "cpu-a53", "--vary", "clock=200MHz,400MHz", "-o", str(out), "--quiet",
              "--scheduler", "serial"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "different sweep" in err and "device" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # nothing mixed in


def test_a_failed_rendering_leaves_no_csv_or_parquet_without_html(tmp_path, monkeypatch, capsys):
    import hwsim.pipeline.sweep as sweep_pipeline

    def broken(run):
        raise RuntimeError("rendering failed (test)")

    monkeypatch.setattr(sweep_pipeline, "render_sweep", broken)
    out = tmp_path / "s"
    with pytest.raises(RuntimeError, match="rendering failed"):
        main(["sweep", LENET, "--device", DEVICE, *VARY, "-o", str(out), "--quiet", "--scheduler", "serial"])
    leftovers = sorted(p.name for p in out.iterdir() if p.is_file()) if out.exists() else []
    assert leftovers == []  # only the resumable point cache (out/cache/) may stay


def test_local_cluster_opens_no_dashboard_port(monkeypatch):
    """LocalCluster(dashboard_address=None) still serves HTTP on 8787 (distributed 2026.8): a local sweep
    asks for no dashboard and a free localhost port."""
    import distributed

    from hwsim.analysis import sweep as sweep_mod

    seen = {}

    class Spy:
        def __init__(self, **kwargs):
            seen.update(kwargs)
            raise RuntimeError("stop here")

    monkeypatch.setattr(distributed, "LocalCluster", Spy)
    with pytest.raises(RuntimeError, match="stop here"):
        sweep_mod._run_dask(None, [], "local", 1, lambda m, rows: None)
    assert seen["dashboard_address"] == "127.0.0.1:0" and seen["scheduler_kwargs"] == {"dashboard": False}
