"""The exact integer GEMM on float32 BLAS equals integer arithmetic bit for bit, including K long
enough to need several exact slices and sums that need int64."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.kernels.intgemm import FP32_EXACT, exact_slice, int_matmul


def _ref(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.matmul(w.astype(np.int64), x.astype(np.int64))


@pytest.mark.parametrize("k", [7, 518, 519, 4608])
def test_int8_products_exact_over_slices(k: int) -> None:
    rng = np.random.default_rng(k)
    w = rng.integers(-127, 128, size=(1, 9, k)).astype(np.float32)
    x = rng.integers(0, 256, size=(1, k, 13)).astype(np.float32)  # (x_q - z), asymmetric: 0..255
    w[0, 0] = 127  # the worst case in one row: every partial sum at its largest
    x[0, :, 0] = 255
    got = int_matmul(w, x, 255)
    assert got.dtype == np.int32 and np.array_equal(got, _ref(w, x))
    assert k * 127 * 255 <= FP32_EXACT or exact_slice(127, 255) < k  # the long ones really are sliced


def test_plain_float32_gemm_would_not_be_exact() -> None:
    # the reason for slicing: one float32 GEMM of the same worst case rounds
    k = 4608
    w = np.full((1, 1, k), 127, np.float32)
    x = np.full((1, k, 1), 255, np.float32)
    x[0, ::2, 0] = 253
    assert int(_ref(w, x)[0, 0, 0]) > FP32_EXACT
    assert np.array_equal(int_matmul(w, x, 255), _ref(w, x))


def test_groups_and_int64_accumulation() -> None:
    rng = np.random.default_rng(1)
    w = rng.integers(-32768, 32768, size=(3, 4, 300)).astype(np.int64)
    x = rng.integers(-32768, 32768, size=(3, 300, 5)).astype(np.int64)
    got = int_matmul(w, x, 32768)
    assert got.dtype == np.int64 and np.array_equal(got, _ref(w, x))


def test_small_row_norms_take_one_gemm_and_stay_exact() -> None:
    """Rows whose L1 norm times max|x| stays <= 2^24 are exact in one float32 GEMM whatever K is; the
    float32 result equals the integers converted."""
    rng = np.random.default_rng(3)
    k = 4608
    w = rng.integers(-3, 4, size=(1, 6, k)).astype(np.float32)  # L1 <= 3 * 4608; x <= 255: < 2^24
    x = rng.integers(-255, 256, size=(1, k, 7)).astype(np.float32)
    assert np.abs(w).sum(axis=-1).max() * 255 <= FP32_EXACT < k * 127 * 255
    got = int_matmul(w, x, 255)
    assert got.dtype == np.int32 and np.array_equal(got, _ref(w, x))
    f = int_matmul(w, x, 255, as_float32=True)
    assert f.dtype == np.float32 and np.array_equal(f, _ref(w, x).astype(np.float32))
