"""Write an OpGraph as an ONNX model (opset 17) that computes exactly what hwsim's ops define.

One exporter per hwsim op kind (``EXPORTERS``). Semantics that must survive the trip, because
onnxruntime runs these files as an independent check of hwsim's kernels:

- conv2d padding (top, left, bottom, right) is ONNX's (x1_begin, x2_begin, x1_end, x2_end);
- linear weights are [out, in]: rank-2 inputs use ``Gemm(transB=1)``, other ranks ``MatMul`` with the
  transposed weight (initializer named like the weight) followed by ``Add`` of the bias;
- layernorm normalizes the last axis; softmax uses the node's axis;
- gelu is the erf form x * 0.5 * (1 + erf(x / sqrt 2)) (opset 17 has no Gelu op);
- relu6 is Clip(0, 6); silu is x * Sigmoid(x); sign is +1 for x >= 0, else -1;
- channel_shuffle is Reshape -> Transpose -> Reshape; dropout is inference-mode Dropout (identity);
- resize nearest is PyTorch's (asymmetric, floor), linear is half-pixel bilinear (align_corners=False);
- comparisons and argmax, which hwsim holds as float values, are cast back to float; ``where`` casts its
  condition to bool (non-zero is true); ``cast`` to int truncates toward zero (Cast to int64 and back);
  a ``clip`` bound that is infinite is left out; a ``constant`` node is an initializer under its output's
  name; ``gather`` with an int index writes a 0-d index (the axis drops); ``slice`` writes hwsim's
  normalized bounds for every axis (a negative step's "through index 0" as -(dim + 1));
- the decoder ops are spelled with standard ops: rmsnorm as Mul / ReduceMean / Sqrt / Div / Mul, rope as
  Slice / Neg / Concat times constant cos / sin tables (the positions of a phase graph are fixed),
  kv_append as Concat (ONNX has no in-place state), causal_mask as Where over the constant pattern.

Every op kind has an exporter except the structured-matrix layers of compressed models (circulant,
fastfood) and early-exit decisions (a test holds the list). Weights come from ``graph.dense_weight``:
encoded or quantized weights are written as their decoded float values. Activations must be fp32;
integer graph inputs (token ids) are written as int32 / int64 inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hwsim.fileio import atomic_write
from hwsim.errors import ModelFormatError
from hwsim.ir.dtypes import FP32
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.opdefs.llm import rope_tables
from hwsim.registry import Registry

OPSET = 17
IR_VERSION = 8  # the IR version of opset 17: readable by every onnxruntime since 1.13


class _Export:
    """Accumulates ONNX nodes and initializers; hands out unique names for helper tensors."""

    def __init__(self, graph: OpGraph) -> None:
        self.graph = graph
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.names: set[str] = set(graph.tensors) | {n.name for n in graph.nodes}

    def unique(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def const(self, base: str, value: Any, dtype: Any = np.float32) -> str:
        name = self.unique(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def weight(self, node: Node, slot: str, transform: Callable[[np.ndarray], np.ndarray] | None = None) -> str:
        """The weight as an initializer named like the hwsim weight tensor."""
        tname = node.params[slot]
        arr = np.asarray(self.graph.dense_weight(tname), dtype=np.float32)
        if transform is not None:
            arr = np.ascontiguousarray(transform(arr))
        self.initializers.append(numpy_helper.from_array(arr, tname))
        return tname

    def emit(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], name: str, **attrs: Any) -> None:
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=name, **attrs))


Exporter = Callable[[_Export, Node], None]
EXPORTERS: Registry[str, Exporter] = Registry("ONNX exporter for op")


def _exporter(*ops: str) -> Callable[[Exporter], Exporter]:
    def wrap(fn: Exporter) -> Exporter:
        for op in ops:
            EXPORTERS.register(op, fn)
        return fn
    return wrap


def _in(n: Node) -> str:
    return n.inputs[0]


def _out(n: Node) -> str:
    return n.outputs[0]


@_exporter("conv2d")
def _conv(e: _Export, n: Node) -> None:
    a = n.attrs
    ins = [_in(n), e.weight(n, "weight")] + ([e.weight(n, "bias")] if a["bias"] else [])
    e.emit("Conv", ins, [_out(n)], n.name, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
           pads=list(a["padding"]), dilations=list(a["dilation"]), group=int(a["groups"]))


@_exporter("linear")
def _linear(e: _Export, n: Node) -> None:
    rank = len(e.graph.tensor(_in(n)).shape)
    bias = n.attrs["bias"]
    if rank == 2:
        ins = [_in(n), e.weight(n, "weight")] + ([e.weight(n, "bias")] if bias else [])
        e.emit("Gemm", ins, [_out(n)], n.name, transB=1)
        return
    mm_out = e.unique(f"{_out(n)}/matmul") if bias else _out(n)
    e.emit("MatMul", [_in(n), e.weight(n, "weight", np.transpose)], [mm_out], n.name)
    if bias:
        e.emit("Add", [mm_out, e.weight(n, "bias")], [_out(n)], e.unique(f"{n.name}/bias"))


@_exporter("matmul")
def _matmul(e: _Export, n: Node) -> None:
    e.emit("MatMul", list(n.inputs), [_out(n)], n.name)


@_exporter("batchnorm")
def _batchnorm(e: _Export, n: Node) -> None:
    ins = [_in(n)] + [e.weight(n, s) for s in ("gamma", "beta", "mean", "var")]
    e.emit("BatchNormalization", ins, [_out(n)], n.name, epsilon=float(n.attrs["eps"]))


@_exporter("layernorm")
def _layernorm(e: _Export, n: Node) -> None:
    ins = [_in(n), e.weight(n, "gamma"), e.weight(n, "beta")]
    e.emit("LayerNormalization", ins, [_out(n)], n.name, axis=-1, epsilon=float(n.attrs["eps"]))


_SIMPLE = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "hardswish": "HardSwish",
           "global_avgpool": "GlobalAveragePool", "identity": "Identity"}


@_exporter("relu", "sigmoid", "tanh", "hardswish", "global_avgpool", "identity")
def _simple(e: _Export, n: Node) -> None:
    e.emit(_SIMPLE[n.op], [_in(n)], [_out(n)], n.name)


@_exporter("relu6")
def _relu6(e: _Export, n: Node) -> None:
    lo, hi = e.const(f"{n.name}/min", 0.0), e.const(f"{n.name}/max", 6.0)
    e.emit("Clip", [_in(n), lo, hi], [_out(n)], n.name)


@_exporter("leaky_relu")
def _leaky(e: _Export, n: Node) -> None:
    e.emit("LeakyRelu", [_in(n)], [_out(n)], n.name, alpha=float(n.attrs["alpha"]))


@_exporter("gelu")
def _gelu(e: _Export, n: Node) -> None:
    x, p = _in(n), n.name
    t = [e.unique(f"{p}/{s}") for s in ("div", "erf", "add", "mul")]
    e.emit("Div", [x, e.const(f"{p}/sqrt2", math.sqrt(2.0))], [t[0]], t[0])
    e.emit("Erf", [t[0]], [t[1]], t[1])
    e.emit("Add", [t[1], e.const(f"{p}/one", 1.0)], [t[2]], t[2])
    e.emit("Mul", [x, t[2]], [t[3]], t[3])
    e.emit("Mul", [t[3], e.const(f"{p}/half", 0.5)], [_out(n)], p)


@_exporter("silu")
def _silu(e: _Export, n: Node) -> None:
    s = e.unique(f"{n.name}/sigmoid")
    e.emit("Sigmoid", [_in(n)], [s], s)
    e.emit("Mul", [_in(n), s], [_out(n)], n.name)


@_exporter("sign")
def _sign(e: _Export, n: Node) -> None:
    ge = e.unique(f"{n.name}/ge")
    e.emit("GreaterOrEqual", [_in(n), e.const(f"{n.name}/zero", 0.0)], [ge], ge)
    e.emit("Where", [ge, e.const(f"{n.name}/pos", 1.0), e.const(f"{n.name}/neg", -1.0)], [_out(n)], n.name)


@_exporter("softmax")
def _softmax(e: _Export, n: Node) -> None:
    e.emit("Softmax", [_in(n)], [_out(n)], n.name, axis=int(n.attrs["axis"]))


@_exporter("maxpool", "avgpool")
def _pool(e: _Export, n: Node) -> None:
    a = n.attrs
    attrs: dict[str, Any] = {"kernel_shape": list(a["kernel"]), "strides": list(a["stride"]),
                             "pads": list(a["padding"]), "ceil_mode": int(a["ceil_mode"])}
    if n.op == "avgpool":
        attrs["count_include_pad"] = int(a["count_include_pad"])
    e.emit("MaxPool" if n.op == "maxpool" else "AveragePool", [_in(n)], [_out(n)], n.name, **attrs)


@_exporter("add")
def _add(e: _Export, n: Node) -> None:
    e.emit("Add" if len(n.inputs) == 2 else "Sum", list(n.inputs), [_out(n)], n.name)


@_exporter("mul")
def _mul(e: _Export, n: Node) -> None:
    e.emit("Mul", list(n.inputs), [_out(n)], n.name)


@_exporter("concat")
def _concat(e: _Export, n: Node) -> None:
    e.emit("Concat", list(n.inputs), [_out(n)], n.name, axis=int(n.attrs["axis"]))


@_exporter("split")
def _split(e: _Export, n: Node) -> None:
    sizes = e.const(f"{n.name}/sizes", n.attrs["sizes"], np.int64)
    e.emit("Split", [_in(n), sizes], list(n.outputs), n.name, axis=int(n.attrs["axis"]))


@_exporter("transpose")
def _transpose(e: _Export, n: Node) -> None:
    e.emit("Transpose", [_in(n)], [_out(n)], n.name, perm=list(n.attrs["perm"]))


@_exporter("pad")
def _pad(e: _Export, n: Node) -> None:
    a = n.attrs
    ins = [_in(n), e.const(f"{n.name}/pads", a["pads"], np.int64)]
    if a["mode"] == "constant":
        ins.append(e.const(f"{n.name}/value", a["value"]))
    e.emit("Pad", ins, [_out(n)], n.name, mode=a["mode"])


@_exporter("resize")
def _resize(e: _Export, n: Node) -> None:
    shape = e.graph.tensor(_out(n)).shape
    sizes = e.const(f"{n.name}/sizes", list(shape), np.int64)
    if n.attrs["mode"] == "nearest":
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    else:
        attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    e.emit("Resize", [_in(n), "", "", sizes], [_out(n)], n.name, **attrs)


@_exporter("channel_shuffle")
def _shuffle(e: _Export, n: Node) -> None:
    b, c, h, w = e.graph.tensor(_in(n)).shape
    g = int(n.attrs["groups"])
    t1, t2 = e.unique(f"{n.name}/grouped"), e.unique(f"{n.name}/swapped")
    e.emit("Reshape", [_in(n), e.const(f"{n.name}/shape5", [b, g, c // g, h, w], np.int64)], [t1], t1)
    e.emit("Transpose", [t1], [t2], t2, perm=[0, 2, 1, 3, 4])
    e.emit("Reshape", [t2, e.const(f"{n.name}/shape4", [b, c, h, w], np.int64)], [_out(n)], n.name)


@_exporter("flatten")
def _flatten(e: _Export, n: Node) -> None:
    e.emit("Flatten", [_in(n)], [_out(n)], n.name, axis=int(n.attrs["axis"]))


@_exporter("reshape")
def _reshape(e: _Export, n: Node) -> None:
    e.emit("Reshape", [_in(n), e.const(f"{n.name}/shape", n.attrs["shape"], np.int64)], [_out(n)], n.name)


@_exporter("dropout")
def _dropout(e: _Export, n: Node) -> None:
    e.emit("Dropout", [_in(n), e.const(f"{n.name}/ratio", float(n.attrs["p"]))], [_out(n)], n.name)


# --- elementwise arithmetic, unary math, comparisons -----------------------------------------------

_BINARY = {"sub": "Sub", "div": "Div", "pow": "Pow", "min": "Min", "max": "Max"}


@_exporter(*_BINARY)
def _binary(e: _Export, n: Node) -> None:
    e.emit(_BINARY[n.op], list(n.inputs), [_out(n)], n.name)


_COMPARE = {"equal": "Equal", "less": "Less", "greater": "Greater"}


@_exporter(*_COMPARE)
def _compare(e: _Export, n: Node) -> None:
    """hwsim holds a comparison as 1.0 / 0.0 in float: the boolean result cast back to float."""
    b = e.unique(f"{n.name}/bool")
    e.emit(_COMPARE[n.op], list(n.inputs), [b], b)
    e.emit("Cast", [b], [_out(n)], n.name, to=TensorProto.FLOAT)


@_exporter("where")
def _where(e: _Export, n: Node) -> None:
    """The condition is any non-zero value (hwsim masks are floats): cast to bool first."""
    cond = e.unique(f"{n.name}/condition")
    e.emit("Cast", [n.inputs[0]], [cond], cond, to=TensorProto.BOOL)
    e.emit("Where", [cond, n.inputs[1], n.inputs[2]], [_out(n)], n.name)


_UNARY = {"sqrt": "Sqrt", "reciprocal": "Reciprocal", "exp": "Exp", "log": "Log", "erf": "Erf", "neg": "Neg",
          "abs": "Abs", "floor": "Floor"}


@_exporter(*_UNARY)
def _unary(e: _Export, n: Node) -> None:
    e.emit(_UNARY[n.op], [_in(n)], [_out(n)], n.name)


@_exporter("hardsigmoid")
def _hardsigmoid(e: _Export, n: Node) -> None:
    e.emit("HardSigmoid", [_in(n)], [_out(n)], n.name, alpha=float(n.attrs["alpha"]), beta=float(n.attrs["beta"]))


@_exporter("clip")
def _clip(e: _Export, n: Node) -> None:
    """An infinite bound is no bound: its input is left out."""
    lo, hi = n.attrs["min"], n.attrs["max"]
    ins = [_in(n), e.const(f"{n.name}/min", lo) if math.isfinite(lo) else "",
           e.const(f"{n.name}/max", hi) if math.isfinite(hi) else ""]
    while ins[-1] == "":
        ins.pop()
    e.emit("Clip", ins, [_out(n)], n.name)


@_exporter("power")
def _power(e: _Export, n: Node) -> None:
    e.emit("Pow", [_in(n), e.const(f"{n.name}/exponent", n.attrs["exponent"])], [_out(n)], n.name)


@_exporter("cast")
def _cast(e: _Export, n: Node) -> None:
    """float: unchanged; int: toward zero (a cast to int64 truncates); bool: x != 0; the result in float."""
    if n.attrs["to"] == "float":
        e.emit("Identity", [_in(n)], [_out(n)], n.name)
        return
    mid = e.unique(f"{n.name}/{n.attrs['to']}")
    e.emit("Cast", [_in(n)], [mid], mid, to=TensorProto.INT64 if n.attrs["to"] == "int" else TensorProto.BOOL)
    e.emit("Cast", [mid], [_out(n)], n.name, to=TensorProto.FLOAT)


# --- reductions ------------------------------------------------------------------------------------

@_exporter("reduce_sum")
def _reduce_sum(e: _Export, n: Node) -> None:
    axes = e.const(f"{n.name}/axes", n.attrs["axes"], np.int64)  # an input since opset 13
    e.emit("ReduceSum", [_in(n), axes], [_out(n)], n.name, keepdims=int(n.attrs["keepdims"]))


_REDUCE = {"reduce_mean": "ReduceMean", "reduce_max": "ReduceMax", "reduce_min": "ReduceMin",
           "reduce_l1": "ReduceL1", "reduce_l2": "ReduceL2", "reduce_sum_square": "ReduceSumSquare"}


@_exporter(*_REDUCE)
def _reduce(e: _Export, n: Node) -> None:
    e.emit(_REDUCE[n.op], [_in(n)], [_out(n)], n.name, axes=list(n.attrs["axes"]), keepdims=int(n.attrs["keepdims"]))


@_exporter("argmax")
def _argmax(e: _Export, n: Node) -> None:
    """The first maximum's index, held as a float value."""
    idx = e.unique(f"{n.name}/index")
    e.emit("ArgMax", [_in(n)], [idx], idx, axis=int(n.attrs["axis"]), keepdims=int(n.attrs["keepdims"]))
    e.emit("Cast", [idx], [_out(n)], n.name, to=TensorProto.FLOAT)


