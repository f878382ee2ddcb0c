"""What a compressed weight may be while it is retrained: one projection per stored form.

A projection owns the trainable parameter of one weight tensor and maps it to the *effective* weight
the forward pass uses; gradients with respect to the effective weight come back through it:

* ``plain``: the weight itself (dense fp32: fine-tuning, low-rank factors, students);
* ``masked``: pruned weights stay exactly zero (Deep Compression's masked retraining);
* ``shared``: the parameter is the codebook; every weight is its centroid (or a pruned zero) and a
  centroid's gradient is the sum of the gradients of the weights that share it (Han et al., Fig. 3);
* ``binary``: sign(W) times the pass's scale (none / per layer / per channel), straight-through
  estimator: the latent weight gets the effective weight's gradient and is clipped to [-1, 1]
  (BinaryConnect, XNOR-Net);
* ``ternary``: TWN's threshold 0.7 mean|W| and scale, recomputed from the latent weight every step,
  straight-through;
* ``int``: symmetric uniform fake quantization at the pass's width (per channel or per tensor),
  straight-through (quantization-aware fine-tuning);
* ``fp16``: rounded to half precision, straight-through.

``projection_for`` reads the form from the compressed tensor's annotations (``value_format``,
``pruned_density``, ``scale_granularity``, ...), never from which pass ran. The final evaluation never
trusts these formulas: the method's own passes re-encode the retrained weights and hwsim's kernels
run the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.registry import Registry


class Projection:
    kind = "plain"

    def init(self, w: np.ndarray) -> np.ndarray:
        return w.astype(np.float32).copy()

    def effective(self, p: np.ndarray) -> np.ndarray:
        return p

    def grad(self, p: np.ndarray, g_eff: np.ndarray) -> np.ndarray:
        return g_eff

    def after_step(self, p: np.ndarray) -> np.ndarray:
        return p

    def final(self, p: np.ndarray) -> np.ndarray:
        """The fp32 array to give the method's passes (they re-derive the stored form from it)."""
        return self.effective(p)


class Plain(Projection):
    pass


@dataclass
class Masked(Projection):
    mask: np.ndarray
    kind = "masked"

    def init(self, w):
        return (w * self.mask).astype(np.float32)

    def grad(self, p, g_eff):
        return g_eff * self.mask

    def after_step(self, p):
        return p * self.mask


@dataclass
class Shared(Projection):
    """Codebook of the distinct non-zero values; ``assign`` indexes it, -1 where the weight is zero."""

    assign: np.ndarray
    shape: tuple[int, ...]
    kind = "shared"

    @classmethod
    def from_weight(cls, w: np.ndarray, zero_is_pruned: bool) -> tuple["Shared", np.ndarray]:
        flat = w.reshape(-1)
        keep = flat != 0 if zero_is_pruned else np.ones(flat.shape, bool)
        centroids, inv = np.unique(flat[keep], return_inverse=True)
        assign = np.full(flat.shape, -1, np.int64)
        assign[keep] = inv
        return cls(assign, tuple(w.shape)), centroids.astype(np.float32)

    def init(self, w):
        raise TypeError("Shared projections start from their codebook (from_weight)")

    def effective(self, p):
        out = np.where(self.assign >= 0, p[np.maximum(self.assign, 0)], 0.0).astype(np.float32)
        return out.reshape(self.shape)

    def grad(self, p, g_eff):
        g = g_eff.reshape(-1)
        keep = self.assign >= 0
        return np.bincount(self.assign[keep], weights=g[keep], minlength=p.size).astype(np.float32)


