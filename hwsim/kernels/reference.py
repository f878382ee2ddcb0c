"""The plain, living definition of every op (after tinygrad's ops_python): what each op *means*.

Nothing here is fast. Products are accumulated one term at a time in a fixed order (for conv2d the
weight's flattened (in-channel, kh, kw) order, for linear and matmul the inner index), in the dtype of
the operands: called with float32 arrays this is the order-exact oracle that sparse, ternary and
other compressed kernels must match bit for bit (adding an exact zero never changes a float sum, so
skipping zeros in the same order is exact); called with float64 arrays it is the high-precision
oracle that Winograd and FFT errors are measured against (as Lavin & Gray measure theirs).

``REFERENCE[op](attrs, inputs, params) -> outputs``; ``params`` holds dense (decoded) weight arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import erf

from hwsim.registry import Registry

Arrays = list[np.ndarray]
RefFn = Callable[[Mapping[str, Any], Sequence[np.ndarray], Mapping[str, np.ndarray]], Arrays]

REFERENCE: Registry[str, RefFn] = Registry("reference op")


def _ref(*names: str) -> Callable[[RefFn], RefFn]:
    def wrap(fn: RefFn) -> RefFn:
        for name in names:
            REFERENCE.register(name, fn)
        return fn
    return wrap


# --- products --------------------------------------------------------------------------------------

def conv2d_sequential(x: np.ndarray, w: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    """Cross-correlation, accumulating w[o, c, i, j] * x[...] in (c, i, j) order for every output."""
    kh, kw = attrs["kernel"]
    sh, sw = attrs["stride"]
    dh, dw = attrs["dilation"]
    t, l, b, r = attrs["padding"]
    groups = attrs["groups"]
    n, c_in, h, wd = x.shape
    out_c = w.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    ho = (h + t + b - (kh - 1) * dh - 1) // sh + 1
    wo = (wd + l + r - (kw - 1) * dw - 1) // sw + 1
    cg, og = c_in // groups, out_c // groups
    dt = np.result_type(x, w)
    xp, w = xp.astype(dt, copy=False), w.astype(dt, copy=False)  # converted once, not per term
    out = np.zeros((n, out_c, ho, wo), dt)
    for g in range(groups):
        o_sl = slice(g * og, (g + 1) * og)
        for c in range(cg):
            for i in range(kh):
                for j in range(kw):
                    patch = xp[:, g * cg + c, i * dh: i * dh + sh * (ho - 1) + 1: sh,
                               j * dw: j * dw + sw * (wo - 1) + 1: sw]
                    out[:, o_sl] += patch[:, None] * w[o_sl, c, i, j][None, :, None, None]
    return out


@_ref("conv2d")
def conv2d(attrs, inputs, params):
    y = conv2d_sequential(inputs[0], params["weight"], attrs)
    if "bias" in params:
        y = y + params["bias"].astype(y.dtype)[None, :, None, None]
    return [y]


def linear_sequential(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """y[..., o] = sum_k x[..., k] * w[o, k], accumulated in k order."""
    dt = np.result_type(x, w)
    x, w = x.astype(dt, copy=False), w.astype(dt, copy=False)
    out = np.zeros(x.shape[:-1] + (w.shape[0],), dt)
    for k in range(x.shape[-1]):
        out += x[..., k, None] * w[:, k]
    return out


@_ref("linear")
def linear(attrs, inputs, params):
    y = linear_sequential(inputs[0], params["weight"])
    if "bias" in params:
        y = y + params["bias"].astype(y.dtype)
    return [y]


@_ref("matmul")
def matmul(attrs, inputs, params):
    a, b = inputs
    dt = np.result_type(a, b)
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    out = np.zeros(shape, dt)
    for k in range(a.shape[-1]):
        out += a[..., :, k, None].astype(dt) * b[..., k, None, :].astype(dt)
    return [out]


# --- pointwise -------------------------------------------------------------------------------------

_POINTWISE: dict[str, Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]] = {
    "relu": lambda x, a: np.maximum(x, 0),
    "relu6": lambda x, a: np.minimum(np.maximum(x, 0), 6),
    "leaky_relu": lambda x, a: np.where(x > 0, x, x * a["alpha"]),
    "sigmoid": lambda x, a: 1 / (1 + np.exp(-x)),
    "tanh": lambda x, a: np.tanh(x),
    "gelu": lambda x, a: x * 0.5 * (1 + erf(x / math.sqrt(2))),
    "silu": lambda x, a: x / (1 + np.exp(-x)),
    "hardswish": lambda x, a: x * np.minimum(np.maximum(x + 3, 0), 6) / 6,
    "sign": lambda x, a: np.where(x >= 0, 1, -1),
}


def _pointwise(name: str) -> RefFn:
    fn = _POINTWISE[name]

    def ref(attrs, inputs, params):
        x = inputs[0]
        return [np.asarray(fn(x, attrs)).astype(x.dtype)]
    return ref


for _name in _POINTWISE:
    REFERENCE.register(_name, _pointwise(_name))


@_ref("softmax")
def softmax(attrs, inputs, params):
    x = inputs[0]
    e = np.exp(x - x.max(axis=attrs["axis"], keepdims=True))
    return [e / e.sum(axis=attrs["axis"], keepdims=True)]


@_ref("batchnorm")
def batchnorm(attrs, inputs, params):
    x = inputs[0]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    p = {k: params[k].astype(x.dtype).reshape(shape) for k in ("gamma", "beta", "mean", "var")}
    return [(x - p["mean"]) / np.sqrt(p["var"] + x.dtype.type(attrs["eps"])) * p["gamma"] + p["beta"]]


@_ref("layernorm")
def layernorm(attrs, inputs, params):
    x = inputs[0]
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return [(x - mean) / np.sqrt(var + x.dtype.type(attrs["eps"])) * params["gamma"].astype(x.dtype)
            + params["beta"].astype(x.dtype)]


@_ref("add")
def add(attrs, inputs, params):
    out = inputs[0]
    for x in inputs[1:]:
        out = out + x
    return [out]


@_ref("mul")
def mul(attrs, inputs, params):
    return [inputs[0] * inputs[1]]


# --- elementwise arithmetic, unary math, comparisons ---------------------------------------------

#: binary ops with broadcasting; comparisons give 1.0 / 0.0 in the operands' float type
BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "sub": np.subtract, "div": np.divide, "min": np.minimum, "max": np.maximum, "pow": np.power,
    "equal": np.equal, "less": np.less, "greater": np.greater,
}


def _binary(name: str) -> RefFn:
    fn = BINARY[name]

    def ref(attrs, inputs, params):
        a, b = inputs
        return [np.asarray(fn(a, b)).astype(np.result_type(a, b))]
    return ref


for _name in BINARY:
    REFERENCE.register(_name, _binary(_name))


@_ref("where")
def where(attrs, inputs, params):
    cond, a, b = inputs
    return [np.where(cond != 0, a, b).astype(np.result_type(a, b))]


def cast_values(x: np.ndarray, to: str) -> np.ndarray:
    """The values of ``x`` converted to ``to`` (float: unchanged; int: toward zero; bool: x != 0), kept in
    x's float dtype."""
    if to == "int":
        return np.trunc(x).astype(x.dtype)
    if to == "bool":
        return (x != 0).astype(x.dtype)
    return x


