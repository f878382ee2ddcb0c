"""ONNX op -> hwsim node converters (``CONVERTERS``, keyed by ONNX op type).

Each converter reads one decoded ONNX node and emits hwsim nodes, turning constant operands into weight
tensors in hwsim's layouts (linear weight [out, in], conv weight [out, in/groups, kh, kw]). Add, Sub,
Mul and Div with a constant operand become pending nodes that ``onnx_constants`` folds into the producing
conv / linear / batchnorm.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hwsim.frontends.onnx_context import ADD_CONST, MUL_CONST, ReadContext
from hwsim.frontends.onnx_fold import OnnxNode
from hwsim.registry import Registry


Converter = Callable[[ReadContext, OnnxNode], None]
CONVERTERS: Registry[str, Converter] = Registry("ONNX op")
#: fused multi-op patterns (see onnx_fold.fuse_patterns); not ONNX op types, so not listed as supported
FUSED: dict[str, Converter] = {}


def _converter(*op_types: str) -> Callable[[Converter], Converter]:
    def wrap(fn: Converter) -> Converter:
        for op in op_types:
            (FUSED.__setitem__(op, fn) if op.startswith("fused.") else CONVERTERS.register(op, fn))
        return fn
    return wrap


def supported_ops() -> list[str]:
    return sorted(CONVERTERS.keys())


def _scalar(value: np.ndarray) -> float:
    """The first element as a float, float32 values as their shortest decimal (0.2, not 0.200000003)."""
    v = value.reshape(-1)[0]
    return float(str(v)) if isinstance(v, np.float32) else float(v)


def _ints(value: Any, n: int, default: int) -> list[int]:
    return [int(v) for v in value] if value is not None else [default] * n


def _window_attrs(ctx: ReadContext, node: OnnxNode, kernel: Sequence[int]) -> dict[str, Any]:
    """strides / pads / auto_pad of Conv and pooling ops -> hwsim stride and padding (top, left, bottom, right)."""
    if len(kernel) != 2:
        raise ctx.error(node, f"only 2-D windows are supported, got kernel {list(kernel)}")
    auto_pad = node.attr("auto_pad", "NOTSET")
    stride = _ints(node.attr("strides"), 2, 1)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        padding: Any = auto_pad.lower()
    elif auto_pad == "VALID":
        padding = [0, 0, 0, 0]
    elif auto_pad == "NOTSET":
        padding = _ints(node.attr("pads"), 4, 0)
    else:
        raise ctx.error(node, f"auto_pad {auto_pad!r} unknown")
    return {"kernel": [int(k) for k in kernel], "stride": stride, "padding": padding}


# --- dense ops -------------------------------------------------------------------------------------

@_converter("Conv")
def _conv(ctx: ReadContext, node: OnnxNode) -> None:
    x = ctx.act(node, 0)
    w = ctx.float_array(node, ctx.need_const(node, 1, "the Conv weight"), "the Conv weight")
    if w.ndim != 4:
        raise ctx.error(node, f"only 2-D convolution is supported (weight shape {list(w.shape)})")
    attrs = _window_attrs(ctx, node, node.attr("kernel_shape") or w.shape[2:])
    attrs.update(out_channels=int(w.shape[0]), dilation=_ints(node.attr("dilations"), 2, 1),
                 groups=int(node.attr("group", 1)))
    name = ctx.node_name(node)
    params = {"weight": ctx.weight(node.input(1), f"{name}.weight", w)}
    if node.input(2):
        b = ctx.float_array(node, ctx.need_const(node, 2, "the Conv bias"), "the Conv bias")
        params["bias"] = ctx.weight(node.input(2), f"{name}.bias", b.reshape(-1))
    attrs["bias"] = "bias" in params
    ctx.emit(node, "conv2d", [x], [node.outputs[0]], attrs, params, name=name)


def _linear(ctx: ReadContext, node: OnnxNode, x: str, weight_out_in: np.ndarray, weight_name: str,
            bias: np.ndarray | None, bias_name: str, name: str) -> None:
    params = {"weight": ctx.weight(weight_name, f"{name}.weight", weight_out_in)}
    if bias is not None:
        params["bias"] = ctx.weight(bias_name, f"{name}.bias", bias)
    ctx.emit(node, "linear", [x], [node.outputs[0]], {"out_features": int(weight_out_in.shape[0]),
                                                      "bias": bias is not None}, params, name=name)


@_converter("Gemm")
def _gemm(ctx: ReadContext, node: OnnxNode) -> None:
    """Y = alpha * A' B' + beta * C. A constant B becomes a linear weight [out, in] = alpha * B'^T."""
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    name = ctx.node_name(node)
    a = ctx.act(node, 0)
    if node.attr("transA", 0):
        a_t = ctx.tmp(f"{name}/transA")
        ctx.emit(node, "transpose", [a], [a_t], {"perm": [1, 0]}, name=ctx.node_name(node, "/transA"))
        a = a_t
    b = ctx.const(node.input(1))
    if b is None:  # two activations: a plain matmul
        if alpha != 1.0 or node.input(2):
            raise ctx.error(node, "Gemm of two activations is supported only with alpha = 1 and no C")
        bt = ctx.act(node, 1)
        if node.attr("transB", 0):
            bt2 = ctx.tmp(f"{name}/transB")
            ctx.emit(node, "transpose", [bt], [bt2], {"perm": [1, 0]}, name=ctx.node_name(node, "/transB"))
            bt = bt2
        ctx.emit(node, "matmul", [a, bt], [node.outputs[0]], name=name)
        return
    b = ctx.float_array(node, b, "the Gemm B operand")
    if b.ndim != 2:
        raise ctx.error(node, f"Gemm B must be a matrix, got shape {list(b.shape)}")
    w = (b if node.attr("transB", 0) else b.T) * np.float32(alpha)  # [out, in]
    a_shape = ctx.shape(node, node.input(0))
    if node.attr("transA", 0):
        a_shape = a_shape[::-1]
    if len(a_shape) != 2 or a_shape[-1] != w.shape[1]:
        raise ctx.error(node, f"Gemm of A {list(a_shape)} by B {list(b.shape)} (transB={node.attr('transB', 0)}): "
                              "the inner dimensions differ")
    bias = None
    if node.input(2):
        c = ctx.float_array(node, ctx.need_const(node, 2, "the Gemm C operand"), "the Gemm C operand") * np.float32(beta)
        out = w.shape[0]
        if c.size == 1 or c.shape in ((out,), (1, out)):
            bias = np.broadcast_to(c.reshape(-1), (out,)).copy()
        else:
            raise ctx.error(node, f"Gemm C of shape {list(c.shape)} is not a bias over {out} outputs")
    _linear(ctx, node, a, w, node.input(1), bias, node.input(2), name)


