"""Exact integer GEMM on float32 BLAS: integer operands, int32 (or int64) accumulation.

NumPy has no int8 BLAS, and its integer ``matmul`` is a plain loop (tens of times slower than BLAS).
A float32 GEMM is exact on integers as long as every product and every partial sum, in whatever order
BLAS adds them (blocking, FMA), stays an integer of magnitude <= 2^24 (float32's 24-bit significand):
that holds whenever ``k * max|w| * max|x| <= 2^24``. With int8 operands (|w| <= 127, |x - z| <= 255)
that is K <= 518 at once; longer reductions are cut into slices of K that each satisfy the bound, every
slice is one exact float32 GEMM, and the slices are summed in int32 (int64 when the whole sum could
pass 2^31). Products wider than 2^24 fall back to float64 BLAS (exact below 2^53).
"""

from __future__ import annotations

import numpy as np

#: Largest integer magnitude below which float32 represents every integer exactly.
FP32_EXACT = 2**24
FP64_EXACT = 2**53


def _matmul(w: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return (w[0] @ cols[0])[None] if w.shape[0] == 1 else np.matmul(w, cols)


def exact_slice(w_bound: float, x_bound: float) -> int:
    """Longest K slice whose float32 GEMM is exact for |w| <= w_bound, |x| <= x_bound (0: none is)."""
    per = float(w_bound) * float(x_bound)
    return int(FP32_EXACT // per) if per > 0 else 1 << 62


def int_matmul(w: np.ndarray, cols: np.ndarray, x_bound: float) -> np.ndarray:
    """Exact ``[G, O, K] @ [G, K, P]`` of integer-valued arrays (any int or float dtype holding integers;
    ``|cols| <= x_bound``) -> ``[G, O, P]`` int32, or int64 when ``K * max|w| * x_bound >= 2^31``."""
    k = w.shape[-1]
    w_bound = max(float(w.max()), -float(w.min())) if w.size else 0.0  # max |w| without an |w| copy
    whole = k * w_bound * float(x_bound)
    acc_dtype = np.int32 if whole < 2**31 else np.int64
    if whole <= FP32_EXACT:  # one float32 GEMM is exact
        return _matmul(w.astype(np.float32, copy=False), cols.astype(np.float32, copy=False)).astype(acc_dtype)
    kc = exact_slice(w_bound, x_bound)
    if kc < 1 or whole >= FP64_EXACT:
        if whole >= FP64_EXACT:
            raise ValueError(f"integer GEMM too wide to be exact in float64 (K={k}, |w|<={w_bound}, |x|<={x_bound})")
        return _matmul(w.astype(np.float64), cols.astype(np.float64)).astype(acc_dtype)
    w32 = w.astype(np.float32, copy=False)
    c32 = cols.astype(np.float32, copy=False)
    acc: np.ndarray | None = None
    for k0 in range(0, k, kc):
        part = _matmul(np.ascontiguousarray(w32[..., k0:k0 + kc]), c32[:, k0:k0 + kc, :]).astype(acc_dtype)
        if acc is None:
            acc = part
        else:
            acc += part
    assert acc is not None
    return acc
