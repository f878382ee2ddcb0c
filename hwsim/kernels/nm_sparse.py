"""The N:M-sparse linear kernel: each output is the sum over the kept weights of its row of
weight x the input element at the kept position (a gather of N of every M inputs; what a sparse tensor
core computes from the compressed values and their positions, never a dense copy)."""

from __future__ import annotations

import numpy as np

from hwsim.formats.nm_sparse import NM_ENCODING, NMSparsePayload
from hwsim.kernels.conv import GEMM_RTOL
from hwsim.kernels.products import need_payload, reference_product
from hwsim.kernels.registry import KernelCall, register_kernel


def nm_reference(call: KernelCall) -> tuple[np.ndarray, ...]:
    """The definition: the plain product with the decoded weight (zeros at the pruned positions)."""
    payload = need_payload(call, (NMSparsePayload,), NM_ENCODING)
    return reference_product(call, payload.decode(), None)


@register_kernel("linear", NM_ENCODING, "tolerance", rtol=GEMM_RTOL, reference=nm_reference)
def nm_linear(call: KernelCall) -> tuple[np.ndarray, ...]:
    """y[., o] = sum_j x[., col(o, j)] * value(o, j) over the kept (value, position) pairs, then the bias."""
    payload = need_payload(call, (NMSparsePayload,), NM_ENCODING)
    x = call.inputs[0]
    k = x.shape[-1]
    rows = x.reshape(-1, k)
    gathered = rows[:, payload.columns()]  # [m, out, kept]
    y = np.einsum("moj,oj->mo", gathered, payload.values.astype(x.dtype), optimize=True)
    out = y.reshape(x.shape[:-1] + (payload.shape[0],)).astype(np.float32)
    bias = call.weight("bias")
    return (out + np.asarray(bias, np.float32) if bias is not None else out,)