@_converter("MatMul")
def _matmul(ctx: ReadContext, node: OnnxNode) -> None:
    """A constant matrix on the right is a linear weight; anything else (two activations, a constant on
    the left, a batched constant) is a matmul of two graph tensors."""
    a_name, b_name = node.input(0), node.input(1)
    if not a_name or not b_name:
        raise ctx.error(node, "MatMul needs two inputs")
    b = ctx.const(b_name) if ctx.is_const(b_name) else None
    if b is not None and not ctx.is_const(a_name) and b.ndim == 2:
        b = ctx.float_array(node, b, "the MatMul weight")
        a_shape = ctx.shape(node, a_name)
        if not a_shape or a_shape[-1] != b.shape[0]:
            raise ctx.error(node, f"MatMul of {list(a_shape)} by a weight of shape {list(b.shape)}: the inner "
                                  "dimensions differ")
        _linear(ctx, node, a_name, b.T, b_name, None, "", ctx.node_name(node))
        return
    a, b_t = ctx.operand(node, 0), ctx.operand(node, 1)
    ranks = (len(_shape_of(ctx, node, 0)), len(_shape_of(ctx, node, 1)))
    if min(ranks) < 2:
        raise ctx.error(node, f"MatMul of rank-{ranks[0]} and rank-{ranks[1]} operands: hwsim's matmul needs "
                              "rank >= 2 operands")
    ctx.emit(node, "matmul", [a, b_t], [node.outputs[0]])


