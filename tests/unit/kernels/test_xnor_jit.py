"""The compiled XNOR-popcount kernels (``hwsim.kernels.jit_bits``): exact mismatch counts against the
+/-1 product in NumPy (several words, tail bits, masks, groups; one and two threads), and the thread
count they run with follows threadpoolctl limits and the usual environment variables (no timing)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from hwsim.kernels.lowbit import pack_rows, xnor_popcount_gemm

from testutils import ROOT


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("masked", [False, True])
def test_gemm_counts_mismatches_exactly(threads, masked):
    rng = np.random.default_rng(3)
    g, p, o, k = 2, 70, 67, 200  # 4 words, the last one 8 bits: tail bits must count nothing
    a = rng.standard_normal((g, p, k)) > 0
    w = rng.standard_normal((g, o, k)) > 0
    m = rng.random((g, p, k)) < 0.8 if masked else np.ones((g, p, k), bool)
    got = xnor_popcount_gemm(pack_rows(a), pack_rows(w), pack_rows(m) if masked else None, threads=threads)
    want = ((a[:, None, :, :] != w[:, :, None, :]) & m[:, None, :, :]).sum(axis=-1)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int32 and got.shape == (g, o, p)


def test_dot_of_pm1_vectors_is_k_minus_twice_the_mismatches():
    rng = np.random.default_rng(4)
    a = np.where(rng.standard_normal((33, 129)) > 0, 1, -1)
    b = np.where(rng.standard_normal((129, 21)) > 0, 1, -1)
    mism = xnor_popcount_gemm(pack_rows(a[None] > 0), pack_rows(b.T[None] > 0))[0]
    np.testing.assert_array_equal(129 - 2 * mism.T, a @ b)


def test_threadpoolctl_limit_sets_the_numba_pool():
    import numba

    rng = np.random.default_rng(5)
    a, w = pack_rows(rng.random((1, 8, 64)) > 0.5), pack_rows(rng.random((1, 8, 64)) > 0.5)
    with threadpool_limits(limits=1, user_api="blas"):
        xnor_popcount_gemm(a, w)
        assert numba.get_num_threads() == 1


@pytest.mark.parametrize("var", ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"])
def test_environment_sets_the_numba_pool(var):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    env.update({var: "1", "PYTHONPATH": str(ROOT)})
    code = ("import numpy as np, numba; from hwsim.kernels.lowbit import pack_rows, xnor_popcount_gemm, pool_threads; "
            "a = pack_rows(np.ones((1, 4, 64), bool)); xnor_popcount_gemm(a, a); "
            "print(pool_threads(), numba.get_num_threads())")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.stdout.split() == ["1", "1"], (var, r.stderr)
