"""Forward and backward passes of the ops a retrainable model may hold, in NumPy.

Each layer's ``forward(x, w)`` returns (y, cache) and ``backward(dy, cache, w)`` returns (dx, grads by
slot). ``w`` maps the node's param slots (``weight``, ``bias``) to the *effective* arrays the forward
uses (after any projection: mask, codebook, sign, ...). The definitions follow hwsim's reference
kernels (``hwsim.kernels.reference``); a test checks each forward against the executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Arrays = Mapping[str, np.ndarray]


class Layer:
    params: tuple[str, ...] = ()

    def forward(self, x: np.ndarray, w: Arrays) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, cache: Any, w: Arrays) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        raise NotImplementedError


@dataclass(frozen=True)
class Linear(Layer):
    has_bias: bool
    need_dx: bool = True
    params = ("weight", "bias")

    def forward(self, x, w):
        y = x @ w["weight"].T
        if self.has_bias:
            y = y + w["bias"]
        return y, x

    def backward(self, dy, x, w):
        grads = {"weight": dy.T @ x}
        if self.has_bias:
            grads["bias"] = dy.sum(axis=0)
        return (dy @ w["weight"] if self.need_dx else None), grads


@dataclass(frozen=True)
class Conv2d(Layer):
    """Convolution by im2col per group; padding (top, left, bottom, right)."""

    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    dilation: tuple[int, int]
    groups: int
    has_bias: bool
    need_dx: bool = True  # False for the first layer: nothing upstream needs its input gradient
    params = ("weight", "bias")

    def _cols(self, x: np.ndarray, kh: int, kw: int) -> tuple[np.ndarray, tuple[int, int]]:
        t, l, b, r = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r))) if any(self.padding) else x
        (sh, sw), (dh, dw) = self.stride, self.dilation
        win = sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
        win = win[:, :, ::sh, ::sw, ::dh, ::dw]  # [N, C, OH, OW, kh, kw]
        oh, ow = win.shape[2], win.shape[3]
        return win, (oh, ow)

    def forward(self, x, w):
        wt = w["weight"]
        o, cg, kh, kw = wt.shape
        n, c = x.shape[:2]
        win, (oh, ow) = self._cols(x, kh, kw)
        g = self.groups
        og = o // g
        cols = win.reshape(n, g, cg, oh, ow, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6).reshape(g, n * oh * ow, cg * kh * kw)
        wg = wt.reshape(g, og, cg * kh * kw)
        y = np.matmul(cols, wg.transpose(0, 2, 1))  # [g, N*OH*OW, og]
        y = y.reshape(g, n, oh, ow, og).transpose(1, 0, 4, 2, 3).reshape(n, o, oh, ow)
        if self.has_bias:
            y = y + w["bias"].reshape(1, -1, 1, 1)
        return y, (cols, x.shape, (oh, ow))

    def backward(self, dy, cache, w):
        cols, xshape, (oh, ow) = cache
        wt = w["weight"]
        o, cg, kh, kw = wt.shape
        n = xshape[0]
        g = self.groups
        og = o // g
        dyg = dy.reshape(n, g, og, oh, ow).transpose(1, 0, 3, 4, 2).reshape(g, n * oh * ow, og)
        dw = np.matmul(dyg.transpose(0, 2, 1), cols).reshape(o, cg, kh, kw)
        grads = {"weight": dw}
        if self.has_bias:
            grads["bias"] = dy.sum(axis=(0, 2, 3))
        if not self.need_dx:
            return None, grads
        dcols = np.matmul(dyg, wt.reshape(g, og, cg * kh * kw))  # [g, N*OH*OW, cg*kh*kw]
        dcols = dcols.reshape(g, n, oh, ow, cg, kh, kw)
        t, l, b, r = self.padding
        hp, wp = xshape[2] + t + b, xshape[3] + l + r
        dxp = np.zeros((n, g, cg, hp, wp), dy.dtype)
        (sh, sw), (dh, dw_) = self.stride, self.dilation
        for i in range(kh):
            for j in range(kw):
                dxp[:, :, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw_:j * dw_ + sw * (ow - 1) + 1:sw] += \
                    dcols[:, :, :, :, :, i, j].transpose(1, 0, 4, 2, 3)
        return dxp.reshape(n, g * cg, hp, wp)[:, :, t:hp - b, l:wp - r], grads


class ReLU(Layer):
    def forward(self, x, w):
        return np.maximum(x, 0), x > 0

    def backward(self, dy, mask, w):
        return dy * mask, {}


class Sign(Layer):
    """sign(x) (x >= 0 -> +1) forward; straight-through gradient inside |x| <= 1 (BNN's hardtanh STE)."""

    def forward(self, x, w):
        return np.where(x >= 0, 1.0, -1.0).astype(x.dtype), np.abs(x) <= 1

    def backward(self, dy, inside, w):
        return dy * inside, {}


@dataclass(frozen=True)
class MaxPool(Layer):
    """Non-overlapping max pooling (kernel == stride, no padding), the LeNet case."""

    k: tuple[int, int]

    def forward(self, x, w):
        n, c, h, wd = x.shape
        kh, kw = self.k
        oh, ow = h // kh, wd // kw
        xc = x[:, :, :oh * kh, :ow * kw]
        blocks = xc.reshape(n, c, oh, kh, ow, kw).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
        arg = blocks.argmax(axis=-1)
        return np.take_along_axis(blocks, arg[..., None], -1)[..., 0], (arg, x.shape)

    def backward(self, dy, cache, w):
        arg, (n, c, h, wd) = cache
        kh, kw = self.k
        oh, ow = dy.shape[2], dy.shape[3]
        blocks = np.zeros(dy.shape + (kh * kw,), dy.dtype)
        np.put_along_axis(blocks, arg[..., None], dy[..., None], -1)
        dx = np.zeros((n, c, h, wd), dy.dtype)
        dx[:, :, :oh * kh, :ow * kw] = blocks.reshape(n, c, oh, ow, kh, kw).transpose(0, 1, 2, 4, 3, 5).reshape(
            n, c, oh * kh, ow * kw)
        return dx, {}


class GlobalAvgPool(Layer):
    def forward(self, x, w):
        return x.mean(axis=(2, 3), keepdims=True), x.shape

    def backward(self, dy, shape, w):
        return np.broadcast_to(dy / (shape[2] * shape[3]), shape).copy(), {}


@dataclass(frozen=True)
class Reshape(Layer):
    """flatten / reshape / identity: a view; ``shape`` is the per-sample output shape."""

    shape: tuple[int, ...]

    def forward(self, x, w):
        return x.reshape((x.shape[0],) + self.shape), x.shape

    def backward(self, dy, shape, w):
        return dy.reshape(shape), {}