def _shape_of(ctx: ReadContext, node: OnnxNode, i: int) -> tuple[int, ...]:
    t = node.input(i)
    if ctx.is_const(t):
        return tuple(ctx.consts[t].shape)
    return ctx.shape(node, t)


# --- normalization ---------------------------------------------------------------------------------

@_converter("BatchNormalization")
def _batchnorm(ctx: ReadContext, node: OnnxNode) -> None:
    if node.attr("training_mode", 0):
        raise ctx.error(node, "training_mode=1 is not supported (hwsim models inference)")
    name = ctx.node_name(node)
    params = {}
    for i, slot in enumerate(("gamma", "beta", "mean", "var"), start=1):
        arr = ctx.float_array(node, ctx.need_const(node, i, f"BatchNormalization {slot}"), slot).reshape(-1)
        params[slot] = ctx.weight(node.input(i), f"{name}.{slot}", arr)
    ctx.emit(node, "batchnorm", [ctx.act(node, 0)], [node.outputs[0]], {"eps": float(node.attr("epsilon", 1e-5))},
             params, name=name)


@_converter("LayerNormalization")
def _layernorm(ctx: ReadContext, node: OnnxNode) -> None:
    x = ctx.act(node, 0)
    rank = len(ctx.shape(node, x))
    axis = int(node.attr("axis", -1))
    if axis % rank != rank - 1:
        raise ctx.error(node, f"LayerNormalization over axes {axis}.. of a rank-{rank} input: hwsim's layernorm "
                              "normalizes the last axis only")
    d = ctx.shape(node, x)[-1]
    name = ctx.node_name(node)
    gamma = ctx.float_array(node, ctx.need_const(node, 1, "LayerNormalization scale"), "scale")
    beta = (ctx.float_array(node, ctx.need_const(node, 2, "LayerNormalization bias"), "bias")
            if node.input(2) else np.zeros(d, np.float32))
    params = {"gamma": ctx.weight(node.input(1), f"{name}.gamma", np.broadcast_to(gamma.reshape(-1), (d,))),
              "beta": ctx.weight(node.input(2), f"{name}.beta", np.broadcast_to(beta.reshape(-1), (d,)))}
    ctx.emit(node, "layernorm", [x], [node.outputs[0]], {"eps": float(node.attr("epsilon", 1e-5))}, params,
             name=name)


# --- activations -----------------------------------------------------------------------------------

_POINTWISE = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish",
              "Identity": "identity", "fused.Silu": "silu"}


@_converter(*_POINTWISE)
def _pointwise(ctx: ReadContext, node: OnnxNode) -> None:
    ctx.emit(node, _POINTWISE[node.op_type], [ctx.act(node, 0)], [node.outputs[0]])


@_converter("LeakyRelu")
def _leaky(ctx: ReadContext, node: OnnxNode) -> None:
    ctx.emit(node, "leaky_relu", [ctx.act(node, 0)], [node.outputs[0]], {"alpha": float(node.attr("alpha", 0.01))})


@_converter("Gelu")
def _gelu(ctx: ReadContext, node: OnnxNode) -> None:
    if node.attr("approximate", "none") != "none":
        raise ctx.error(node, f"Gelu approximate={node.attr('approximate')!r}: hwsim's gelu is the exact erf form")
    ctx.emit(node, "gelu", [ctx.act(node, 0)], [node.outputs[0]])


