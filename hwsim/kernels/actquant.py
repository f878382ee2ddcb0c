"""Reduced-precision activations: what a tensor's annotation says its values are.

A tensor annotated with an integer dtype and ``scale`` (and optionally ``zero_point``) meta holds
values on that integer grid; one annotated fp16 or bf16 holds values of that float format. The
executor snaps every such tensor when it is produced (keeping the float32 value of each code, so
float kernels read it unchanged); integer kernels recover the codes exactly. An integer annotation
without a scale (uncalibrated) is left as it is: the grid is unknown."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hwsim.ir.tensor import TensorSpec


def activation_quant(spec: TensorSpec) -> tuple[float, int, int, int] | None:
    """(scale, zero_point, qmin, qmax) of a quantized activation tensor, or None for a float one."""
    if spec.dtype.kind not in ("int", "uint"):
        return None
    meta = spec.meta_dict()
    if meta.get("scale") is None:  # not calibrated: the tool does not know the grid
        return None
    scale = meta["scale"]
    scale = float(scale[0] if isinstance(scale, (list, tuple)) else scale)
    zp = meta.get("zero_point") or 0
    zp = int(zp[0] if isinstance(zp, (list, tuple)) else zp)
    return scale, zp, int(spec.dtype.min_value), int(spec.dtype.max_value)


def quantize_activation(x: np.ndarray, q: tuple[float, int, int, int]) -> np.ndarray:
    """Integer codes minus zero point of a float activation on its grid: clip(rint(x / s) + z) - z."""
    scale, zp, lo, hi = q
    y = np.divide(x, np.float32(scale))  # one new array, then every step in place (same values)
    np.rint(y, out=y)
    y += zp
    np.clip(y, lo, hi, out=y)
    y -= zp
    return y


def fake_quantize(x: np.ndarray, q: tuple[float, int, int, int]) -> np.ndarray:
    """The float value each activation takes on its integer grid (what the next op reads)."""
    y = quantize_activation(x, q)
    if y.dtype != np.float32:  # wider input: multiply at its precision, then round once
        return (y * np.float32(q[0])).astype(np.float32)
    y *= np.float32(q[0])
    return y


def to_bf16(x: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (nearest even) and back: the value a bf16 tensor holds."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return np.where(np.isnan(x), x, r.view(np.float32)).astype(np.float32)


def group_quant(spec: TensorSpec) -> tuple[int, bool, int, int] | None:
    """(bits, symmetric, scale_bits, axis) of a tensor quantized group-wise with dynamic scales (an int8 /
    int4 KV cache: one scale per token and head, along ``group_axis``), or None."""
    meta = spec.meta_dict()
    if spec.dtype.kind not in ("int", "uint") or "group_axis" not in meta or meta.get("scale") is not None:
        return None
    return spec.dtype.bits, bool(meta.get("symmetric", True)), int(meta.get("scale_bits", 32)), int(meta["group_axis"])


def fake_quantize_groups(x: np.ndarray, q: tuple[int, bool, int, int]) -> np.ndarray:
    """Each group (all values along ``axis`` at one position of the other axes) on its own b-bit grid:
    scale from the group's range (stored at scale_bits), rounded to nearest; the float values it holds."""
    bits, symmetric, scale_bits, axis = q
    x = np.asarray(x, np.float32)
    if symmetric:
        qmax = 2 ** (bits - 1) - 1
        scale = np.abs(x).max(axis=axis, keepdims=True) / qmax
        lo_q, hi_q, zp = -qmax, qmax, 0.0
    else:
        lo = np.minimum(x.min(axis=axis, keepdims=True), 0)
        hi = np.maximum(x.max(axis=axis, keepdims=True), 0)
        scale = (hi - lo) / (2**bits - 1)
        lo_q, hi_q = 0, 2**bits - 1
    scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
    if scale_bits == 16:
        scale = scale.astype(np.float16).astype(np.float32)
    if not symmetric:
        zp = np.clip(np.rint(-lo / scale), lo_q, hi_q)
    codes = np.clip(np.rint(x / scale) + zp, lo_q, hi_q)
    return ((codes - zp) * scale).astype(np.float32)


def snapper(spec: TensorSpec) -> Callable[[np.ndarray], np.ndarray] | None:
    """The function that puts a float32 array on ``spec``'s value grid, or None for fp32 tensors."""
    grid = activation_quant(spec)
    if grid is not None:
        return lambda x: fake_quantize(x, grid)
    groups = group_quant(spec)
    if groups is not None:
        return lambda x: fake_quantize_groups(x, groups)
    if spec.dtype.name == "fp16":
        return lambda x: np.asarray(x, np.float32).astype(np.float16).astype(np.float32)
    if spec.dtype.name == "bf16":
        return to_bf16
    return None
