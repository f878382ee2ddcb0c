"""Binary and ternary weight products.

* ``binary`` weights with binary activations (XNOR-Net, BNN): activations and weights are packed into
  uint64 words along the reduction axis, and a dot product of +/-1 vectors is K - 2 popcount(a XOR w),
  compiled with numba (``hwsim.kernels.jit_bits``). A conv packs its input once along channels per
  pixel and runs directly over the taps (no im2col); taps in the zero padding are skipped, so
  dot = valid taps x Cg - 2 popcount over them. Integer results, scaled per output channel:
  bit-exact against the sequential reference on the decoded signs.
* ``binary`` weights with real activations (BinaryConnect): each weight only decides add or subtract:
  a CSR of +/-1 entries, accumulated in reference order: bit-exact.
* ``ternary`` weights (TWN): add, subtract or skip: a CSR of the non-zero +/-1 entries only, then the
  scale: bit-exact.

``xnor_popcount_gemm`` is the bare XNOR-popcount GEMM (also what ``bench/bench_kernels.py`` times).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from hwsim.errors import VerificationError
from hwsim.kernels.huffman import stream_ints
from hwsim.kernels.conv_common import ConvGeometry
from hwsim.kernels.products import (finish_product, prepared, reference_product, run_product,
                                   weight_matrix_shape)
from hwsim.kernels.registry import KernelCall, register_kernel
from hwsim.kernels.threads import MAX_THREADS, pool_threads, set_numba_threads  # noqa: F401  (re-exported)

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


def pack_rows(bits: np.ndarray) -> np.ndarray:
    """0/1 array [..., K] -> uint64 words [..., ceil(K / 64)] (zero-padded tail bits)."""
    packed = np.packbits(bits.astype(np.uint8, copy=False), axis=-1, bitorder="little")
    pad = (-packed.shape[-1]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros(packed.shape[:-1] + (pad,), np.uint8)], axis=-1)
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


def _jit() -> Any:
    from hwsim.kernels import jit_bits  # numba: imported on the first binary product only

    return jit_bits


def xnor_popcount_gemm(a: np.ndarray, w: np.ndarray, mask: np.ndarray | None = None,
                       threads: int | None = None) -> np.ndarray:
    """Mismatch counts popcount((a XOR w) [AND mask]) summed over words (compiled: ``jit_bits``).

    a: [G, P, W] uint64 (activations per output position), w: [G, O, W] uint64 (weights per output
    channel), mask: [G, P, W] or None. Returns [G, O, P] int32. ``threads``: default ``pool_threads()``."""
    j = _jit()
    a = np.ascontiguousarray(a, np.uint64)
    w = np.ascontiguousarray(w, np.uint64)
    out = np.empty((a.shape[0], w.shape[1], a.shape[1]), np.int32)
    n = set_numba_threads(threads)
    if mask is None:
        (j.mismatch_parallel if n > 1 else j.mismatch_serial)(a, w, out)
    else:
        m = np.ascontiguousarray(mask, np.uint64)
        (j.mismatch_masked_parallel if n > 1 else j.mismatch_masked_serial)(a, w, m, out)
    return out


def _not_pm1(call: KernelCall) -> VerificationError:
    return VerificationError(f"input {call.node.inputs[0]!r} is annotated binary but holds values other than "
                             f"+1/-1", where=f"node {call.node.name!r}")


def _linear_words(payload: Any, o: int, k: int) -> np.ndarray:
    return pack_rows(stream_ints(payload.codes).reshape(1, o, k))  # 1 = +1, 0 = -1


def _conv_words(payload: Any, groups: int, o: int, cg: int, kh: int, kw: int) -> np.ndarray:
    """Weights [O, Cg, kh, kw] as words [G, kh, kw, Cw, Og]: per tap, the channels of each output row."""
    bits = stream_ints(payload.codes).reshape(groups, o // groups, cg, kh, kw)
    words = pack_rows(bits.transpose(0, 3, 4, 1, 2))  # G, kh, kw, Og, Cw
    return np.ascontiguousarray(words.transpose(0, 1, 2, 4, 3))


def xnor_product(call: KernelCall, payload: Any) -> tuple[np.ndarray, ...]:
    """+/-1 activations x +/-1 weights, both bit-packed: exact integer dot products, then the scales."""
    j = _jit()
    groups, o, k = weight_matrix_shape(call)
    x = np.ascontiguousarray(call.inputs[0], np.float32)
    if np.count_nonzero(np.abs(x) != 1):
        raise _not_pm1(call)
    threads = set_numba_threads()
    if call.node.op == "linear":
        ww = prepared(payload, "xnor/linear", lambda: _linear_words(payload, o, k))
        rows = x.reshape(-1, k)
        act = np.zeros((1, rows.shape[0], ww.shape[-1]), np.uint64)
        j.pack_signs_rows(rows, act[0])
        mism = xnor_popcount_gemm(act, ww, threads=threads)
        return finish_product(call, (k - 2 * mism[0]).astype(np.float32), payload.scales)
    geo = ConvGeometry.of(call.attrs, x.shape)
    n, c = x.shape[:2]
    cg = c // groups
    ww = prepared(payload, f"xnor/conv/{groups}",
                  lambda: _conv_words(payload, groups, o, cg, geo.kh, geo.kw))
    xw = np.zeros((n, groups, x.shape[2], x.shape[3], ww.shape[3]), np.uint64)
    j.pack_signs_channels(x, groups, xw)
    dots = np.empty((groups, o // groups, n * geo.ho * geo.wo), np.int32)
    shape = np.array([geo.kh, geo.kw, geo.sh, geo.sw, geo.dh, geo.dw, geo.pads[0], geo.pads[1], geo.ho, geo.wo],
                     np.int64)
    (j.binary_conv_parallel if threads > 1 else j.binary_conv_serial)(xw, ww, dots, cg, shape)
    return finish_product(call, dots.reshape(o, -1).astype(np.float32), payload.scales, geo)


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


