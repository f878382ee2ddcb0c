"""Integer weight products (``quantized_int`` payloads: b-bit integer codes, per-tensor or per-channel
scales and zero points).

* Integer activations (the input tensor is annotated with an integer dtype and ``scale`` /
  ``zero_point`` meta, i.e. W8A8-style): both operands are integer codes; the kernel accumulates
  (x_q - z_x)(w_q - z_w) exactly (int8 / int4 operands, int32 accumulators; ``hwsim.kernels.intgemm``
  runs the integer products as float32 BLAS over slices of K short enough to be exact) and requantizes
  with s_x * s_w[o]. Bit-exact against the sequential integer reference.
* Float activations (weight-only quantization): one fp32 GEMM against the integer codes, then the
  per-channel scale. BLAS reassociates: GEMM tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hwsim.formats import QuantizedIntPayload
from hwsim.kernels.actquant import activation_quant, quantize_activation
from hwsim.kernels.conv import GEMM_RTOL
from hwsim.kernels.conv_common import group_matmul
from hwsim.kernels.encoded import dense_codes
from hwsim.kernels.intgemm import int_matmul, slice_plan
from hwsim.kernels.products import need_payload, prepared, reference_product, run_product, weight_matrix_shape
from hwsim.kernels.registry import KernelCall, register_kernel


def _weight(call: KernelCall) -> tuple[Any, np.ndarray, np.ndarray]:
    """The payload's integer codes (as float32, exact) and scales, decoded once per payload (as a
    deployment unpacks its weights at load time, not on every inference)."""
    payload = need_payload(call, (QuantizedIntPayload,), "quantized_int")
    codes, scale = prepared(payload, "dense_codes", lambda: dense_codes(payload))
    assert scale is not None
    return payload, codes, scale


def _group_size(payload: Any) -> int | None:
    return payload.values.group_size if payload.values.scale.size > 1 else None


def group_kernel(call: KernelCall, codes: np.ndarray, scale: np.ndarray, g: int) -> tuple[np.ndarray, ...]:
    """Group-wise weight-only product (llama.cpp Q4_0 / Q8_0 blocks, GPTQ / AWQ groups): per group of g
    inputs, a dot product of the activations with the integer codes, times that group's scale; summed."""
    if call.node.op != "linear":
        raise NotImplementedError("group-wise integer weights run on linear layers only")
    x = call.inputs[0]
    o, k = codes.shape[0], codes.shape[-1]
    cols = x.reshape(-1, k).reshape(-1, k // g, g)  # [m, groups, g]
    partial = np.einsum("mjg,ojg->moj", cols, codes.reshape(o, k // g, g), optimize=True)
    y = (partial * scale.reshape(o, k // g)[None]).sum(axis=-1, dtype=np.float32).astype(np.float32)
    out = y.reshape(x.shape[:-1] + (o,))
    bias = call.weight("bias")
    return (out + np.asarray(bias, np.float32) if bias is not None else out,)


def quantized_kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Integer weight product: int32-exact with quantized activations, else fp32 GEMM on the integer codes
    (group-wise codes: per-group dot products, each times its scale)."""
    payload, codes, w_scale = _weight(call)
    g = _group_size(payload)
    if g is not None:
        return group_kernel(call, codes, w_scale, g)
    groups, o, k = weight_matrix_shape(call)
    w = codes.reshape(groups, o // groups, k)
    aq = activation_quant(call.in_specs[0])
    if aq is None:
        return run_product(call, lambda cols: group_matmul(w, cols).reshape(o, -1), w_scale)
    xq = quantize_activation(call.inputs[0], aq).astype(np.float32, copy=False)  # integer codes: exact
    _, zp, lo, hi = aq
    x_bound = max(hi - zp, zp - lo, 0)  # every code of the grid, so the slices hold for any input
    plan = prepared(payload, f"slices/{groups}/{x_bound}", lambda: slice_plan(w, x_bound))
    scale = (np.float32(aq[0]) * w_scale).astype(np.float32)
    fn = lambda cols: int_matmul(w, cols, x_bound, as_float32=True, plan=plan).reshape(o, -1)  # noqa: E731
    return run_product(call.with_inputs((xq,)), fn, scale)


def quantized_reference(call: KernelCall) -> tuple[np.ndarray, ...]:
    payload, codes, w_scale = _weight(call)
    g = _group_size(payload)
    if g is not None:  # the definition: every code times its group's scale, then the plain product
        deq = (codes.reshape(-1, g) * w_scale[:, None]).reshape(codes.shape)
        return reference_product(call, deq, None)
    aq = activation_quant(call.in_specs[0])
    if aq is None:
        return reference_product(call, codes, w_scale)
    xq = quantize_activation(call.inputs[0], aq)
    return reference_product(call, codes, (np.float32(aq[0]) * w_scale).astype(np.float32), np.float64, x=xq)


for _op in ("linear", "conv2d"):
    register_kernel(_op, "quantized_int", "tolerance", rtol=GEMM_RTOL, reference=quantized_reference,
                    tags=("integer",), exact_if=lambda call: activation_quant(call.in_specs[0]) is not None
                    )(quantized_kernel)
