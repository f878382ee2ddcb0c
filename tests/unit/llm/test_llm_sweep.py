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
                         "-o", str(tmp_path)], capsys)
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
