"""Geometry shared by the conv kernels: padding, output size, strided window views (no copies)."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class ConvGeometry:
    """Normalized conv2d attributes plus the output size for a given input."""

    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    groups: int
    ho: int
    wo: int

    @classmethod
    def of(cls, attrs: Mapping[str, Any], x_shape: tuple[int, ...]) -> "ConvGeometry":
        kh, kw = attrs["kernel"]
        sh, sw = attrs["stride"]
        dh, dw = attrs["dilation"]
        t, l, b, r = attrs["padding"]
        h, w = x_shape[2], x_shape[3]
        ho = (h + t + b - (kh - 1) * dh - 1) // sh + 1
        wo = (w + l + r - (kw - 1) * dw - 1) // sw + 1
        return cls(kh, kw, sh, sw, dh, dw, (t, l, b, r), attrs["groups"], ho, wo)

    @property
    def pointwise(self) -> bool:
        """A 1x1, stride-1, unpadded conv: a plain GEMM over the channel axis."""
        return (self.kh, self.kw, self.sh, self.sw) == (1, 1, 1, 1) and not any(self.pads)


def pad_nchw(x: np.ndarray, pads: tuple[int, int, int, int], extra_h: int = 0, extra_w: int = 0) -> np.ndarray:
    t, l, b, r = pads
    if not (t or l or b + extra_h or r + extra_w):
        return x
    return np.pad(x, ((0, 0), (0, 0), (t, b + extra_h), (l, r + extra_w)))


def windows(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """A strided view [N, C, Ho, Wo, kh, kw] of the padded input: every window, no copy."""
    eh, ew = (g.kh - 1) * g.dh + 1, (g.kw - 1) * g.dw + 1
    v = sliding_window_view(xp, (eh, ew), axis=(2, 3))
    return v[:, :, ::g.sh, ::g.sw, ::g.dh, ::g.dw][:, :, :g.ho, :g.wo]


def tap(xp: np.ndarray, g: ConvGeometry, i: int, j: int) -> np.ndarray:
    """The input samples kernel tap (i, j) meets at every output position: a strided view [N, C, Ho, Wo]."""
    r0, c0 = i * g.dh, j * g.dw
    return xp[:, :, r0: r0 + g.sh * (g.ho - 1) + 1: g.sh, c0: c0 + g.sw * (g.wo - 1) + 1: g.sw]


def im2col(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Patches as [groups, Cg*kh*kw, N*Ho*Wo] (one copy; none for an unpadded 1x1 conv of batch 1),
    rows in the weight's flattened (c, i, j) order, so one GEMM per group computes every output."""
    n, c = x.shape[:2]
    k = (c // g.groups) * g.kh * g.kw
    if g.pointwise:
        return (x.reshape(c, -1) if n == 1 else x.transpose(1, 0, 2, 3)).reshape(g.groups, k, n * g.ho * g.wo)
    v = windows(pad_nchw(x, g.pads), g)  # N, C, Ho, Wo, kh, kw
    return v.transpose(1, 4, 5, 0, 2, 3).reshape(g.groups, k, n * g.ho * g.wo)


def col2out(y: np.ndarray, n: int, g: ConvGeometry) -> np.ndarray:
    """GEMM output [groups, Og, N*Ho*Wo] -> NCHW (free for batch 1)."""
    o = y.shape[0] * y.shape[1]
    y = y.reshape(o, n, g.ho, g.wo)
    return y.reshape(1, o, g.ho, g.wo) if n == 1 else np.ascontiguousarray(y.transpose(1, 0, 2, 3))


def group_matmul(w: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """[G, Og, K] x [G, K, P] -> [G, Og, P]; a plain 2-D GEMM when there is one group."""
    if w.shape[0] == 1:
        return (w[0] @ cols[0])[None]
    return np.matmul(w, cols)


def add_bias(y: np.ndarray, bias: Any) -> np.ndarray:
    if bias is None:
        return y
    y += np.asarray(bias, dtype=y.dtype).reshape((1, -1) + (1,) * (y.ndim - 2))
    return y


#: Bound on the layouts kept per weight (keys naming operands that are new arrays on every call would
#: otherwise accumulate).
MAX_LAYOUTS_PER_WEIGHT = 8
_LAYOUTS: dict[int, tuple["weakref.ref[np.ndarray]", dict[Hashable, Any]]] = {}


def weight_layout(w: np.ndarray, key: Hashable, build: Callable[[], Any]) -> Any:
    """``build()``, made once per stored weight array and ``key`` (a reordered layout, as a deployment
    makes at load time), dropped with the array. Stored weights are never modified in place; a key
    naming other arrays by id must keep them alive in its value (so that no id is reused)."""
    entry = _LAYOUTS.get(id(w))
    if entry is None or entry[0]() is not w:
        try:
            ref = weakref.ref(w, lambda _r, k=id(w), made=_LAYOUTS: made.pop(k, None))
        except TypeError:  # a view of a temporary: not cached
            return build()
        entry = _LAYOUTS[id(w)] = (ref, {})
    made = entry[1]
    if key not in made:
        if len(made) >= MAX_LAYOUTS_PER_WEIGHT:  # operands rebuilt on every call (not stored arrays)
            made.clear()
        made[key] = build()
    return made[key]
