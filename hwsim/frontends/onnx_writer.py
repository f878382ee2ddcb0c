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
- resize nearest is PyTorch's (asymmetric, floor), linear is half-pixel bilinear (align_corners=False).

Weights come from ``graph.dense_weight``: encoded or quantized weights are written as their decoded float
values. Activations must be fp32 (ONNX export covers fp32 graphs).
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


def graph_to_onnx(graph: OpGraph) -> onnx.ModelProto:
    """The ONNX model (opset 17, fp32, weights as initializers) computing what ``graph`` computes."""
    for name, spec in graph.tensors.items():
        if not spec.is_weight and spec.dtype != FP32:
            raise ModelFormatError(f"tensor {name!r} is {spec.dtype.name}; ONNX export covers fp32 graphs",
                                   source=graph.source)
    e = _Export(graph)
    for node in graph.nodes:
        if node.op not in EXPORTERS:
            raise ModelFormatError(f"op {node.op!r} cannot be exported to ONNX; exportable ops: "
                                   f"{', '.join(sorted(EXPORTERS.keys()))}", source=graph.source,
                                   where=f"node {node.name!r}")
        EXPORTERS.get(node.op)(e, node)

    def info(t: str) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(t, TensorProto.FLOAT, list(graph.tensor(t).shape))

    g = helper.make_graph(e.nodes, graph.name, [info(t) for t in graph.inputs], [info(t) for t in graph.outputs],
                          initializer=e.initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hwsim",
                              doc_string=f"exported by hwsim from {graph.source or graph.name}")
    model.ir_version = IR_VERSION
    return model


def save_onnx(graph: OpGraph, path: str | Path) -> None:
    """Export and write atomically (temp file + rename: readers never see a half-written model)."""
    atomic_write(path, graph_to_onnx(graph).SerializeToString(), ModelFormatError)


__all__ = ["EXPORTERS", "OPSET", "graph_to_onnx", "save_onnx"]
