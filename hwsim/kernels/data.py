"""Data movement (concat, split, transpose, pad, resize, channel shuffle) and views (flatten, reshape,
identity, dropout). Views return views: the executor's memory accounting sees no new buffer.

Batching: graphs declare a batch size; the executor may run another. Only ``reshape`` bakes sizes into
attributes, so it maps a leading dimension equal to the declared batch to the actual batch and refuses
(VerificationError) a target it cannot map."""

from __future__ import annotations

import math

import numpy as np

from hwsim.errors import VerificationError
from hwsim.kernels.reference import resize_source_index
from hwsim.kernels.registry import KernelCall, register_kernel


@register_kernel("concat", "dense", "exact")
def k_concat(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Join along one axis."""
    return (np.concatenate(call.inputs, axis=call.attrs["axis"]),)


@register_kernel("split", "dense", "exact")
def k_split(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Cut along one axis into the given sizes (views of the input)."""
    cuts = np.cumsum(call.attrs["sizes"])[:-1]
    return tuple(np.split(call.inputs[0], cuts, axis=call.attrs["axis"]))


@register_kernel("transpose", "dense", "exact")
def k_transpose(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Permute axes; materialized (a real copy, as the op's cost says)."""
    return (np.ascontiguousarray(np.transpose(call.inputs[0], call.attrs["perm"])),)


@register_kernel("pad", "dense", "exact")
def k_pad(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Pad every axis (constant, reflect or edge)."""
    x = call.inputs[0]
    p = call.attrs["pads"]
    widths = [(p[i], p[i + x.ndim]) for i in range(x.ndim)]
    if call.attrs["mode"] == "constant":
        return (np.pad(x, widths, constant_values=x.dtype.type(call.attrs["value"])),)
    return (np.pad(x, widths, mode=call.attrs["mode"]),)


@register_kernel("resize", "dense", "tolerance", rtol=1e-6)
def k_resize(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Nearest (asymmetric floor, PyTorch 'nearest') or bilinear (half-pixel) resize of H x W by gathers."""
    x = call.inputs[0]
    oh, ow = call.attrs["sizes"]
    hl, hh, hf = resize_source_index(oh, x.shape[2], call.attrs["mode"])
    wl, wh, wf = resize_source_index(ow, x.shape[3], call.attrs["mode"])
    if call.attrs["mode"] == "nearest":
        return (x[:, :, hl[:, None], wl[None, :]],)
    dt = x.dtype
    hf, wf = hf.astype(dt)[:, None], wf.astype(dt)[None, :]
    rows_lo, rows_hi = x[:, :, hl], x[:, :, hh]
    top = rows_lo[:, :, :, wl] * (1 - wf) + rows_lo[:, :, :, wh] * wf
    bot = rows_hi[:, :, :, wl] * (1 - wf) + rows_hi[:, :, :, wh] * wf
    return (top * (1 - hf) + bot * hf,)


@register_kernel("channel_shuffle", "dense", "exact")
def k_channel_shuffle(call: KernelCall) -> tuple[np.ndarray, ...]:
    """ShuffleNet's shuffle: [N, g, C/g, H, W] -> swap the two channel axes -> [N, C, H, W]."""
    x = call.inputs[0]
    n, c, h, w = x.shape
    g = call.attrs["groups"]
    return (np.ascontiguousarray(x.reshape(n, g, c // g, h, w).transpose(0, 2, 1, 3, 4)).reshape(n, c, h, w),)


@register_kernel("flatten", "dense", "exact")
def k_flatten(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Collapse axes [axis:] into one and [:axis] into another (a view when contiguous)."""
    x = call.inputs[0]
    a = call.attrs["axis"]
    return (x.reshape(math.prod(x.shape[:a]), math.prod(x.shape[a:])),)


def reshape_target(call: KernelCall) -> tuple[int, ...]:
    """The declared target shape, with a leading batch dimension mapped to the actual batch."""
    x = call.inputs[0]
    target = tuple(call.attrs["shape"])
    if math.prod(target) == x.size:
        return target
    declared_batch = call.in_specs[0].shape[0]
    actual_batch = x.shape[0]
    if target and target[0] == declared_batch and actual_batch != declared_batch:
        mapped = (actual_batch,) + target[1:]
        if math.prod(mapped) == x.size:
            return mapped
    raise VerificationError(
        f"reshape to {list(target)} cannot run on an input of shape {list(x.shape)}: its target bakes in "
        f"batch {declared_batch} and no leading axis maps to batch {actual_batch}",
        where=f"node {call.node.name!r}")


@register_kernel("reshape", "dense", "exact")
def k_reshape(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Reinterpret the shape (a view when contiguous)."""
    return (call.inputs[0].reshape(reshape_target(call)),)


@register_kernel("identity", "dense", "exact")
def k_identity(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Pass-through (the same array)."""
    return (call.inputs[0],)


@register_kernel("dropout", "dense", "exact")
def k_dropout(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Identity at inference."""
    return (call.inputs[0],)