@_converter("Clip")
def _clip(ctx: ReadContext, node: OnnxNode) -> None:
    """Clip 0..6 is relu6 and 0..inf relu (the forms fusion and passes know); any other range is clip."""
    lo = ctx.need_values(node, 1, "Clip min") if node.input(1) else None
    hi = ctx.need_values(node, 2, "Clip max") if node.input(2) else None
    lo_v = _scalar(lo) if lo is not None else float(node.attr("min", -math.inf))
    hi_v = _scalar(hi) if hi is not None else float(node.attr("max", math.inf))
    x = ctx.act(node, 0)
    if lo_v == 0.0 and hi_v == 6.0:
        ctx.emit(node, "relu6", [x], [node.outputs[0]])
    elif lo_v == 0.0 and hi_v == math.inf:
        ctx.emit(node, "relu", [x], [node.outputs[0]])
    else:
        if lo_v > hi_v:
            raise ctx.error(node, f"Clip min {lo_v} is larger than max {hi_v}")
        ctx.emit(node, "clip", [x], [node.outputs[0]], {"min": lo_v, "max": hi_v})


@_converter("Softmax")
def _softmax(ctx: ReadContext, node: OnnxNode) -> None:
    ctx.emit(node, "softmax", [ctx.act(node, 0)], [node.outputs[0]], {"axis": int(node.attr("axis", -1))})


@_converter("Dropout")
def _dropout(ctx: ReadContext, node: OnnxNode) -> None:
    ratio = ctx.const(node.input(1))
    p = _scalar(ratio) if ratio is not None else float(node.attr("ratio", 0.5))
    ctx.emit(node, "dropout", [ctx.act(node, 0)], [node.outputs[0]], {"p": p})


# --- pooling ---------------------------------------------------------------------------------------

@_converter("MaxPool", "AveragePool")
def _pool(ctx: ReadContext, node: OnnxNode) -> None:
    kernel = node.attr("kernel_shape")
    if kernel is None:
        raise ctx.error(node, "kernel_shape is required")
    if any(d != 1 for d in node.attr("dilations") or []):
        raise ctx.error(node, "dilated pooling is not supported")
    if node.op_type == "MaxPool" and node.attr("storage_order", 0):
        raise ctx.error(node, "storage_order=1 is not supported")
    attrs = _window_attrs(ctx, node, kernel)
    attrs["ceil_mode"] = bool(node.attr("ceil_mode", 0))
    if node.op_type == "AveragePool":
        attrs["count_include_pad"] = bool(node.attr("count_include_pad", 0))
    ctx.emit(node, "maxpool" if node.op_type == "MaxPool" else "avgpool", [ctx.act(node, 0)], [node.outputs[0]],
             attrs)


@_converter("GlobalAveragePool")
def _gap(ctx: ReadContext, node: OnnxNode) -> None:
    ctx.emit(node, "global_avgpool", [ctx.act(node, 0)], [node.outputs[0]])


# --- elementwise -----------------------------------------------------------------------------------

_GENERIC_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Min": "min", "Max": "max",
                   "Pow": "pow", "Equal": "equal", "Less": "less", "Greater": "greater"}