UNARY: dict[str, Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]] = {
    "sqrt": lambda x, a: np.sqrt(x),
    "reciprocal": lambda x, a: x.dtype.type(1) / x,
    "exp": lambda x, a: np.exp(x),
    "log": lambda x, a: np.log(x),
    "erf": lambda x, a: erf(x),
    "neg": lambda x, a: -x,
    "abs": lambda x, a: np.abs(x),
    "floor": lambda x, a: np.floor(x),
    "hardsigmoid": lambda x, a: np.clip(x * x.dtype.type(a["alpha"]) + x.dtype.type(a["beta"]), 0, 1),
    "clip": lambda x, a: np.clip(x, x.dtype.type(a["min"]), x.dtype.type(a["max"])),
    "power": lambda x, a: np.power(x, x.dtype.type(a["exponent"])),
    "cast": lambda x, a: cast_values(x, a["to"]),
}


def _unary(name: str) -> RefFn:
    fn = UNARY[name]

    def ref(attrs, inputs, params):
        x = inputs[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return [np.asarray(fn(x, attrs)).astype(x.dtype)]
    return ref


for _name in UNARY:
    REFERENCE.register(_name, _unary(_name))


# --- reductions ------------------------------------------------------------------------------------

REDUCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "reduce_mean": np.mean, "reduce_sum": np.sum, "reduce_max": np.max, "reduce_min": np.min,
    "reduce_l1": lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims),
    "reduce_l2": lambda x, axis, keepdims: np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keepdims)),
    "reduce_sum_square": lambda x, axis, keepdims: np.sum(np.square(x), axis=axis, keepdims=keepdims),
}


