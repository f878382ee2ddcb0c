"""Verification workers and the main process run BLAS on one thread while the pool lives (the
processes fill the cores; BLAS threads beside them only oversubscribe), and the main process gets its
own limits back when the pool closes."""

from __future__ import annotations

from threadpoolctl import threadpool_info

from hwsim.pipeline.verification import VerifyPool


def _blas_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def _in_worker(_: object) -> set[int]:
    return _blas_threads()


def test_pool_runs_blas_on_one_thread_and_restores_the_main_process() -> None:
    import numpy as np

    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS loaded
    before = _blas_threads()
    assert before, "no BLAS pool found: the test would prove nothing"
    pool = VerifyPool(1)
    try:
        assert _blas_threads() == {1}
        assert pool._pool is not None
        assert pool._pool.apply(_in_worker, (None,)) == {1}
    finally:
        pool.close()
    assert _blas_threads() == before
