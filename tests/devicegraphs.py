"""Small graphs for the device / cost / engine tests (import as ``from devicegraphs import ...``)."""

from __future__ import annotations

from hwsim.ir import BINARY, FP32, Node, OpGraph, TensorSpec
from hwsim.ir.dtypes import DType


def conv_graph(c: int = 16, k: int = 32, h: int = 16, kernel: int = 3, groups: int = 1, stride: int = 1,
               wdt: DType = FP32, adt: DType = FP32, algorithm: str = "direct", encoding: str = "dense",
               density: float = 1.0, stored_bits: int | None = None, meta: dict | None = None) -> OpGraph:
    attrs = {"out_channels": k, "kernel": kernel, "padding": kernel // 2, "groups": groups, "stride": stride,
             "algorithm": algorithm}
    wshape = (k, c // groups, kernel, kernel)
    ann = {"conv.weight": TensorSpec("conv.weight", wshape, wdt, "weight", encoding=encoding, density=density,
                                     stored_bits=stored_bits, meta=tuple(sorted((meta or {}).items())))}
    return OpGraph.build("conv", [TensorSpec("x", (1, c, h, h), adt)],
                         [Node("conv", "conv2d", ("x",), ("y",), attrs)], ["y"], annotations=ann)


def linear_graph(m: int = 1, k: int = 1024, n: int = 1024, wdt: DType = FP32, adt: DType = FP32,
                 encoding: str = "dense", density: float = 1.0, stored_bits: int | None = None,
                 meta: dict | None = None) -> OpGraph:
    ann = {"fc.weight": TensorSpec("fc.weight", (n, k), wdt, "weight", encoding=encoding, density=density,
                                   stored_bits=stored_bits, meta=tuple(sorted((meta or {}).items())))}
    return OpGraph.build("fc", [TensorSpec("x", (m, k), adt)],
                         [Node("fc", "linear", ("x",), ("y",), {"out_features": n, "bias": False})], ["y"],
                         annotations=ann)


def xnor_conv_graph(c: int = 256, k: int = 256, h: int = 14, binary: bool = True) -> OpGraph:
    """XNOR-Net's speed-up example layer (c = 256 channels, 14 x 14 input, 3 x 3 filters)."""
    dt = BINARY if binary else FP32
    return conv_graph(c=c, k=k, h=h, kernel=3, wdt=dt, adt=dt)


def small_net() -> OpGraph:
    """conv -> bn -> relu -> pool -> (add with a 1x1 conv branch) -> flatten -> linear -> softmax."""
    nodes = [
        Node("c1", "conv2d", ("x",), ("a",), {"out_channels": 16, "kernel": 3, "padding": 1}),
        Node("bn", "batchnorm", ("a",), ("b",)),
        Node("r", "relu", ("b",), ("c",)),
        Node("p", "maxpool", ("c",), ("d",), {"kernel": 2}),
        Node("c2", "conv2d", ("d",), ("e",), {"out_channels": 16, "kernel": 1}),
        Node("s", "add", ("d", "e"), ("f",)),
        Node("fl", "flatten", ("f",), ("g",)),
        Node("fc", "linear", ("g",), ("h",), {"out_features": 10}),
        Node("sm", "softmax", ("h",), ("y",)),
    ]
    return OpGraph.build("small", [TensorSpec("x", (1, 3, 32, 32))], nodes, ["y"])