@_converter("Add", "Sub", "Mul", "Div", "Sum", "Min", "Max", "Pow", "Equal", "Less", "Greater")
def _binary(ctx: ReadContext, node: OnnxNode) -> None:
    """Elementwise ops with broadcasting. A float constant added to / multiplied with (or subtracted
    from / divided into) an activation is first offered to the conv / linear / batchnorm producing it
    (``onnx_constants``: folded into its bias or scale); what does not fold stays an op with a
    ``constant`` operand. Pow by a scalar constant is ``power``."""
    if not node.inputs or not all(node.inputs):
        raise ctx.error(node, f"{node.op_type} has a missing input")
    consts = [t for t in node.inputs if ctx.is_const(t)]
    if len(consts) == len(node.inputs):
        raise ctx.error(node, f"every operand of {node.op_type} is constant but it was not folded")
    if node.op_type in ("Sum", "Min", "Max") and len(node.inputs) != 2:
        if node.op_type != "Sum" or consts:
            raise ctx.error(node, f"{node.op_type} of {len(node.inputs)} operands is supported only as a Sum of "
                                  "activations")
        ctx.emit(node, "add", [ctx.act(node, i) for i in range(len(node.inputs))], [node.outputs[0]])
        return
    if len(node.inputs) != 2:
        raise ctx.error(node, f"{node.op_type} takes 2 inputs, got {len(node.inputs)}")
    op = _GENERIC_BINARY["Add" if node.op_type == "Sum" else node.op_type]
    if node.op_type == "Pow" and ctx.is_const(node.input(1)) and ctx.consts[node.input(1)].size == 1:
        exponent = _scalar(ctx.consts[node.input(1)])
        if math.isfinite(exponent):
            ctx.emit(node, "power", [ctx.act(node, 0)], [node.outputs[0]], {"exponent": exponent})
            return
    foldable = node.op_type in ("Add", "Sum", "Mul") or (node.op_type in ("Sub", "Div") and ctx.is_const(node.input(1)))
    if consts and foldable and ctx.consts[consts[0]].dtype.kind == "f" and ctx.consts[consts[0]].size > 0:
        c_name = consts[0]
        x_index = 1 if node.inputs[0] == c_name else 0
        c = np.asarray(ctx.float_array(node, ctx.consts[c_name], f"the constant operand {c_name!r}"))
        if node.op_type == "Sub":
            c = -c
        elif node.op_type == "Div":
            with np.errstate(divide="ignore"):
                c = np.float32(1.0) / c
        pending = MUL_CONST if node.op_type in ("Mul", "Div") else ADD_CONST
        ctx.emit(node, pending, [ctx.act(node, x_index)], [node.outputs[0]],
                 {"value": c, "const": c_name, "generic": op, "const_index": 1 - x_index})
        return
    ctx.emit(node, op, [ctx.operand(node, 0), ctx.operand(node, 1)], [node.outputs[0]])


# --- data movement and views -----------------------------------------------------------------------

@_converter("Concat")
def _concat(ctx: ReadContext, node: OnnxNode) -> None:
    ctx.emit(node, "concat", [ctx.operand(node, i) for i in range(len(node.inputs))], [node.outputs[0]],
             {"axis": int(node.attr("axis"))})