# --- constants and indexing ------------------------------------------------------------------------

@_exporter("constant")
def _constant(e: _Export, n: Node) -> None:
    """A stored tensor: an initializer under the node's output name."""
    value = np.asarray(e.graph.dense_weight(n.params["value"]), dtype=np.float32)
    e.initializers.append(numpy_helper.from_array(value, _out(n)))


@_exporter("gather")
def _gather(e: _Export, n: Node) -> None:
    """Constant indices; an int index (not a list) drops the axis, as a 0-d index tensor does."""
    idx = e.const(f"{n.name}/indices", n.attrs["indices"], np.int64)
    e.emit("Gather", [_in(n), idx], [_out(n)], n.name, axis=int(n.attrs["axis"]))


@_exporter("embedding")
def _embedding(e: _Export, n: Node) -> None:
    e.emit("Gather", [e.weight(n, "weight"), _in(n)], [_out(n)], n.name, axis=0)


@_exporter("slice")
def _slice(e: _Export, n: Node) -> None:
    """hwsim's normalized (start, stop, step) per axis; a stop of -1 with a negative step ('through index
    0') is written as -(dim + 1), which ONNX clamps to the same place."""
    shape = e.graph.tensor(_in(n)).shape
    a = n.attrs
    ends = [(-d - 1) if (st < 0 and en == -1) else en for en, st, d in zip(a["ends"], a["steps"], shape)]
    ins = [_in(n), e.const(f"{n.name}/starts", a["starts"], np.int64), e.const(f"{n.name}/ends", ends, np.int64),
           e.const(f"{n.name}/axes", list(range(len(shape))), np.int64),
           e.const(f"{n.name}/steps", a["steps"], np.int64)]
    e.emit("Slice", ins, [_out(n)], n.name)


