"""Pointwise activations (sign included), softmax, batchnorm, layernorm and broadcasting add / mul.

Sigmoid and SiLU are registered by ``hwsim.kernels.epilogue`` (a compiled loop, the one the executor
folds into their producer's kernel); ``sigmoid_into`` here is their NumPy form for float64 runs."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.special import erf

from hwsim.kernels.registry import KernelCall, register_kernel

#: exp / erf / sqrt differ from the reference's rounding by a few ulps at most.
POINTWISE_RTOL = 1e-5


def sigmoid_into(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) written into ``out`` (may be ``x``), every step in place with NumPy's vectorized
    exp (several times faster than SciPy's expit on float32). exp(-x) overflows to inf for very
    negative x, giving the exact limit 0."""
    np.negative(x, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += out.dtype.type(1)
    np.reciprocal(out, out=out)
    return out


_ACTIVATIONS: dict[str, Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]] = {
    "relu": lambda x, a: np.maximum(x, x.dtype.type(0)),
    "relu6": lambda x, a: np.clip(x, x.dtype.type(0), x.dtype.type(6)),
    "leaky_relu": lambda x, a: np.where(x > 0, x, x * x.dtype.type(a["alpha"])),
    "tanh": lambda x, a: np.tanh(x),
    "gelu": lambda x, a: (x * x.dtype.type(0.5) * (1 + erf(x / x.dtype.type(math.sqrt(2))))).astype(x.dtype),
    "hardswish": lambda x, a: x * np.clip(x + x.dtype.type(3), 0, 6) / x.dtype.type(6),
    "sign": lambda x, a: np.where(x >= 0, x.dtype.type(1), x.dtype.type(-1)),
}


def _activation(name: str) -> None:
    fn = _ACTIVATIONS[name]

    def kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
        return (np.asarray(fn(call.inputs[0], call.attrs), dtype=call.inputs[0].dtype),)

    kernel.__doc__ = f"{name}, elementwise."
    exact = name in ("relu", "relu6", "leaky_relu", "sign")
    register_kernel(name, "dense", "exact" if exact else "tolerance", rtol=None if exact else POINTWISE_RTOL)(kernel)


for _name in _ACTIVATIONS:
    _activation(_name)


@register_kernel("softmax", "dense", "tolerance", rtol=POINTWISE_RTOL)
def k_softmax(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Max-subtracted softmax along one axis."""
    x = call.inputs[0]
    axis = call.attrs["axis"]
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return (e,)


def batchnorm_scale_shift(call: KernelCall, dtype: np.dtype, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Inference batchnorm as one scale and shift per channel (axis 1), computed in float64, then cast."""
    w = {k: np.asarray(call.weight(k), dtype=np.float64) for k in ("gamma", "beta", "mean", "var")}
    scale = w["gamma"] / np.sqrt(w["var"] + call.attrs["eps"])
    shift = w["beta"] - w["mean"] * scale
    shape = (1, -1) + (1,) * (ndim - 2)
    return scale.astype(dtype).reshape(shape), shift.astype(dtype).reshape(shape)


@register_kernel("batchnorm", "dense", "tolerance", rtol=POINTWISE_RTOL)
def k_batchnorm(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Inference batchnorm folded to one scale and shift per channel (axis 1)."""
    x = call.inputs[0]
    scale, shift = batchnorm_scale_shift(call, x.dtype, x.ndim)
    y = x * scale
    y += shift
    return (y,)


@register_kernel("layernorm", "dense", "tolerance", rtol=POINTWISE_RTOL)
def k_layernorm(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Layer normalization over the last axis (biased variance) with affine gamma / beta."""
    x = call.inputs[0]
    dt = x.dtype
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    y = xc / np.sqrt(var + dt.type(call.attrs["eps"]))
    return (y * np.asarray(call.weight("gamma"), dt) + np.asarray(call.weight("beta"), dt),)


@register_kernel("add", "dense", "exact")
def k_add(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Elementwise sum with broadcasting (residual connections), left to right."""
    out = call.inputs[0] + call.inputs[1]
    for x in call.inputs[2:]:
        out = out + x
    return (out,)


@register_kernel("mul", "dense", "exact")
def k_mul(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Elementwise product with broadcasting (gating, squeeze-excite)."""
    return (call.inputs[0] * call.inputs[1],)
