"""Shared plumbing of the weight-product kernels (linear and conv2d in any stored form).

A product kernel supplies one function ``cols [G, K, P] -> y [O, P]`` (G groups, K = Cg*kh*kw or
in_features, P output positions); this module turns linear inputs and conv inputs into ``cols``
(im2col for convs) and the result back into the output layout, then applies the per-output-channel
scale and the bias in the same order the reference does, so exact kernels stay bit-exact.

``reference_product`` is the matching definition on decoded operands: the sequential reference
(``hwsim.kernels.reference``) on a dense operand W, times the per-channel scale, plus bias.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from hwsim.errors import VerificationError
from hwsim.kernels.conv_common import ConvGeometry, add_bias, col2out, im2col
from hwsim.kernels.reference import conv2d_sequential, linear_sequential
from hwsim.kernels.registry import KernelCall

ProductFn = Callable[[np.ndarray], np.ndarray]

_PREPARED: "weakref.WeakKeyDictionary[Any, dict[str, Any]]" = weakref.WeakKeyDictionary()


def prepared(payload: Any, key: str, build: Callable[[], Any]) -> Any:
    """Per-payload cache of derived kernel operands (packed words, index arrays): a stored weight is
    prepared once, as a deployment would at load time, not on every call."""
    try:
        slot = _PREPARED.setdefault(payload, {})
    except TypeError:  # not weak-referenceable: no caching
        return build()
    if key not in slot:
        slot[key] = build()
    return slot[key]


def need_payload(call: KernelCall, kinds: tuple[type, ...], form: str) -> Any:
    value = call.weight("weight")
    if not isinstance(value, kinds):
        raise VerificationError(
            f"weight {call.node.params.get('weight')!r} is annotated {form!r} but stores a "
            f"{type(value).__name__}, not an encoded payload: run compression passes on materialized weights "
            f"(graph.materialize()) before a functional run", where=f"node {call.node.name!r}")
    return value


def scale_rows(y: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    """y [O, P] times a per-output-channel (or single) scale, in float32."""
    if scale is None:
        return y
    s = np.asarray(scale, np.float32)
    if s.size == 1:
        y *= s.reshape(())
    else:
        y *= s.reshape(-1, 1)
    return y


def run_product(call: KernelCall, fn: ProductFn, scale: np.ndarray | None = None) -> tuple[np.ndarray]:
    """Apply ``fn`` to a linear or conv2d node's input; scale per output channel, then add the bias."""
    x = call.inputs[0]
    if call.node.op == "linear":
        k = x.shape[-1]
        cols = np.ascontiguousarray(x.reshape(-1, k).T)[None]
        return finish_product(call, fn(cols), scale)
    geo = ConvGeometry.of(call.attrs, x.shape)
    return finish_product(call, fn(np.ascontiguousarray(im2col(x, geo))), scale, geo)


def finish_product(call: KernelCall, y: np.ndarray, scale: np.ndarray | None,
                   geo: ConvGeometry | None = None) -> tuple[np.ndarray]:
    """The product ``y [O, P]`` (P = the rows of a linear input, or N*Ho*Wo of a conv with geometry
    ``geo``) times the per-output-channel scale, in the output layout, plus the bias: what every
    product kernel does after its own arithmetic (kernels that skip im2col call this directly)."""
    x = call.inputs[0]
    bias = call.weight("bias")
    y = scale_rows(np.asarray(y, np.float32), scale)
    if call.node.op == "linear":
        out = np.ascontiguousarray(y.T).reshape(x.shape[:-1] + (y.shape[0],))
        if bias is not None:
            out += np.asarray(bias, np.float32)
        return (out,)
    assert geo is not None
    out = col2out(y.reshape(geo.groups, -1, y.shape[-1]), x.shape[0], geo)
    return (add_bias(out, None if bias is None else np.asarray(bias)),)


def reference_product(call: KernelCall, w: np.ndarray, scale: np.ndarray | None, dtype: Any = np.float32,
                      x: np.ndarray | None = None) -> tuple[np.ndarray]:
    """The sequential reference of the same product on the dense operand ``w`` (codes or values)."""
    x = call.inputs[0] if x is None else x
    xd, wd = x.astype(dtype), np.asarray(w)
    if np.result_type(dtype, wd.dtype) != np.dtype(dtype):
        wd = wd.astype(dtype)
    # else the sequential references widen w a slice at a time (no float64 copy of a whole layer)
    if call.node.op == "linear":
        y = linear_sequential(xd, wd)
        shape = (-1,)
    else:
        y = conv2d_sequential(xd, wd, call.attrs)
        shape = (1, -1, 1, 1)
    y = y.astype(np.float32)
    if scale is not None:
        s = np.asarray(scale, np.float32)
        y = y * (s.reshape(()) if s.size == 1 else s.reshape(shape))
    bias = call.weight("bias")
    if bias is not None:
        y = y + np.asarray(bias, np.float32).reshape(shape)
    return (y,)


def weight_matrix_shape(call: KernelCall) -> tuple[int, int, int]:
    """(groups, out channels, K per group) of the node's weight."""
    w_spec = call.weight_specs["weight"]
    groups = call.attrs.get("groups", 1) if call.node.op == "conv2d" else 1
    k = int(np.prod(w_spec.shape[1:]))
    return groups, w_spec.shape[0], k
