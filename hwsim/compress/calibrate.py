"""Activation ranges for quantizing activations: ``CALIBRATORS[name](graph, samples, seed) -> {tensor: (lo, hi)}``.

The built-in ``moments`` calibrator needs no executor: it propagates per-channel mean and variance of
a seeded standard-normal input through the graph (exact for conv / linear / batchnorm / add under
independent inputs; pointwise nonlinearities and max pools by seeded Monte Carlo samples of their
input's Gaussian), and takes each tensor's range as the per-channel mean +/- 4 sigma, clipped to what
the op can produce. It is a model of activations, not a measurement: the pass notes say so.

A layer that may import the kernels (``hwsim.analysis``, ``hwsim.pipeline``, the CLI) can register a
calibrator that runs real sample inputs (``register_calibrator("kernels", fn)``) and pass
``calibration: kernels`` to the quantize pass.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.ops import OpGroup
from hwsim.registry import Registry

Ranges = dict[str, tuple[float, float]]
Calibrator = Callable[[OpGraph, int, int], Ranges]
CALIBRATORS: Registry[str, Calibrator] = Registry("activation calibrator")
SIGMAS = 4.0


def register_calibrator(name: str, fn: Calibrator) -> Calibrator:
    return CALIBRATORS.register(name, fn)


@dataclass(frozen=True)
class Moments:
    """Per-channel mean and variance along the tensor's channel axis (or one entry for the tensor),
    and the interval the values are known to lie in (e.g. [0, inf) after a ReLU)."""

    mean: np.ndarray
    var: np.ndarray
    lo: float = -math.inf
    hi: float = math.inf

    def scalar(self) -> "Moments":
        m = float(self.mean.mean())
        v = float((self.var + (self.mean - m) ** 2).mean())
        return Moments(np.array([m]), np.array([v]), self.lo, self.hi)

    def range(self) -> tuple[float, float]:
        sd = np.sqrt(np.maximum(self.var, 0))
        lo = max(float((self.mean - SIGMAS * sd).min()), self.lo)
        hi = min(float((self.mean + SIGMAS * sd).max()), self.hi)
        return (lo, hi) if hi > lo else (lo, lo + 1e-6)


def _channels(shape: tuple[int, ...]) -> int:
    return shape[1] if len(shape) >= 2 else 1


def _fit(m: Moments, c: int) -> Moments:
    """Moments with c channels (broadcast a scalar, or collapse when the channel counts differ)."""
    if m.mean.size == c:
        return m
    s = m.scalar()
    return Moments(np.repeat(s.mean, c), np.repeat(s.var, c), m.lo, m.hi)


def _monte_carlo(m: Moments, fn: Callable[[np.ndarray], np.ndarray], samples: int, rng: np.random.Generator,
                 lo: float, hi: float) -> Moments:
    z = rng.standard_normal((m.mean.size, samples))
    x = m.mean[:, None] + np.sqrt(np.maximum(m.var, 0))[:, None] * z
    y = fn(x)
    return Moments(y.mean(axis=1), y.var(axis=1), lo, hi)


_POINTWISE: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float, float]] = {
    "relu": (lambda x: np.maximum(x, 0), 0.0, math.inf),
    "relu6": (lambda x: np.clip(x, 0, 6), 0.0, 6.0),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), -math.inf, math.inf),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), 0.0, 1.0),
    "tanh": (np.tanh, -1.0, 1.0),
    "gelu": (lambda x: 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3))), -0.17, math.inf),
    "silu": (lambda x: x / (1 + np.exp(-x)), -0.28, math.inf),
    "hardswish": (lambda x: x * np.clip(x + 3, 0, 6) / 6, -0.375, math.inf),
    "sign": (lambda x: np.where(x >= 0, 1.0, -1.0), -1.0, 1.0),
}


def moments_calibrator(graph: OpGraph, samples: int = 256, seed: int = 0) -> Ranges:
    stats: dict[str, Moments] = {}
    for t in graph.inputs:
        c = _channels(graph.tensor(t).shape)
        stats[t] = Moments(np.zeros(c), np.ones(c))
    for node in graph.nodes:
        rng = np.random.default_rng([seed, zlib.crc32(node.name.encode())])
        outs = _propagate(graph, node, [stats[t] for t in node.inputs], samples, rng)
        for t, m in zip(node.outputs, outs):
            stats[t] = _fit(m, _channels(graph.tensor(t).shape))
    return {t: m.range() for t, m in stats.items() if t not in graph.inputs}


_MOMENT_CHUNK = 1 << 21  # weights widened to float64 at a time (16 MiB), not the whole layer


def _weight_moments(w: np.ndarray, m: Moments, groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of W x for x with per-input-channel moments (independent entries). The weight
    is read a block of output rows at a time, so a 400 MiB layer needs no 800 MiB float64 copy."""
    o = w.shape[0]
    per_group_in = w.shape[1]
    w3 = w.reshape(o, per_group_in, -1)
    mean_in, var_in = m.mean, m.var
    if mean_in.size != per_group_in * groups:
        s = m.scalar()
        mean_in, var_in = np.repeat(s.mean, per_group_in * groups), np.repeat(s.var, per_group_in * groups)
    out_per_group = o // groups
    mean = np.empty(o)
    var = np.empty(o)
    block = max(1, _MOMENT_CHUNK // max(w3[0].size, 1))
    for g in range(groups):
        mi, vi = mean_in[g * per_group_in:(g + 1) * per_group_in], var_in[g * per_group_in:(g + 1) * per_group_in]
        for lo in range(g * out_per_group, (g + 1) * out_per_group, block):
            hi = min(lo + block, (g + 1) * out_per_group)
            rows = w3[lo:hi].astype(np.float64)
            mean[lo:hi] = rows.sum(-1) @ mi
            var[lo:hi] = (rows**2).sum(-1) @ vi
    return mean, var


def _propagate(graph: OpGraph, node: Node, ins: list[Moments], samples: int, rng: np.random.Generator
               ) -> list[Moments]:
    op = node.op
    x = ins[0] if ins else Moments(np.zeros(1), np.ones(1))
    if op in ("conv2d", "linear"):
        w = graph.dense_weight(node.params["weight"])
        if op == "linear":
            in_f = w.shape[1]
            x = _fit(x, in_f) if x.mean.size in (1, in_f) else x.scalar()
            x = _fit(x, in_f)
        mean, var = _weight_moments(w, x, node.attrs.get("groups", 1) if op == "conv2d" else 1)
        if "bias" in node.params:
            mean = mean + graph.dense_weight(node.params["bias"]).astype(np.float64)
        return [Moments(mean, var)]
    if op == "batchnorm":
        g, b, mu, v = (graph.dense_weight(node.params[s]).astype(np.float64) for s in ("gamma", "beta", "mean", "var"))
        x = _fit(x, g.size)
        s = g / np.sqrt(v + node.attrs["eps"])
        return [Moments((x.mean - mu) * s + b, x.var * s**2)]
    if op == "layernorm":
        g, b = (graph.dense_weight(node.params[s]).astype(np.float64) for s in ("gamma", "beta"))
        return [Moments(np.array([b.mean()]), np.array([float((g**2).mean())]))]
    if op in _POINTWISE:
        fn, lo, hi = _POINTWISE[op]
        return [_monte_carlo(x, fn, samples, rng, lo, hi)]
    if op == "softmax":
        n = graph.tensor(node.inputs[0]).shape[node.attrs["axis"]]
        return [Moments(np.array([1.0 / n]), np.array([1.0 / n**2]), 0.0, 1.0)]
    if op in ("maxpool",):
        k = int(np.prod(node.attrs["kernel"]))
        return [_monte_carlo(_fit(x, x.mean.size), lambda v: _max_of(v, k, rng), samples, rng, x.lo, x.hi)]
    if op in ("avgpool", "global_avgpool"):
        shape = graph.tensor(node.inputs[0]).shape
        k = int(np.prod(node.attrs["kernel"])) if op == "avgpool" else int(np.prod(shape[2:]))
        return [Moments(x.mean, x.var / max(k, 1), x.lo, x.hi)]
    if op == "add":
        c = max(m.mean.size for m in ins)
        fitted = [_fit(m, c) for m in ins]
        return [Moments(sum(m.mean for m in fitted), sum(m.var for m in fitted))]
    if op == "mul":
        a, b = (_fit(m, max(i.mean.size for i in ins)) for m in ins)
        mean = a.mean * b.mean
        return [Moments(mean, (a.var + a.mean**2) * (b.var + b.mean**2) - mean**2)]
    if op == "matmul":
        a, b = ins[0].scalar(), ins[1].scalar()
        k = graph.tensor(node.inputs[0]).shape[-1]
        mean = k * a.mean * b.mean
        return [Moments(mean, k * ((a.var + a.mean**2) * (b.var + b.mean**2) - (a.mean * b.mean) ** 2))]
    if op == "concat":
        axis = node.attrs["axis"] % len(graph.tensor(node.outputs[0]).shape)
        if axis == 1:
            fitted = [_fit(m, _channels(graph.tensor(t).shape)) for m, t in zip(ins, node.inputs)]
            return [Moments(np.concatenate([m.mean for m in fitted]), np.concatenate([m.var for m in fitted]),
                            min(m.lo for m in ins), max(m.hi for m in ins))]
        s = [m.scalar() for m in ins]
        return [Moments(np.array([np.mean([m.mean[0] for m in s])]), np.array([np.mean([m.var[0] for m in s])]))]
    if node.opdef.group in (OpGroup.VIEW, OpGroup.DATA, OpGroup.POOL):
        return [x if len(node.outputs) == 1 and _channels(graph.tensor(node.outputs[0]).shape) == x.mean.size
                else x.scalar() for _ in node.outputs]
    return [x.scalar() for _ in node.outputs]  # unknown op: carry the input's spread (an assumption)


def _max_of(v: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Max of k draws from each row's Gaussian (rows of ``v`` are samples of one channel)."""
    idx = rng.integers(0, v.shape[1], size=(v.shape[0], v.shape[1], k))
    return np.take_along_axis(v[:, :, None].repeat(k, 2), idx, axis=1).max(axis=2)


register_calibrator("moments", moments_calibrator)

__all__ = ["CALIBRATORS", "register_calibrator", "moments_calibrator", "Moments", "Ranges"]
