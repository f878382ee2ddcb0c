"""Transferred filters (``negated_half`` payloads, the CReLU observation): only the first half of a
conv's filters is stored and the second half is its negation, so the kernel convolves with the stored
half and negates the result (negation is exact): half the multiplies of the dense conv. The half conv
runs on BLAS: GEMM tolerance against the sequential reference on the decoded filters."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwsim.errors import VerificationError
from hwsim.kernels.conv import GEMM_RTOL, conv_direct
from hwsim.kernels.conv_common import ConvGeometry, add_bias
from hwsim.kernels.products import reference_product
from hwsim.kernels.registry import KernelCall, register_kernel


def _half(call: KernelCall) -> np.ndarray:
    value: Any = call.weight("weight")
    if getattr(value, "format", None) != "negated_half" or not hasattr(value, "half"):
        raise VerificationError(f"weight {call.node.params.get('weight')!r} is annotated 'negated_half' but stores a "
                                f"{type(value).__name__}: run compression passes on materialized weights",
                                where=f"node {call.node.name!r}")
    return np.asarray(value.half, np.float32)


def negated_half_reference(call: KernelCall) -> tuple[np.ndarray, ...]:
    half = _half(call)
    return reference_product(call, np.concatenate([half, -half], axis=0), None)


@register_kernel("conv2d", "negated_half", "tolerance", rtol=GEMM_RTOL, reference=negated_half_reference)
def negated_half_kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Convolve with the stored half of the filters; the other half of the outputs is its negation."""
    x = call.inputs[0]
    y = conv_direct(x, _half(call), ConvGeometry.of(call.attrs, x.shape))
    b = call.weight("bias")
    return (add_bias(np.concatenate([y, -y], axis=1), None if b is None else np.asarray(b)),)
