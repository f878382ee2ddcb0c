"""Integer weight products (``quantized_int`` payloads: b-bit integer codes, per-tensor or per-channel
scales and zero points).

* Integer activations (the input tensor is annotated with an integer dtype and ``scale`` /
  ``zero_point`` meta, i.e. W8A8-style): both operands are integer codes; the kernel accumulates
  (x_q - z_x)(w_q - z_w) exactly and requantizes with s_x * s_w[o]. Bit-exact against the sequential
  integer reference. On a CPU with AVX-512 VNNI, when the weights fit signed bytes and the activation
  grid 256 codes (int8 / int4 operands; not grouped convs), the products are int8 x int8 -> int32
  (``hwsim.kernels.jit_int8``: ``vpdpbusd`` tiles compiled by numba, activation quantization fused into
  the patch gathering). Otherwise ``hwsim.kernels.intgemm`` runs them as float32 BLAS over slices of K
  short enough to be exact.
* Float activations (weight-only quantization): one fp32 GEMM against the integer codes, then the
  per-channel scale. BLAS reassociates: GEMM tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.formats import QuantizedIntPayload
from hwsim.kernels.actquant import activation_quant, quantize_activation
from hwsim.kernels.conv import GEMM_RTOL
from hwsim.kernels.conv_common import ConvGeometry, group_matmul
from hwsim.kernels.encoded import dense_codes
from hwsim.kernels.intgemm import int_matmul, slice_plan
from hwsim.kernels.products import (finish_product, need_payload, prepared, reference_product, run_product,
                                   weight_matrix_shape)
from hwsim.kernels.registry import KernelCall, register_kernel
from hwsim.kernels.threads import set_numba_threads


_BLOCK_ELEMENTS = 1 << 20  # codes checked a block of rows at a time: no full-size temporaries


def _compact(codes: np.ndarray) -> np.ndarray:
    """Integer codes (float32, exact) as int8 when every one fits, else as they are: a quarter of the
    memory, and what the int8 tiles and the sequential reference (which widens a slice at a time) read."""
    if not codes.size or codes.min() < -128 or codes.max() > 127:
        return codes
    c8 = codes.astype(np.int8)
    flat, flat8 = codes.reshape(codes.shape[0], -1), c8.reshape(codes.shape[0], -1)
    rows = max(1, _BLOCK_ELEMENTS // max(flat.shape[1], 1))
    for lo in range(0, flat.shape[0], rows):
        if not np.array_equal(flat8[lo:lo + rows], flat[lo:lo + rows]):  # not integers
            return codes
    return c8


def _weight(call: KernelCall) -> tuple[Any, np.ndarray, np.ndarray]:
    """The payload's integer codes (int8 when they fit, else float32; exact either way) and scales,
    decoded once per payload (as a deployment unpacks its weights at load time, not on every inference).
    Group-wise codes stay float32 (their kernel multiplies them with float activations directly)."""
    payload = need_payload(call, (QuantizedIntPayload,), "quantized_int")
    if _group_size(payload) is not None:
        codes, scale = prepared(payload, "dense_codes", lambda: dense_codes(payload))
    else:
        codes, scale = prepared(payload, "compact_codes", lambda: _compact_pair(payload))
    assert scale is not None
    return payload, codes, scale


def _compact_pair(payload: Any) -> tuple[np.ndarray, np.ndarray | None]:
    codes, scale = dense_codes(payload)
    return _compact(codes), scale


def _float_codes(payload: Any, codes: np.ndarray) -> np.ndarray:
    """float32 codes for the BLAS paths (kept once per payload when the stored ones are int8)."""
    if codes.dtype == np.float32:
        return codes
    return prepared(payload, "float_codes", lambda: codes.astype(np.float32))


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


@dataclass(frozen=True)
class ByteWeights:
    """Integer weights packed for the int8 x int8 -> int32 tiles (``jit_int8.pack_weights``), K in the
    order the patches are gathered ((i, j, c) for a conv), and each row's sum (for the u8 offset)."""

    packed: np.ndarray
    o_blocks: int
    kpad: int
    row_sums: np.ndarray  # int64 [O]
    max_l1: int  # largest sum_k |w[o, k]|


#: the activation grid of a byte operand: at most 256 codes
BYTE_CODES = 256


