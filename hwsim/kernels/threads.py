"""How many threads the compiled (numba) kernels may use: the same limits the BLAS pool follows."""

from __future__ import annotations

import os
from typing import Any

#: most threads the compiled kernels use
MAX_THREADS = 4
_CONTROLLER: Any = None


def _env_threads() -> int | None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        v = os.environ.get(var, "").strip()
        if v.isdigit() and int(v) > 0:
            return int(v)
    return None


def pool_threads() -> int:
    """Threads for the compiled (numba) kernels: what the BLAS pool may use right now (OMP_NUM_THREADS /
    OPENBLAS_NUM_THREADS / MKL_NUM_THREADS at start-up, ``threadpoolctl.threadpool_limits`` at run
    time, both read through threadpoolctl), NUMBA_NUM_THREADS, at most ``MAX_THREADS`` and the CPUs
    this process may use."""
    global _CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    blas = [lib["num_threads"] for lib in _CONTROLLER.info() if lib.get("user_api") == "blas"]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limits = [MAX_THREADS, cpus, *blas]
    numba_env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if numba_env.isdigit() and int(numba_env) > 0:
        limits.append(int(numba_env))
    if not blas:
        env = _env_threads()
        if env is not None:
            limits.append(env)
    return max(1, min(limits))


def set_numba_threads(threads: int | None = None) -> int:
    """Point numba's pool at ``threads`` (default ``pool_threads()``), at most its size
    (NUMBA_NUM_THREADS); returns the count set. Imports numba: call it from compiled-kernel paths only."""
    import numba

    n = max(1, min(pool_threads() if threads is None else int(threads), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n