def _reduction(name: str) -> RefFn:
    fn = REDUCTIONS[name]

    def ref(attrs, inputs, params):
        x = inputs[0]
        return [np.asarray(fn(x, axis=tuple(attrs["axes"]), keepdims=attrs["keepdims"])).astype(x.dtype)]
    return ref


for _name in REDUCTIONS:
    REFERENCE.register(_name, _reduction(_name))


@_ref("argmax")
def argmax(attrs, inputs, params):
    x = inputs[0]
    return [np.argmax(x, axis=attrs["axis"], keepdims=attrs["keepdims"]).astype(x.dtype)]


# --- constants and indexing ------------------------------------------------------------------------

@_ref("constant")
def constant(attrs, inputs, params):
    return [params["value"]]


@_ref("gather")
def gather(attrs, inputs, params):
    return [np.take(inputs[0], attrs["indices"], axis=attrs["axis"])]


@_ref("embedding")
def embedding(attrs, inputs, params):
    ids = np.asarray(inputs[0]).astype(np.int64)
    return [params["weight"][ids]]


def slice_index(attrs: Mapping[str, Any], shape: Sequence[int], declared: Sequence[int]) -> tuple[slice, ...]:
    """Python slices of ``slice``'s normalized attributes; an axis kept whole at its declared size stays
    whole at any size (the executor may run another batch)."""
    index = []
    for s, e, st, dim, want in zip(attrs["starts"], attrs["ends"], attrs["steps"], shape, declared):
        if (s, e, st) == (0, want, 1):
            index.append(slice(None))
        else:
            index.append(slice(s, e if e >= 0 else None, st))
    return tuple(index)


@_ref("slice")
def slice_(attrs, inputs, params):
    x = inputs[0]
    return [np.ascontiguousarray(x[slice_index(attrs, x.shape, x.shape)])]


@_ref("expand")
def expand(attrs, inputs, params):
    x = inputs[0]
    return [np.ascontiguousarray(np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(attrs["shape"]))))]


@_ref("tile")
def tile(attrs, inputs, params):
    return [np.tile(inputs[0], attrs["repeats"])]


# --- pooling ---------------------------------------------------------------------------------------

def pool_geometry(h: int, k: int, s: int, lo: int, hi: int, ceil_mode: bool) -> tuple[int, int]:
    """Output size and the extra right/bottom padding that ceil_mode's last window needs."""
    span = h + lo + hi - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= h + lo:
        out -= 1
    extra = max(0, (out - 1) * s + k - (h + lo + hi))
    return out, extra


def _pool(x: np.ndarray, attrs: Mapping[str, Any], kind: str) -> np.ndarray:
    (kh, kw), (sh, sw), (t, l, b, r) = attrs["kernel"], attrs["stride"], attrs["padding"]
    n, c, h, w = x.shape
    ho, eh = pool_geometry(h, kh, sh, t, b, attrs["ceil_mode"])
    wo, ew = pool_geometry(w, kw, sw, l, r, attrs["ceil_mode"])
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (t, b + eh), (l, r + ew)), constant_values=fill)
    # where each padded position lies: 2 = real input, 1 = explicit padding, 0 = ceil-mode overhang
    rows = np.r_[np.ones(t), 2 * np.ones(h), np.ones(b), np.zeros(eh)]
    cols = np.r_[np.ones(l), 2 * np.ones(w), np.ones(r), np.zeros(ew)]
    out = np.full((n, c, ho, wo), fill, x.dtype)
    count = np.zeros((ho, wo))
    for i in range(kh):
        for j in range(kw):
            win = xp[:, :, i: i + sh * (ho - 1) + 1: sh, j: j + sw * (wo - 1) + 1: sw]
            ri, cj = rows[i: i + sh * (ho - 1) + 1: sh], cols[j: j + sw * (wo - 1) + 1: sw]
            if kind == "max":
                out = np.maximum(out, win)
            else:
                out = out + win
                inside = (ri[:, None] >= (1 if attrs["count_include_pad"] else 2)) & (cj[None, :] >= (
                    1 if attrs["count_include_pad"] else 2))
                count += inside
    if kind == "avg":
        out = out / np.maximum(count, 1).astype(x.dtype)
    return out.astype(x.dtype)


@_ref("maxpool")
def maxpool(attrs, inputs, params):
    return [_pool(inputs[0], attrs, "max")]