def byte_weights(call: KernelCall, w: np.ndarray, groups: int) -> ByteWeights | None:
    """``w`` [G, O, K] int8 codes (``_compact``) packed for the int8 tiles, or None when they cannot
    run it (no AVX-512 VNNI, grouped conv, codes that are not int8). Extra memory: the packed copy (a
    quarter of float32 weights), built a block of 32 rows at a time."""
    if groups != 1 or w.dtype != np.int8:
        return None
    from hwsim.kernels import jit_int8  # numba: imported on the first integer product only

    if not jit_int8.available():
        return None
    w8 = w[0]
    if call.node.op == "conv2d":  # K in the order the patches are gathered: (i, j, c)
        kh, kw = call.attrs["kernel"]
        w8 = w8.reshape(w8.shape[0], -1, kh, kw).transpose(0, 2, 3, 1).reshape(w8.shape[0], -1)
    rows = max(1, _BLOCK_ELEMENTS // max(w8.shape[1], 1))
    max_l1 = max((int(np.abs(w8[lo:lo + rows].astype(np.int16)).sum(axis=1, dtype=np.int64).max())
                  for lo in range(0, w8.shape[0], rows)), default=0)
    packed, o_blocks, kpad = jit_int8.pack_weights(w8)
    return ByteWeights(packed, o_blocks, kpad, w8.sum(axis=1, dtype=np.int64), max_l1)


def byte_product(call: KernelCall, bw: ByteWeights, aq: tuple[float, int, int, int], o: int,
                 scale: np.ndarray) -> tuple[np.ndarray, ...]:
    """The exact integer product on the int8 tiles: activations quantized to u8 = code - qmin while
    their patches are gathered, sum u*w in int32, minus (z - qmin) x row sum, to float32, scaled."""
    from hwsim.kernels import jit_int8

    s, zp, lo, hi = aq
    x = np.ascontiguousarray(call.inputs[0], np.float32)
    geo = None
    if call.node.op == "linear":
        rows = x.reshape(-1, x.shape[-1])
        p = rows.shape[0]
        p_pad = -(-p // jit_int8.MR) * jit_int8.MR
        xq = jit_int8.rows_u8(rows, s, zp, lo, hi, bw.kpad, p_pad)
    else:
        geo = ConvGeometry.of(call.attrs, x.shape)
        p = x.shape[0] * geo.ho * geo.wo
        p_pad = -(-p // jit_int8.MR) * jit_int8.MR
        xq = jit_int8.patches_u8(x, s, zp, lo, hi, geo.kh, geo.kw, geo.sh, geo.sw, geo.dh, geo.dw, geo.pads[0],
                                 geo.pads[1], geo.ho, geo.wo, bw.kpad, p_pad)
    acc = np.empty((p_pad, bw.o_blocks * jit_int8.NR), np.int32)
    gemm = jit_int8.gemm_u8s8_parallel if set_numba_threads() > 1 else jit_int8.gemm_u8s8_serial
    gemm(xq, p_pad, bw.kpad, bw.packed, bw.o_blocks, acc)
    corr = (bw.row_sums * (zp - lo)).astype(np.int32)
    return finish_product(call, jit_int8.finish_f32(acc, corr, o, p), scale, geo)


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
        wf = _float_codes(payload, codes).reshape(groups, o // groups, k)
        return run_product(call, lambda cols: group_matmul(wf, cols).reshape(o, -1), w_scale)
    _, zp, lo, hi = aq
    scale = (np.float32(aq[0]) * w_scale).astype(np.float32)
    if hi - lo < BYTE_CODES and lo <= zp <= hi:  # padding (q - z = 0) is a byte too
        bw = prepared(payload, f"bytes/{groups}", lambda: byte_weights(call, w, groups))
        # every sum below 2^31: |u| <= hi - lo, and the offset term is bounded the same way
        if bw is not None and (hi - lo) * bw.max_l1 < 2**31:
            return byte_product(call, bw, aq, o, scale)
    xq = quantize_activation(call.inputs[0], aq).astype(np.float32, copy=False)  # integer codes: exact
    w = _float_codes(payload, codes).reshape(groups, o // groups, k)
    x_bound = max(hi - zp, zp - lo, 0)  # every code of the grid, so the slices hold for any input
    plan = prepared(payload, f"slices/{groups}/{x_bound}", lambda: slice_plan(w, x_bound))
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
