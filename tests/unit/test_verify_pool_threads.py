"""A verification job runs BLAS on one thread (the worker processes fill the cores; BLAS threads
beside them only oversubscribe), in a worker and in-process alike, so results do not depend on the
number of workers; the caller's limits are back afterwards."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info

import hwsim.pipeline.verification as verification


def _blas_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_a_verification_job_runs_blas_on_one_thread(monkeypatch) -> None:
    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS loaded
    before = _blas_threads()
    assert before, "no BLAS pool found: the test would prove nothing"
    seen: list[set[int]] = []
    monkeypatch.setattr(verification, "verify_method", lambda *a, **k: seen.append(_blas_threads()))
    verification.verify_job(None, None, verification.VerifyConfig(), strict=True)  # type: ignore[arg-type]
    assert seen == [{1}]
    assert _blas_threads() == before


def test_pool_workers_warm_different_kernel_groups(monkeypatch) -> None:
    """On a cold numba cache the two workers compile the packed GEMM and the dense loops side by side,
    not both of them each: worker i takes group i (mod 2)."""
    import multiprocessing as mp

    from hwsim.kernels import jit_dense, jit_gemm

    calls: list[str] = []
    monkeypatch.setattr(jit_gemm, "warm_up", lambda: calls.append("gemm"))
    monkeypatch.setattr(jit_dense, "warm_up", lambda: calls.append("dense"))
    counter = mp.get_context().Value("i", 0)
    for _ in range(3):
        verification._warm_one_kernel_group(counter)
    assert calls == ["gemm", "dense", "gemm"] and counter.value == 3
