"""Structured-matrix FC layers: circulant projection by real FFTs, Adaptive Fastfood by fast
Walsh-Hadamard transforms. O(n) stored parameters, O(n log n) work, exactly the op's definition in
``hwsim.ir.opdefs.structured`` (the fixed random signs and permutations regenerated from ``seed``).
Both reassociate sums (FFT butterflies, Hadamard stages) against the dense reference matrix: tolerance.
"""

from __future__ import annotations

import numpy as np

from hwsim.ir.opdefs.structured import blocks, circulant_signs, fastfood_permutations
from hwsim.kernels.reference import run_reference
from hwsim.kernels.registry import KernelCall, register_kernel

STRUCTURED_RTOL = 1e-4


def _pad_last(x: np.ndarray, d: int) -> np.ndarray:
    n = x.shape[-1]
    return x if n == d else np.concatenate([x, np.zeros(x.shape[:-1] + (d - n,), x.dtype)], axis=-1)


def _bias(y: np.ndarray, call: KernelCall) -> np.ndarray:
    b = call.weight("bias")
    return y if b is None else y + np.asarray(b, y.dtype)


def structured_reference(call: KernelCall) -> tuple[np.ndarray, ...]:
    """The dense matrix the op defines, applied by the sequential reference in float64."""
    params = {slot: np.asarray(v, np.float64) for slot, v in call.weights.items()}
    return tuple(run_reference(call.node.op, call.attrs, [call.inputs[0].astype(np.float64)], params))


@register_kernel("circulant", "dense", "tolerance", rtol=STRUCTURED_RTOL, reference=structured_reference)
def k_circulant(call: KernelCall) -> tuple[np.ndarray, ...]:
    """y = irfft(rfft(r) * rfft(D x))[:out] + b: two real FFTs of length d per row."""
    x = call.inputs[0]
    d, out = call.attrs["size"], call.attrs["out_features"]
    r = np.asarray(call.weight("weight"), np.float32)
    xd = _pad_last(x, d) * circulant_signs(call.attrs["seed"], d)
    y = np.fft.irfft(np.fft.rfft(r) * np.fft.rfft(xd, axis=-1), n=d, axis=-1)[..., :out]
    return (_bias(y.astype(np.float32), call),)


def fwht(v: np.ndarray) -> np.ndarray:
    """Unnormalized fast Walsh-Hadamard transform over the last axis (Sylvester order), log2(d) stages."""
    d = v.shape[-1]
    lead = v.shape[:-1]
    h = 1
    while h < d:
        w = v.reshape(lead + (d // (2 * h), 2, h))
        a, b = w[..., 0, :], w[..., 1, :]
        v = np.stack([a + b, a - b], axis=-2).reshape(lead + (d,))
        h *= 2
    return v


@register_kernel("fastfood", "dense", "tolerance", rtol=STRUCTURED_RTOL, reference=structured_reference)
def k_fastfood(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Stacked S H G Pi H B x: diagonal scalings, two Walsh-Hadamard transforms and a permutation per block."""
    x = call.inputs[0]
    d, out = call.attrs["size"], call.attrs["out_features"]
    k = blocks(call.attrs)
    s, g, b = (np.asarray(call.weight(n), np.float32) for n in ("s", "g", "b"))
    perms = fastfood_permutations(call.attrs["seed"], k, d)
    v = _pad_last(x, d)[..., None, :] * b  # [..., k, d]
    v = fwht(v)
    v = np.take_along_axis(v, np.broadcast_to(perms, v.shape), axis=-1)
    v = fwht(v * g) * s
    y = v.reshape(x.shape[:-1] + (k * d,))[..., :out]
    return (_bias(y.astype(np.float32), call),)


@register_kernel("exit", "dense", "exact")
def k_exit(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Early-exit decision point: the logits pass through unchanged (the stop decision is a control
    outcome for the cost analysis, not a value of the dataflow)."""
    return (call.inputs[0],)
