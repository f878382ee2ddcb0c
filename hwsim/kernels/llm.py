"""Kernels and reference definitions of the decoder-LM ops: RMSNorm, rotary position embedding
(rotate-half form, as GPT-NeoX / Llama / Qwen / Phi implement it), in-place KV append
(NumPy cannot append in place: the kernel returns the joined array, the same values) and causal mask."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hwsim.ir.opdefs.llm import rope_tables
from hwsim.kernels.pointwise import POINTWISE_RTOL
from hwsim.kernels.reference import REFERENCE
from hwsim.kernels.registry import KernelCall, register_kernel


def rms_norm(x: np.ndarray, gamma: np.ndarray, eps: float) -> np.ndarray:
    ms = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(ms + x.dtype.type(eps)) * np.asarray(gamma, x.dtype)


def rope_apply(x: np.ndarray, rotary_dim: int, base: float, offset: int) -> np.ndarray:
    n = x.shape[-2]
    cos, sin = rope_tables(np.arange(offset, offset + n), rotary_dim, base)
    rot, keep = x[..., :rotary_dim], x[..., rotary_dim:]
    half = rotary_dim // 2
    rotated = np.concatenate([-rot[..., half:], rot[..., :half]], axis=-1)
    out = (rot * cos.astype(x.dtype) + rotated * sin.astype(x.dtype)).astype(x.dtype)
    return np.concatenate([out, keep], axis=-1) if keep.shape[-1] else out


def causal(x: np.ndarray, queries: int, offset: int) -> np.ndarray:
    rows, cols = x.shape[-2], x.shape[-1]
    q = np.arange(rows) % queries
    allowed = np.arange(cols)[None, :] <= (offset + q)[:, None]
    return np.where(allowed, x, x.dtype.type(-np.inf))


# --- references (the plain definitions) ------------------------------------------------------------

def _ref_rmsnorm(attrs, inputs, params):
    return [rms_norm(inputs[0], params["gamma"], attrs["eps"])]


def _ref_rope(attrs, inputs, params):
    return [rope_apply(inputs[0], attrs["rotary_dim"], attrs["base"], attrs["offset"])]


def _ref_kv_append(attrs, inputs, params):
    return [np.concatenate([inputs[0], inputs[1]], axis=attrs["axis"])]


def _ref_causal_mask(attrs, inputs, params):
    return [causal(inputs[0], attrs["queries"], attrs["offset"])]


for _name, _fn in {"rmsnorm": _ref_rmsnorm, "rope": _ref_rope,
                   "kv_append": _ref_kv_append, "causal_mask": _ref_causal_mask}.items():
    REFERENCE.register(_name, _fn)


# --- kernels ---------------------------------------------------------------------------------------

@register_kernel("rmsnorm", "dense", "tolerance", rtol=POINTWISE_RTOL)
def k_rmsnorm(call: KernelCall) -> tuple[np.ndarray, ...]:
    """x / sqrt(mean(x^2) + eps) * gamma over the last axis."""
    return (rms_norm(call.inputs[0], call.weight("gamma"), call.attrs["eps"]),)


@register_kernel("rope", "dense", "tolerance", rtol=POINTWISE_RTOL)
def k_rope(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Rotate-half rotary embedding of the first rotary_dim features, positions from offset."""
    a = call.attrs
    return (rope_apply(call.inputs[0], a["rotary_dim"], a["base"], a["offset"]),)


@register_kernel("kv_append", "dense", "exact")
def k_kv_append(call: KernelCall) -> tuple[np.ndarray, ...]:
    """The cache followed by the new entries along axis (in place on a device; a joined copy here)."""
    return (np.concatenate([call.inputs[0], call.inputs[1]], axis=call.attrs["axis"]),)


@register_kernel("causal_mask", "dense", "exact")
def k_causal_mask(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Scores of future keys replaced by -inf (softmax then gives them weight 0)."""
    return (causal(call.inputs[0], call.attrs["queries"], call.attrs["offset"]),)
