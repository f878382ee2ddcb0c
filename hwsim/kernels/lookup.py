"""Shared-weight products: codebook (Deep Compression's weight sharing) and hashed (HashedNets).

The kernel looks every stored code up in its table (centroids, or hash buckets with their signs,
recomputed from the stored seed) to form the operand tile the multiply-accumulate array consumes,
then runs one GEMM per group. The lookup is exact; BLAS reassociates the sums, so the kernel is held
to the GEMM tolerance against the sequential reference on the same looked-up values.
"""

from __future__ import annotations

import numpy as np

from hwsim.formats import CodebookPayload, HashedPayload
from hwsim.kernels.conv import GEMM_RTOL
from hwsim.kernels.conv_common import group_matmul
from hwsim.kernels.encoded import decoded_operands, dense_codes
from hwsim.kernels.products import need_payload, reference_product, run_product, weight_matrix_shape
from hwsim.kernels.registry import KernelCall, register_kernel


def lookup_kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Shared-weight product: codes looked up in their table (codebook centroids or hash buckets), then GEMM."""
    payload = need_payload(call, (CodebookPayload, HashedPayload), "codebook/hashed")
    groups, o, k = weight_matrix_shape(call)
    w = dense_codes(payload)[0].reshape(groups, o // groups, k)  # the lookup, on every call
    return run_product(call, lambda cols: group_matmul(w, cols).reshape(o, -1))


def lookup_reference(call: KernelCall) -> tuple[np.ndarray, ...]:
    w, scale = decoded_operands(call.weight("weight"))
    return reference_product(call, w, scale)


for _op in ("linear", "conv2d"):
    for _fmt in ("codebook", "hashed"):
        register_kernel(_op, _fmt, "tolerance", rtol=GEMM_RTOL, reference=lookup_reference,
                        tags=("shared",))(lookup_kernel)