def _channel_mean_abs(w: np.ndarray, how: str, mask: np.ndarray | None = None) -> np.ndarray | float:
    a = np.abs(w) if mask is None else np.abs(w) * mask
    if how in ("none",):
        return 1.0
    if how == "channel":
        axes = tuple(range(1, w.ndim))
        cnt = np.ones_like(a).sum(axis=axes) if mask is None else mask.sum(axis=axes)
        s = a.sum(axis=axes) / np.maximum(cnt, 1)
        return s.reshape((-1,) + (1,) * (w.ndim - 1))
    cnt = a.size if mask is None else max(int(mask.sum()), 1)
    return float(a.sum() / cnt)


@dataclass
class Binary(Projection):
    scale: str  # none | layer | tensor | channel
    kind = "binary"

    def effective(self, p):
        return (np.where(p >= 0, 1.0, -1.0) * _channel_mean_abs(p, "tensor" if self.scale == "layer" else self.scale)
                ).astype(np.float32)

    def after_step(self, p):
        return np.clip(p, -1.0, 1.0)

    def final(self, p):
        return p


@dataclass
class Ternary(Projection):
    factor: float
    scale: str  # tensor | channel
    kind = "ternary"

    def effective(self, p):
        delta = self.factor * float(np.abs(p).mean())
        nz = np.abs(p) > delta
        alpha = _channel_mean_abs(p, self.scale, nz)
        return (np.sign(p) * nz * alpha).astype(np.float32)

    def final(self, p):
        return p


@dataclass
class FakeInt(Projection):
    bits: int
    per_channel: bool
    mask: np.ndarray | None = None
    kind = "int"

    def effective(self, p):
        q = (1 << (self.bits - 1)) - 1
        a = np.abs(p)
        m = a.reshape(a.shape[0], -1).max(axis=1).reshape((-1,) + (1,) * (p.ndim - 1)) if self.per_channel else a.max()
        s = np.where(m > 0, m / q, 1.0)
        out = (np.clip(np.round(p / s), -q, q) * s).astype(np.float32)
        return out if self.mask is None else out * self.mask

    def final(self, p):
        return p if self.mask is None else p * self.mask


class Fp16(Projection):
    kind = "fp16"

    def effective(self, p):
        return p.astype(np.float16).astype(np.float32)

    def final(self, p):
        return p


#: By the stored value format (annotation ``value_format``); each builder gets (tensor meta, decoded
#: compressed weight, the original weight) and returns (projection, initial parameter).
Builder = Callable[[dict[str, Any], np.ndarray, np.ndarray], tuple[Projection, np.ndarray]]
PROJECTIONS: Registry[str, Builder] = Registry("retraining projection")


def _mask_of(meta: dict[str, Any], decoded: np.ndarray) -> np.ndarray | None:
    return (decoded != 0).astype(np.float32) if meta.get("pruned_density") is not None else None


def _float(meta, decoded, original):
    mask = _mask_of(meta, decoded)
    if meta.get("value_dtype") == "fp16":
        return Fp16(), original.astype(np.float32).copy()
    if mask is not None:
        proj = Masked(mask)
        return proj, proj.init(original)
    return Plain(), original.astype(np.float32).copy()


def _codebook(meta, decoded, original):
    proj, centroids = Shared.from_weight(decoded, zero_is_pruned=meta.get("pruned_density") is not None)
    return proj, centroids


def _binary(meta, decoded, original):
    return Binary(str(meta.get("scale_granularity", "none"))), np.clip(original.astype(np.float32), -1, 1)


def _ternary(meta, decoded, original):
    return Ternary(float(meta.get("threshold_factor", 0.7)), str(meta.get("scale_granularity", "tensor"))), \
        original.astype(np.float32).copy()


def _int(meta, decoded, original):
    mask = _mask_of(meta, decoded)
    proj = FakeInt(int(meta["value_bits"]), meta.get("scale_granularity") == "channel", mask)
    return proj, original.astype(np.float32) * (1 if mask is None else mask)


for _k, _b in (("float", _float), ("dense", _float), ("codebook", _codebook), ("binary", _binary),
               ("ternary", _ternary), ("quantized_int", _int)):
    PROJECTIONS.register(_k, _b)