@_exporter("expand")
def _expand(e: _Export, n: Node) -> None:
    e.emit("Expand", [_in(n), e.const(f"{n.name}/shape", n.attrs["shape"], np.int64)], [_out(n)], n.name)


@_exporter("tile")
def _tile(e: _Export, n: Node) -> None:
    e.emit("Tile", [_in(n), e.const(f"{n.name}/repeats", n.attrs["repeats"], np.int64)], [_out(n)], n.name)


# --- decoder LLM ops (opset 17 has none of them: spelled with standard ops) -------------------------

@_exporter("rmsnorm")
def _rmsnorm(e: _Export, n: Node) -> None:
    """x / sqrt(mean(x^2, last axis) + eps) * gamma."""
    x, p = _in(n), n.name
    sq, ms, add, root, norm = (e.unique(f"{p}/{s}") for s in ("square", "mean", "eps", "sqrt", "normalized"))
    e.emit("Mul", [x, x], [sq], sq)
    e.emit("ReduceMean", [sq], [ms], ms, axes=[-1], keepdims=1)
    e.emit("Add", [ms, e.const(f"{p}/epsilon", float(n.attrs["eps"]))], [add], add)
    e.emit("Sqrt", [add], [root], root)
    e.emit("Div", [x, root], [norm], norm)
    e.emit("Mul", [norm, e.weight(n, "gamma")], [_out(n)], p)