@_converter("Split")
def _split(ctx: ReadContext, node: OnnxNode) -> None:
    x = ctx.act(node, 0)
    shape = ctx.shape(node, x)
    axis = int(node.attr("axis", 0)) % len(shape)
    if node.input(1):
        sizes = [int(s) for s in ctx.need_values(node, 1, "Split sizes").reshape(-1)]
    elif node.attr("split") is not None:
        sizes = [int(s) for s in node.attr("split")]
    else:
        parts = int(node.attr("num_outputs", len(node.outputs)))
        step = -(-shape[axis] // parts)
        sizes = [min(step, shape[axis] - i * step) for i in range(parts)]
    ctx.emit(node, "split", [x], list(node.outputs), {"axis": axis, "sizes": sizes})


@_converter("Flatten")
def _flatten(ctx: ReadContext, node: OnnxNode) -> None:
    ctx.emit(node, "flatten", [ctx.act(node, 0)], [node.outputs[0]], {"axis": int(node.attr("axis", 1))})


@_converter("Reshape")
def _reshape(ctx: ReadContext, node: OnnxNode) -> None:
    shape = [int(d) for d in ctx.need_values(node, 1, "the Reshape shape").reshape(-1)]
    if node.attr("allowzero", 0) and 0 in shape:
        raise ctx.error(node, "Reshape with allowzero=1 and a zero dimension is not supported")
    ctx.emit(node, "reshape", [ctx.act(node, 0)], [node.outputs[0]], {"shape": shape})


@_converter("Squeeze", "Unsqueeze")
def _squeeze(ctx: ReadContext, node: OnnxNode) -> None:
    """With static shapes these are reshapes to the shape ONNX shape inference gives."""
    ctx.emit(node, "reshape", [ctx.act(node, 0)], [node.outputs[0]],
             {"shape": list(ctx.shape(node, node.outputs[0]))})


@_converter("Transpose")
def _transpose(ctx: ReadContext, node: OnnxNode) -> None:
    attrs = {"perm": [int(p) for p in node.attr("perm")]} if node.attr("perm") is not None else {}
    ctx.emit(node, "transpose", [ctx.act(node, 0)], [node.outputs[0]], attrs)


@_converter("Pad")
def _pad(ctx: ReadContext, node: OnnxNode) -> None:
    x = ctx.act(node, 0)
    rank = len(ctx.shape(node, x))
    pads = [int(p) for p in ctx.need_values(node, 1, "the Pad pads").reshape(-1)]
    if node.input(3):  # opset 18 axes: pads cover only these axes
        axes = [int(a) % rank for a in ctx.need_values(node, 3, "the Pad axes").reshape(-1)]
        full = [0] * (2 * rank)
        for i, a in enumerate(axes):
            full[a], full[a + rank] = pads[i], pads[i + len(axes)]
        pads = full
    if any(p < 0 for p in pads):
        raise ctx.error(node, f"negative pads {pads} (cropping) are not supported")
    mode = node.attr("mode", "constant")
    if mode not in ("constant", "reflect", "edge"):
        raise ctx.error(node, f"Pad mode {mode!r} is not supported (constant, reflect, edge)")
    value = ctx.const(node.input(2))
    ctx.emit(node, "pad", [x], [node.outputs[0]],
             {"pads": pads, "mode": mode, "value": _scalar(value) if value is not None else 0.0})


_RESIZE_MODES = {("nearest", "asymmetric", "floor"): "nearest", ("linear", "half_pixel", None): "linear",
                 ("linear", "pytorch_half_pixel", None): "linear"}


@_converter("Resize")
def _resize(ctx: ReadContext, node: OnnxNode) -> None:
    """hwsim's resize is PyTorch's nearest (asymmetric, floor) or bilinear with half-pixel centres."""
    x = ctx.act(node, 0)
    mode = node.attr("mode", "nearest")
    ctm = node.attr("coordinate_transformation_mode", "half_pixel")
    nearest = node.attr("nearest_mode", "round_prefer_floor") if mode == "nearest" else None
    if (mode, ctm, nearest) not in _RESIZE_MODES:
        raise ctx.error(node, f"Resize mode={mode!r} coordinate_transformation_mode={ctm!r}"
                              + (f" nearest_mode={nearest!r}" if nearest else "") + " is not supported; hwsim "
                              "supports nearest/asymmetric/floor and linear/(pytorch_)half_pixel")
    src, out = ctx.shape(node, x), ctx.shape(node, node.outputs[0])
    if len(src) != 4 or out[:2] != src[:2]:
        raise ctx.error(node, f"Resize {list(src)} -> {list(out)}: only H and W of an NCHW tensor may change")
    ctx.emit(node, "resize", [x], [node.outputs[0]], {"sizes": [out[2], out[3]], "mode": _RESIZE_MODES[
        (mode, ctm, nearest)]})


@_converter("Cast")
def _cast(ctx: ReadContext, node: OnnxNode) -> None:
    """Cast to a float type is an identity (hwsim holds activations in their float dtype); to an integer
    or bool type it rounds the values (``cast``), still held as floats."""
    import onnx

    to = int(node.attr("to", 0))
    x = ctx.act(node, 0)
    if to in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16):
        ctx.emit(node, "identity", [x], [node.outputs[0]])
    elif to == onnx.TensorProto.BOOL:
        ctx.emit(node, "cast", [x], [node.outputs[0]], {"to": "bool"})
    elif to in (onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.INT16, onnx.TensorProto.INT8,
                onnx.TensorProto.UINT8):
        ctx.emit(node, "cast", [x], [node.outputs[0]], {"to": "int"})
    else:
        raise ctx.error(node, f"Cast to {onnx.TensorProto.DataType.Name(to) if to in onnx.TensorProto.DataType.values() else to}"
                              " is not supported")


@_converter("fused.ChannelShuffle")
def _shuffle(ctx: ReadContext, node: OnnxNode) -> None:
    ctx.emit(node, "channel_shuffle", [ctx.act(node, 0)], [node.outputs[0]], {"groups": int(node.attr("groups"))})
