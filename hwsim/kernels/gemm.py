"""Dense linear (y = x W^T + b over the last axis) and batched matmul, on BLAS through np.matmul."""

from __future__ import annotations

import numpy as np

from hwsim.kernels.conv import GEMM_RTOL
from hwsim.kernels.registry import KernelCall, register_kernel


def add_bias_last(y: np.ndarray, bias: object) -> np.ndarray:
    if bias is None:
        return y
    y += np.asarray(bias, dtype=y.dtype)
    return y


@register_kernel("linear", "dense", "tolerance", rtol=GEMM_RTOL)
def k_linear(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Dense linear: one GEMM of the flattened leading axes against W^T."""
    x = call.inputs[0]
    w = np.asarray(call.weight("weight"), dtype=x.dtype)
    return (add_bias_last(np.matmul(x, w.T), call.weight("bias")),)


@register_kernel("matmul", "dense", "tolerance", rtol=GEMM_RTOL)
def k_matmul(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Batched matrix product of two activations with broadcasting batch axes."""
    a, b = call.inputs
    return (np.matmul(a, b),)
