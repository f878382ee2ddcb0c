"""Small graphs for the Deep Compression family tests (pruning, formats, quantization, sharing)."""

from __future__ import annotations

import numpy as np

from hwsim.ir import Node, OpGraph, TensorSpec, WeightStore


def mlp(seed: int = 0, materialized: bool = True) -> OpGraph:
    """784-300-100-10 (LeNet-300-100) with seeded Kaiming weights."""
    g = OpGraph.build("mlp", [TensorSpec("x", (1, 784), role="input")], [
        Node("ip1", "linear", ("x",), ("h1",), {"out_features": 300}),
        Node("relu1", "relu", ("h1",), ("a1",)),
        Node("ip2", "linear", ("a1",), ("h2",), {"out_features": 100}),
        Node("relu2", "relu", ("h2",), ("a2",)),
        Node("ip3", "linear", ("a2",), ("y",), {"out_features": 10}),
    ], ["y"], weights=WeightStore(seed=seed))
    return g.materialize() if materialized else g


def resnet_block(materialized: bool = True, seed: int = 0) -> OpGraph:
    """stem conv-bn-relu, a residual block (conv-bn-relu-conv-bn + skip), a 1x1 projection block, a concat of
    two convs, depthwise conv, global pool, flatten, fc. Covers every channel rule."""
    x = [TensorSpec("x", (1, 3, 12, 12), role="input")]
    nodes = [
        Node("stem", "conv2d", ("x",), ("s",), {"out_channels": 16, "kernel": 3, "padding": 1}),
        Node("stem_bn", "batchnorm", ("s",), ("sb",)),
        Node("stem_relu", "relu", ("sb",), ("a0",)),
        Node("b1c1", "conv2d", ("a0",), ("t1",), {"out_channels": 12, "kernel": 3, "padding": 1}),
        Node("b1bn1", "batchnorm", ("t1",), ("t1b",)),
        Node("b1r1", "relu", ("t1b",), ("t1r",)),
        Node("b1c2", "conv2d", ("t1r",), ("t2",), {"out_channels": 16, "kernel": 3, "padding": 1}),
        Node("b1bn2", "batchnorm", ("t2",), ("t2b",)),
        Node("b1add", "add", ("t2b", "a0"), ("r1",)),
        Node("b1relu", "relu", ("r1",), ("a1",)),
        Node("left", "conv2d", ("a1",), ("l",), {"out_channels": 8, "kernel": 1}),
        Node("right", "conv2d", ("a1",), ("r",), {"out_channels": 10, "kernel": 3, "padding": 1}),
        Node("cat", "concat", ("l", "r"), ("c",), {"axis": 1}),
        Node("dw", "conv2d", ("c",), ("d",), {"out_channels": 18, "kernel": 3, "padding": 1, "groups": 18,
                                              "bias": True}),
        Node("pw", "conv2d", ("d",), ("p",), {"out_channels": 20, "kernel": 1, "bias": True}),
        Node("pool", "global_avgpool", ("p",), ("gp",)),
        Node("flat", "flatten", ("gp",), ("f",)),
        Node("fc1", "linear", ("f",), ("h",), {"out_features": 24}),
        Node("fc_relu", "relu", ("h",), ("hr",)),
        Node("fc2", "linear", ("hr",), ("y",), {"out_features": 5}),
    ]
    g = OpGraph.build("resblock", x, nodes, ["y"], weights=WeightStore(seed=seed))
    if not materialized:
        return g
    g = g.materialize()
    rng = np.random.default_rng(seed + 1)
    bn = {}
    for n in g.nodes:
        if n.op == "batchnorm":
            c = g.tensor(n.params["gamma"]).shape[0]
            bn[n.params["gamma"]] = rng.uniform(0.5, 1.5, c).astype(np.float32)
            bn[n.params["beta"]] = rng.normal(0, 0.1, c).astype(np.float32)
            bn[n.params["mean"]] = rng.normal(0, 0.1, c).astype(np.float32)
            bn[n.params["var"]] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        if "bias" in n.params:
            bn[n.params["bias"]] = rng.normal(0, 0.1, g.tensor(n.params["bias"]).shape).astype(np.float32)
    return g.with_weights(bn)


def weights_snapshot(graph: OpGraph) -> dict[str, bytes]:
    """Bytes of every provided weight value (decoded) to check a pass did not touch its input."""
    out = {}
    for t in graph.weight_names():
        if graph.weights.provided(t):
            out[t] = np.ascontiguousarray(graph.dense_weight(t)).tobytes()
    return out