@_exporter("rope")
def _rope(e: _Export, n: Node) -> None:
    """Rotate-half rotary embedding of the first rotary_dim features at positions offset.. (the cos / sin
    tables are constants of the graph: its positions are fixed)."""
    x, p, a = _in(n), n.name, n.attrs
    shape = e.graph.tensor(x).shape
    rd, d, tokens = int(a["rotary_dim"]), shape[-1], shape[-2]
    half = rd // 2
    cos, sin = rope_tables(np.arange(a["offset"], a["offset"] + tokens), rd, float(a["base"]))
    last = len(shape) - 1

    def part(name: str, start: int, end: int) -> str:
        out = e.unique(f"{p}/{name}")
        e.emit("Slice", [x, e.const(f"{out}/starts", [start], np.int64), e.const(f"{out}/ends", [end], np.int64),
                         e.const(f"{out}/axes", [last], np.int64)], [out], out)
        return out

    lo, hi = part("first_half", 0, half), part("second_half", half, rd)
    neg, rot, rotated = e.unique(f"{p}/neg"), e.unique(f"{p}/rot"), e.unique(f"{p}/rotated")
    e.emit("Neg", [hi], [neg], neg)
    e.emit("Concat", [neg, lo], [rotated], rotated, axis=last)
    e.emit("Concat", [lo, hi], [rot], rot, axis=last)
    c, s_, out = e.unique(f"{p}/times_cos"), e.unique(f"{p}/times_sin"), e.unique(f"{p}/rotary")
    e.emit("Mul", [rot, e.const(f"{p}/cos", cos)], [c], c)
    e.emit("Mul", [rotated, e.const(f"{p}/sin", sin)], [s_], s_)
    if rd == d:
        e.emit("Add", [c, s_], [_out(n)], p)
        return
    e.emit("Add", [c, s_], [out], out)
    e.emit("Concat", [out, part("pass_through", rd, d)], [_out(n)], p, axis=last)


