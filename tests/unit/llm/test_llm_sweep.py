"""``hwsim sweep CONFIG.yaml --vary context=...``: one row per (method, point); tokens/s falls and the
cache grows with the context; device keys combine with generation keys; bad values exit 2."""

from __future__ import annotations

import pandas as pd
import pytest

from hwsim.cli import main

from testutils import ROOT

TINY = str(ROOT / "workloads" / "llm" / "tiny-random.yaml")


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_context_sweep_writes_rows(tmp_path, capsys):
    code, out, _ = _run(["sweep", TINY, "--device", "cpu-a53", "--vary", "context=16,64,200",
                         "--vary", "memory.dram.bandwidth=2GB/s,4GB/s", "--methods", "baseline,kv-int8",
                         "-o", str(tmp_path), "--scheduler", "serial"], capsys)
    assert code == 0
    df = pd.read_csv(tmp_path / "results.csv")
    assert len(df) == 2 * 3 * 2 and set(df["method"]) == {"baseline", "kv-int8"}
    slow = sorted(df["memory.dram.bandwidth"].unique())[0]  # as the loader canonicalizes it ("2 GB/s")
    assert slow.startswith("2")
    base = df[(df["method"] == "baseline") & (df["memory.dram.bandwidth"] == slow)].sort_values("context")
    assert list(base["context"]) == [16, 64, 200]
    assert base["decode_tokens_per_s"].is_monotonic_decreasing and base["kv_cache_bytes"].is_monotonic_increasing
    kv8 = df[(df["method"] == "kv-int8") & (df["memory.dram.bandwidth"] == slow)].sort_values("context")
    assert (kv8["kv_cache_bytes"].to_numpy() < base["kv_cache_bytes"].to_numpy()).all()


@pytest.mark.parametrize("vary, needle", [("context=0", "positive whole token counts"),
                                          ("context=300", "exceeds")])
def test_bad_context_values(tmp_path, capsys, vary, needle):
    code, _, err = _run(["sweep", TINY, "--device", "cpu-a53", "--vary", vary, "-o", str(tmp_path)], capsys)
    assert code == 2 and needle in err and "Traceback" not in err


def _sweep_args(out):
    return ["sweep", TINY, "--device", "cpu-a53", "--vary", "context=16,64", "--vary", "clock=1GHz,2GHz",
            "--methods", "baseline,llm-mlp-prune-30", "-o", str(out), "--scheduler", "serial", "--quiet"]


def test_an_interrupted_context_sweep_resumes_with_only_the_missing_points(tmp_path, capsys, monkeypatch):
    """Killed after three of the eight (method, point) evaluations: the cache holds those three, no
    output was written; the rerun computes the other five and gives the clean run's results."""
    import hwsim.analysis.llm_sweep as llm_sweep
    from hwsim.analysis.cache import ResultCache

    real, calls = llm_sweep.generate, []

    def killed_after_three(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt  # as a kill would stop it, between two points
        calls.append(args)
        return real(*args, **kwargs)

    out = tmp_path / "resumed"
    monkeypatch.setattr(llm_sweep, "generate", killed_after_three)
    with pytest.raises((KeyboardInterrupt, SystemExit)):
        main(_sweep_args(out))
    monkeypatch.setattr(llm_sweep, "generate", real)
    assert len(ResultCache(out / "cache" / "results.jsonl")) == 3
    assert not (out / "results.csv").exists()
    capsys.readouterr()
    code, text, _ = _run(_sweep_args(out), capsys)
    assert code == 0 and "5 computed, 3 cached" in text
    code, _, _ = _run(_sweep_args(tmp_path / "clean"), capsys)
    assert code == 0
    assert (out / "results.csv").read_bytes() == (tmp_path / "clean" / "results.csv").read_bytes()
    code, text, _ = _run(_sweep_args(out), capsys)  # everything cached now
    assert code == 0 and "0 computed, 8 cached" in text


def test_generation_job_survives_pickling_for_dask_workers():
    import pickle

    from hwsim.analysis.llm_sweep import GenerationJob, evaluate_generation_chunk
    from hwsim.compress.catalogue import get_method
    from hwsim.frontends.llm_config import load_llm_config
    from hwsim.hardware import load_device

    job = GenerationJob(load_llm_config(TINY), get_method("kv-int8"), TINY)
    dev = load_device("cpu-a53")
    args = ("kv-int8", dev.name, dev.source, dict(dev.raw), {}, [(0, (("context", "32"),))], "analytic", 1)
    a = evaluate_generation_chunk(job, *args)
    b = evaluate_generation_chunk(pickle.loads(pickle.dumps(job)), *args)
    assert a == b and a[0]["status"] == "ok" and a[0]["kv_cache_bytes"] > 0
