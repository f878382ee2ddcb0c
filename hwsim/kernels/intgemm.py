"""Exact integer GEMM on float32 BLAS: integer operands, int32 (or int64) accumulation.

NumPy has no int8 BLAS, and its integer ``matmul`` is a plain loop (tens of times slower than BLAS).
A float32 GEMM is exact on integers as long as every product and every partial sum, in whatever order
BLAS adds them (blocking, FMA), stays an integer of magnitude <= 2^24 (float32's 24-bit significand):
that holds whenever ``k * max|w| * max|x| <= 2^24``. With int8 operands (|w| <= 127, |x - z| <= 255)
that is K <= 518 at once; longer reductions are cut into slices of K that each satisfy the bound, every
slice is one exact float32 GEMM, and the slices are summed in int32 (int64 when the whole sum could
pass 2^31). Products wider than 2^24 fall back to float64 BLAS (exact below 2^53).

The bound that decides is the tightest one that holds in *any* summation order: every partial sum
of output row o over a slice S of K is at most sum_{k in S} |w[o, k]| * max|x| (the row's L1 norm over
the slice times the activation bound). ``slice_plan`` finds the fewest equal slices of K that satisfy
it for every row (real int8 layers, whose L1 norms are far below K * 127, need one to three GEMMs, not
K/518), once per weight (the kernels keep it with the decoded codes).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class SlicePlan:
    """How ``int_matmul`` splits K: slice boundaries (empty: even one column is too wide for float32,
    use float64) and the integer accumulator."""

    edges: tuple[int, ...]  # 0 = e0 < e1 < ... = K
    acc_dtype: type


def slice_plan(w: np.ndarray, x_bound: float) -> SlicePlan:
    """The fewest equal slices of K in which every row's L1 norm times ``x_bound`` is <= 2^24."""
    k = w.shape[-1]
    a = np.abs(np.asarray(w, np.float64)).reshape(-1, k) if w.size else np.zeros((1, max(k, 1)))
    total = float(a.sum(axis=1).max()) * float(x_bound)
    if total >= FP64_EXACT:
        raise ValueError(f"integer GEMM too wide to be exact in float64 (K={k}, |x|<={x_bound})")
    acc = np.int32 if total < 2**31 else np.int64
    if k == 0 or float(a.max()) * float(x_bound) > FP32_EXACT:
        return SlicePlan((), acc)
    for n in range(1, k + 1):
        kc = -(-k // n)
        starts = np.arange(0, k, kc)
        if float(np.add.reduceat(a, starts, axis=1).max()) * float(x_bound) <= FP32_EXACT:
            return SlicePlan((*(int(s) for s in starts), k), acc)
    return SlicePlan((), acc)  # not reached: single columns fit (checked above)


def int_matmul(w: np.ndarray, cols: np.ndarray, x_bound: float, as_float32: bool = False,
               plan: SlicePlan | None = None) -> np.ndarray:
    """Exact ``[G, O, K] @ [G, K, P]`` of integer-valued arrays (any int or float dtype holding integers;
    ``|cols| <= x_bound``) -> ``[G, O, P]`` int32, or int64 when a sum could reach 2^31. With
    ``as_float32`` the sums come back as float32 (what ``.astype(np.float32)`` of the integers gives:
    a single exact GEMM's output is returned as it is). ``plan``: ``slice_plan(w, b)`` for any b >= x_bound."""
    plan = plan or slice_plan(w, x_bound)
    if not plan.edges:
        acc = _matmul(w.astype(np.float64), cols.astype(np.float64)).astype(plan.acc_dtype)
        return acc.astype(np.float32) if as_float32 else acc
    w32 = w.astype(np.float32, copy=False)
    c32 = cols.astype(np.float32, copy=False)
    if len(plan.edges) == 2:  # one float32 GEMM is exact
        out = _matmul(w32, c32)
        return out if as_float32 else out.astype(plan.acc_dtype)
    acc: np.ndarray | None = None
    for k0, k1 in zip(plan.edges[:-1], plan.edges[1:]):
        part = _matmul(np.ascontiguousarray(w32[..., k0:k1]), c32[:, k0:k1, :]).astype(plan.acc_dtype)
        if acc is None:
            acc = part
        else:
            acc += part
    assert acc is not None
    return acc.astype(np.float32) if as_float32 else acc
