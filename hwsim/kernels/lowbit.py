"""Binary and ternary weight products.

* ``binary`` weights with binary activations (XNOR-Net, BNN): activations and weights are packed into
  uint64 words along the reduction axis, and a dot product of +/-1 vectors is K - 2 popcount(a XOR w)
  (``np.bitwise_count``). Zero padding of a conv is not +/-1: a validity mask word removes padded
  taps, dot = valid - 2 popcount((a XOR w) AND mask). Integer results, scaled per output channel:
  bit-exact against the sequential reference on the decoded signs.
* ``binary`` weights with real activations (BinaryConnect): each weight only decides add or subtract:
  a CSR of +/-1 entries, accumulated in reference order: bit-exact.
* ``ternary`` weights (TWN): add, subtract or skip: a CSR of the non-zero +/-1 entries only, then the
  scale: bit-exact.

``xnor_popcount_gemm`` is the bare XNOR-popcount GEMM (also what ``bench/bench_kernels.py`` times).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp

from hwsim.errors import VerificationError
from hwsim.kernels.huffman import stream_ints
from hwsim.kernels.products import prepared, reference_product, run_product, weight_matrix_shape
from hwsim.kernels.registry import KernelCall, register_kernel

def is_binary_payload(value: Any) -> bool:
    """``hwsim.compress.lowbit_payloads.BinaryPayload`` by its contract (kernels may not import compress):
    ``format == "binary"``, a ``codes`` integer stream of 1-bit codes (1 = +1, 0 = -1), ``scales``."""
    return getattr(value, "format", None) == "binary" and hasattr(value, "codes") and hasattr(value, "scales")


def is_ternary_payload(value: Any) -> bool:
    """``TernaryPayload``: ``format == "ternary"``, 2-bit codes 0 = 0, 1 = +1, 3 = -1, ``scales``."""
    return getattr(value, "format", None) == "ternary" and hasattr(value, "codes") and hasattr(value, "scales")


def lowbit_values(payload: Any) -> np.ndarray:
    """+/-1 (binary) or -1/0/+1 (ternary) int8 values from the code stream, tensor-shaped."""
    c = stream_ints(payload.codes)
    if payload.format == "binary":
        v = c * 2 - 1
    else:
        v = np.where(c == 1, 1, np.where(c == 3, -1, 0))
    return v.astype(np.int8).reshape(payload.shape)


def lowbit_payload(call: KernelCall, check: Callable[[Any], bool], form: str) -> Any:
    value = call.weight("weight")
    if not check(value):
        raise VerificationError(
            f"weight {call.node.params.get('weight')!r} is annotated {form!r} but stores a {type(value).__name__}, "
            f"not a bit-packed payload: run compression passes on materialized weights (graph.materialize()) "
            f"before a functional run", where=f"node {call.node.name!r}")
    return value


#: elements of one XOR/popcount tile (groups x out rows x positions): sized to stay in L2
TILE_ELEMENTS = 1 << 16
#: most threads the XNOR tile pool uses
MAX_THREADS = 4
_CONTROLLER: Any = None


def pool_threads() -> int:
    """Threads for the XNOR tile pool: what the BLAS pool may use right now (OMP_NUM_THREADS /
    OPENBLAS_NUM_THREADS / MKL_NUM_THREADS at start-up, ``threadpoolctl.threadpool_limits`` at run
    time, both read through threadpoolctl), at most ``MAX_THREADS`` and the CPUs this process may use."""
    global _CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    blas = [lib["num_threads"] for lib in _CONTROLLER.info() if lib.get("user_api") == "blas"]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if blas:
        return max(1, min(MAX_THREADS, cpus, *blas))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        v = os.environ.get(var, "").strip()
        if v.isdigit() and int(v) > 0:
            return max(1, min(MAX_THREADS, cpus, int(v)))
    return max(1, min(MAX_THREADS, cpus))


def pack_rows(bits: np.ndarray) -> np.ndarray:
    """0/1 array [..., K] -> uint64 words [..., ceil(K / 64)] (zero-padded tail bits)."""
    packed = np.packbits(bits.astype(np.uint8, copy=False), axis=-1)
    pad = (-packed.shape[-1]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros(packed.shape[:-1] + (pad,), np.uint8)], axis=-1)
    return np.ascontiguousarray(packed).view(np.uint64)


def xnor_popcount_gemm(a: np.ndarray, w: np.ndarray, mask: np.ndarray | None = None,
                       threads: int | None = None) -> np.ndarray:
    """Mismatch counts popcount((a XOR w) [AND mask]) summed over words.

    a: [G, P, W] uint64 (activations per output position), w: [G, O, W] uint64 (weights per output
    channel), mask: [G, P, W] or None. Returns [G, O, P] int32. Tiles over (O, P); the loop inside a
    tile runs over the W words, each step one vectorized XOR / AND / popcount / add of the tile."""
    g, p, nw = a.shape
    o = w.shape[1]
    out = np.zeros((g, o, p), np.int32)
    at = np.ascontiguousarray(a.transpose(2, 0, 1))  # W, G, P
    wt = np.ascontiguousarray(w.transpose(2, 0, 1))  # W, G, O
    mt = None if mask is None else np.ascontiguousarray(mask.transpose(2, 0, 1))
    acc_dtype = np.uint16 if nw * 64 < 65536 else np.uint32
    ot = max(1, min(o, 64))
    pt = max(1, min(p, TILE_ELEMENTS // max(1, g * ot)))
    tiles = [(o0, min(o0 + ot, o), p0, min(p0 + pt, p)) for o0 in range(0, o, ot) for p0 in range(0, p, pt)]

    def run(tile: tuple[int, int, int, int]) -> None:
        o0, o1, p0, p1 = tile
        shape = (g, o1 - o0, p1 - p0)
        x = np.empty(shape, np.uint64)
        cnt = np.empty(shape, np.uint8)
        acc = np.zeros(shape, acc_dtype)
        for k in range(nw):
            np.bitwise_xor(wt[k, :, o0:o1, None], at[k, :, None, p0:p1], out=x)
            if mt is not None:
                np.bitwise_and(x, mt[k, :, None, p0:p1], out=x)
            np.bitwise_count(x, out=cnt)
            acc += cnt
        out[:, o0:o1, p0:p1] = acc

    if threads is None:
        threads = pool_threads()
    if threads > 1 and len(tiles) > 1:
        with ThreadPoolExecutor(threads) as ex:  # NumPy releases the GIL inside ufuncs
            list(ex.map(run, tiles))
    else:
        for tile in tiles:
            run(tile)
    return out


def _check_pm1(x: np.ndarray, call: KernelCall) -> None:
    if not np.all(np.abs(x) == 1):
        raise VerificationError(f"input {call.node.inputs[0]!r} is annotated binary but holds values other than "
                                f"+1/-1", where=f"node {call.node.name!r}")


def _weight_words(payload: Any, groups: int, o: int, k: int) -> np.ndarray:
    bits = stream_ints(payload.codes).reshape(groups, o // groups, k)  # 1 = +1, 0 = -1
    return pack_rows(bits)


def xnor_product(call: KernelCall, payload: Any) -> tuple[np.ndarray, ...]:
    groups, o, k = weight_matrix_shape(call)
    _check_pm1(call.inputs[0], call)
    ww = prepared(payload, f"xnor/{groups}", lambda: _weight_words(payload, groups, o, k))

    def fn(cols: np.ndarray) -> np.ndarray:  # cols [G, K, P] in {-1, 0 (padding), +1}
        act = pack_rows((cols > 0).transpose(0, 2, 1))
        padded = call.node.op == "conv2d" and any(call.attrs["padding"])
        if not padded:
            mism = xnor_popcount_gemm(act, ww)
            return (k - 2 * mism).reshape(o, -1).astype(np.float32)
        mask = pack_rows((cols != 0).transpose(0, 2, 1))
        valid = np.bitwise_count(mask).sum(axis=-1, dtype=np.int32)  # [G, P]
        mism = xnor_popcount_gemm(act, ww, mask)
        return (valid[:, None, :] - 2 * mism).reshape(o, -1).astype(np.float32)

    return run_product(call, fn, payload.scales)


def signed_csr(values: np.ndarray, groups: int, o: int, k: int) -> sp.csr_matrix:
    """+/-1 (and 0 = skip) weights [O, K] as a block-diagonal CSR [O, G*K] of the non-zeros."""
    v = values.reshape(o, k)
    rows, cols = np.nonzero(v)
    data = v[rows, cols].astype(np.float32)
    cols = cols + (rows // (o // groups)) * k
    indptr = np.zeros(o + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=o), out=indptr[1:])
    return sp.csr_matrix((data, cols, indptr), shape=(o, groups * k))


def accumulate_product(call: KernelCall, payload: Any) -> tuple[np.ndarray, ...]:
    groups, o, k = weight_matrix_shape(call)
    m = prepared(payload, f"signed_csr/{groups}", lambda: signed_csr(lowbit_values(payload), groups, o, k))
    return run_product(call, lambda cols: m @ cols.reshape(groups * k, -1), payload.scales)


def lowbit_reference(call: KernelCall) -> tuple[np.ndarray, ...]:
    payload = call.weight("weight")
    return reference_product(call, lowbit_values(payload).astype(np.float32), payload.scales)


@register_kernel("linear", "binary", "exact", reference=lowbit_reference, tags=("binary",))
@register_kernel("conv2d", "binary", "exact", reference=lowbit_reference, tags=("binary",))
def binary_kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Binary weights: XNOR-popcount on packed words when the input is binary, else add/subtract."""
    payload = lowbit_payload(call, is_binary_payload, "binary")
    if call.in_specs[0].dtype.kind == "binary":
        return xnor_product(call, payload)
    return accumulate_product(call, payload)


@register_kernel("linear", "ternary", "exact", reference=lowbit_reference, tags=("ternary",))
@register_kernel("conv2d", "ternary", "exact", reference=lowbit_reference, tags=("ternary",))
def ternary_kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Ternary weights: add (+1), subtract (-1) or skip (0) each input, then the scale."""
    return accumulate_product(call, lowbit_payload(call, is_ternary_payload, "ternary"))