@_exporter("kv_append")
def _kv_append(e: _Export, n: Node) -> None:
    """The cache followed by the new entries (in place on a device; ONNX has no state: a concatenation)."""
    e.emit("Concat", list(n.inputs), [_out(n)], n.name, axis=int(n.attrs["axis"]))


@_exporter("causal_mask")
def _causal_mask(e: _Export, n: Node) -> None:
    """Scores of future keys set to -inf: a Where over the constant pattern of allowed (row, key) pairs."""
    rows, cols = e.graph.tensor(_in(n)).shape[-2:]
    q = np.arange(rows) % int(n.attrs["queries"])
    allowed = np.arange(cols)[None, :] <= (int(n.attrs["offset"]) + q)[:, None]
    e.emit("Where", [e.const(f"{n.name}/allowed", allowed, np.bool_), _in(n), e.const(f"{n.name}/minus_inf", -np.inf)],
           [_out(n)], n.name)


_ELEM_TYPES = {("float", 32): TensorProto.FLOAT, ("int", 32): TensorProto.INT32, ("int", 64): TensorProto.INT64}


def graph_to_onnx(graph: OpGraph) -> onnx.ModelProto:
    """The ONNX model (opset 17, fp32, weights as initializers) computing what ``graph`` computes."""
    for name, spec in graph.tensors.items():
        if spec.is_weight or spec.dtype == FP32 or (name in graph.inputs and _elem_type(spec) is not None):
            continue
        raise ModelFormatError(f"tensor {name!r} is {spec.dtype.name}; ONNX export covers fp32 graphs (integer "
                               "graph inputs such as token ids allowed)", source=graph.source)
    e = _Export(graph)
    for node in graph.nodes:
        if node.op not in EXPORTERS:
            raise ModelFormatError(f"op {node.op!r} cannot be exported to ONNX; exportable ops: "
                                   f"{', '.join(sorted(EXPORTERS.keys()))}", source=graph.source,
                                   where=f"node {node.name!r}")
        EXPORTERS.get(node.op)(e, node)

    def info(t: str) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(t, _elem_type(graph.tensor(t)) or TensorProto.FLOAT,
                                             list(graph.tensor(t).shape))

    g = helper.make_graph(e.nodes, graph.name, [info(t) for t in graph.inputs], [info(t) for t in graph.outputs],
                          initializer=e.initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hwsim",
                              doc_string=f"exported by hwsim from {graph.source or graph.name}")
    model.ir_version = IR_VERSION
    return model


def _elem_type(spec: Any) -> int | None:
    """The ONNX element type of an fp32 or int32 / int64 tensor (None: none hwsim writes)."""
    kind = "float" if spec.dtype.is_float else "int" if spec.dtype.kind == "int" else spec.dtype.kind
    return _ELEM_TYPES.get((kind, spec.dtype.bits))


def save_onnx(graph: OpGraph, path: str | Path) -> None:
    """Export and write atomically (temp file + rename: readers never see a half-written model)."""
    atomic_write(path, graph_to_onnx(graph).SerializeToString(), ModelFormatError)


__all__ = ["EXPORTERS", "OPSET", "graph_to_onnx", "save_onnx"]