@_ref("avgpool")
def avgpool(attrs, inputs, params):
    return [_pool(inputs[0], attrs, "avg")]


@_ref("global_avgpool")
def global_avgpool(attrs, inputs, params):
    return [inputs[0].mean(axis=(2, 3), keepdims=True)]


# --- data movement and views -----------------------------------------------------------------------

@_ref("concat")
def concat(attrs, inputs, params):
    return [np.concatenate(inputs, axis=attrs["axis"])]


@_ref("split")
def split(attrs, inputs, params):
    cuts = np.cumsum(attrs["sizes"])[:-1]
    return [np.ascontiguousarray(p) for p in np.split(inputs[0], cuts, axis=attrs["axis"])]


@_ref("transpose")
def transpose(attrs, inputs, params):
    return [np.ascontiguousarray(np.transpose(inputs[0], attrs["perm"]))]


@_ref("pad")
def pad(attrs, inputs, params):
    x = inputs[0]
    p = attrs["pads"]
    widths = [(p[i], p[i + x.ndim]) for i in range(x.ndim)]
    if attrs["mode"] == "constant":
        return [np.pad(x, widths, constant_values=attrs["value"])]
    return [np.pad(x, widths, mode=attrs["mode"])]


def resize_source_index(out_size: int, in_size: int, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source coordinates of each output position: nearest uses the asymmetric floor rule
    (PyTorch ``nearest``), linear the half-pixel rule (``align_corners=False``). Returns (lo, hi, frac)."""
    scale = in_size / out_size
    o = np.arange(out_size, dtype=np.float64)
    if mode == "nearest":
        lo = np.minimum(np.floor(o * scale).astype(np.int64), in_size - 1)
        return lo, lo, np.zeros(out_size)
    src = np.clip((o + 0.5) * scale - 0.5, 0, in_size - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    return lo, hi, src - lo


@_ref("resize")
def resize(attrs, inputs, params):
    x = inputs[0]
    oh, ow = attrs["sizes"]
    hl, hh, hf = resize_source_index(oh, x.shape[2], attrs["mode"])
    wl, wh, wf = resize_source_index(ow, x.shape[3], attrs["mode"])
    hf = hf.astype(x.dtype)[:, None]
    wf = wf.astype(x.dtype)[None, :]
    top = x[:, :, hl][:, :, :, wl] * (1 - wf) + x[:, :, hl][:, :, :, wh] * wf
    bot = x[:, :, hh][:, :, :, wl] * (1 - wf) + x[:, :, hh][:, :, :, wh] * wf
    return [(top * (1 - hf) + bot * hf).astype(x.dtype)]


@_ref("channel_shuffle")
def channel_shuffle(attrs, inputs, params):
    x = inputs[0]
    n, c, h, w = x.shape
    g = attrs["groups"]
    return [x.reshape(n, g, c // g, h, w).transpose(0, 2, 1, 3, 4).reshape(n, c, h, w)]


@_ref("flatten")
def flatten(attrs, inputs, params):
    x = inputs[0]
    a = attrs["axis"]
    return [x.reshape(math.prod(x.shape[:a]), math.prod(x.shape[a:]))]


@_ref("reshape")
def reshape(attrs, inputs, params):
    return [inputs[0].reshape(attrs["shape"])]


@_ref("identity", "dropout", "exit")
def identity(attrs, inputs, params):
    """identity, dropout at inference, and an early exit (its logits pass through)."""
    return [inputs[0]]


@_ref("circulant", "fastfood")
def structured_matrix(attrs, inputs, params):
    """The dense [out, in] matrix the structured layer defines (``hwsim.ir.opdefs.structured``), then linear."""
    from hwsim.ir.opdefs.structured import circulant_matrix, fastfood_matrix

    x = inputs[0]
    if "s" in params:
        w = fastfood_matrix(params["s"], params["g"], params["b"], attrs, x.shape[-1])
    else:
        w = circulant_matrix(params["weight"], attrs, x.shape[-1])
    return linear(attrs, [x], {"weight": w.astype(x.dtype), **({"bias": params["bias"]} if "bias" in params else {})})


def run_reference(op: str, attrs: Mapping[str, Any], inputs: Sequence[np.ndarray],
                  params: Mapping[str, np.ndarray]) -> Arrays:
    """Apply the reference definition of ``op``."""
    return REFERENCE.get(op)(attrs, list(inputs), dict(params))
