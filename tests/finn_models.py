"""The FINN / BNN-PYNQ reference networks as hwsim graphs, with their published foldings.

LFC: 784-1024-1024-1024-10 MLP, binary weights and activations (W1A1), input binarized on the host
(Umuroglu et al., FINN, FPGA 2017). CNV: the BinaryNet CIFAR-10 CNN, 3x(conv,conv,pool)-like
(64,64,P,128,128,P,256,256,512,512,10) with 8-bit input pixels, binary weights and activations.
Foldings (PE, SIMD per layer) are those of Xilinx/BNN-PYNQ ``bnn/src/network/{lfc-pynq,cnvW1A1}/hw/config.h``.
"""

from __future__ import annotations

from hwsim.ir import BINARY, INT8, Node, OpGraph, TensorSpec

#: BNN-PYNQ lfc-pynq/hw/config.h: (PE, SIMD) per layer
LFC_FOLDING = {"fc0": (32, 64), "fc1": (64, 32), "fc2": (32, 64), "fc3": (16, 8)}
#: BNN-PYNQ cnvW1A1/hw/config.h: (PE, SIMD) per layer
CNV_FOLDING = {"conv0": (16, 3), "conv1": (32, 32), "conv2": (16, 32), "conv3": (16, 32), "conv4": (4, 32),
               "conv5": (1, 32), "fc0": (1, 4), "fc1": (1, 8), "fc2": (4, 1)}


def _binarize(g: OpGraph, weights: list[str], signs: list[str]) -> OpGraph:
    specs = {w: g.tensor(w).with_(dtype=BINARY) for w in weights}
    specs |= {s: g.tensor(s).with_(dtype=BINARY) for s in signs}
    return g.with_specs(specs)


def lfc(batch: int = 1) -> OpGraph:
    nodes: list[Node] = []
    x = "x"
    weights, signs = [], []
    for i, out in enumerate((1024, 1024, 1024, 10)):
        nodes.append(Node(f"fc{i}", "linear", (x,), (f"fc{i}",), {"out_features": out, "bias": False}))
        weights.append(f"fc{i}.weight")
        x = f"fc{i}"
        if i < 3:
            nodes.append(Node(f"bn{i}", "batchnorm", (x,), (f"bn{i}",)))
            nodes.append(Node(f"sign{i}", "sign", (f"bn{i}",), (f"sign{i}",)))
            signs.append(f"sign{i}")
            x = f"sign{i}"
    g = OpGraph.build("lfc_w1a1", [TensorSpec("x", (batch, 784), BINARY, role="input")], nodes, [x])
    return _binarize(g, weights, signs)


def cnv(batch: int = 1) -> OpGraph:
    nodes: list[Node] = []
    x = "x"
    weights, signs = [], []
    plan = [("conv0", 64), ("conv1", 64), ("pool0", None), ("conv2", 128), ("conv3", 128), ("pool1", None),
            ("conv4", 256), ("conv5", 256)]
    for name, ch in plan:
        if ch is None:  # max of binary values stays binary (an OR of the bits)
            nodes.append(Node(name, "maxpool", (x,), (name,), {"kernel": 2, "stride": 2}))
            signs.append(name)
            x = name
            continue
        nodes.append(Node(name, "conv2d", (x,), (name,), {"out_channels": ch, "kernel": 3, "bias": False}))
        weights.append(f"{name}.weight")
        nodes += [Node(f"{name}.bn", "batchnorm", (name,), (f"{name}.bn",)),
                  Node(f"{name}.sign", "sign", (f"{name}.bn",), (f"{name}.sign",))]
        signs.append(f"{name}.sign")
        x = f"{name}.sign"
    nodes.append(Node("flat", "flatten", (x,), ("flat",)))
    x = "flat"
    for i, out in enumerate((512, 512, 10)):
        nodes.append(Node(f"fc{i}", "linear", (x,), (f"fc{i}",), {"out_features": out, "bias": False}))
        weights.append(f"fc{i}.weight")
        x = f"fc{i}"
        if i < 2:
            nodes += [Node(f"fc{i}.bn", "batchnorm", (x,), (f"fc{i}.bn",)),
                      Node(f"fc{i}.sign", "sign", (f"fc{i}.bn",), (f"fc{i}.sign",))]
            signs.append(f"fc{i}.sign")
            x = f"fc{i}.sign"
    g = OpGraph.build("cnv_w1a1", [TensorSpec("x", (batch, 3, 32, 32), INT8, role="input")], nodes, [x])
    return _binarize(g, weights, signs)
