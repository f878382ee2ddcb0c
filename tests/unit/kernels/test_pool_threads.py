"""The XNOR tile pool follows the BLAS thread settings: threadpoolctl limits at run time and
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS given at start-up."""

from __future__ import annotations

import os
import subprocess
import sys

from threadpoolctl import threadpool_limits

from hwsim.kernels.lowbit import MAX_THREADS, pool_threads

from testutils import ROOT


def test_runtime_limit_is_followed() -> None:
    with threadpool_limits(limits=1, user_api="blas"):
        assert pool_threads() == 1
    assert 1 <= pool_threads() <= MAX_THREADS


def test_environment_is_followed() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                                 "MKL_NUM_THREADS")}
        env.update({var: "1", "PYTHONPATH": str(ROOT)})
        r = subprocess.run([sys.executable, "-c", "import numpy; from hwsim.kernels.lowbit import pool_threads; "
                            "print(pool_threads())"], env=env, capture_output=True, text=True, timeout=120)
        assert r.stdout.strip() == "1", (var, r.stderr)
