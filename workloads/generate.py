#!/usr/bin/env python
"""Build every standard workload with a small builder and write its model.json.

    python workloads/generate.py            # (re)write workloads/*.json
    python workloads/generate.py --check    # exit 1 if a committed file differs from what this builds

Architectures follow torchvision 0.29 where torchvision has the network (node names mirror torchvision
module names, so ``features.0.0.weight`` is the same tensor in both), the papers otherwise. Files use
model.json's sequential shorthand (a node's input defaults to the previous node's output) and carry no
weights: hwsim generates seeded ones on demand. Batch 1, fp32; ImageNet nets at 224x224, LeNets at 28x28.
Deviations from the PyTorch module graphs, all count-neutral: adaptive average pools that are identities at
224x224 (AlexNet 6x6, VGG 7x7) are omitted; ``adaptive_avg_pool2d(1)`` / ``mean([2, 3])`` are
``global_avgpool``; the transformer folds its 1/sqrt(d_head) attention scale into the query projection
(hwsim has no scalar-multiply op; a common export-time rewrite).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(HERE.parent))
IMAGENET = [1, 3, 224, 224]


class Net:
    """Accumulates model.json nodes; ``add`` returns the node's (first) output tensor name."""

    def __init__(self, name: str, input_shape: Sequence[int], *, input_name: str = "input",
                 description: str = "") -> None:
        self.name = name
        self.inputs = [{"name": input_name, "shape": list(input_shape)}]
        self.description = description
        self.nodes: list[dict[str, Any]] = []
        self.prev = input_name  # what the shorthand feeds the next node

    def add(self, name: str, op: str, inputs: str | Sequence[str] | None = None,
            outputs: Sequence[str] | None = None, **attrs: Any) -> str:
        node: dict[str, Any] = {"name": name, "op": op}
        if inputs is not None:
            ins = [inputs] if isinstance(inputs, str) else list(inputs)
            if ins != [self.prev]:
                node["inputs"] = ins
        if outputs is not None and list(outputs) != [name]:
            node["outputs"] = list(outputs)
        if attrs:
            node["attrs"] = attrs
        self.nodes.append(node)
        self.prev = list(outputs)[0] if outputs else name
        return self.prev

    def conv(self, name: str, x: str | None, out: int, kernel: int, stride: int = 1, padding: int = 0,
             groups: int = 1, bias: bool = False) -> str:
        attrs: dict[str, Any] = {"out_channels": out, "kernel": kernel}
        if stride != 1:
            attrs["stride"] = stride
        if padding:
            attrs["padding"] = padding
        if groups != 1:
            attrs["groups"] = groups
        if bias:
            attrs["bias"] = True
        return self.add(name, "conv2d", x, **attrs)

    def conv_bn(self, prefix: str, x: str | None, out: int, kernel: int, stride: int = 1, groups: int = 1,
                act: str | None = "relu", names: Sequence[str] = ("0", "1", "2")) -> str:
        """conv (no bias, 'same'-style padding k//2) -> batchnorm -> optional activation."""
        y = self.conv(f"{prefix}.{names[0]}", x, out, kernel, stride, kernel // 2, groups)
        y = self.add(f"{prefix}.{names[1]}", "batchnorm")
        if act:
            y = self.add(f"{prefix}.{names[2]}", act)
        return y

    def document(self) -> dict[str, Any]:
        meta = {"generator": "workloads/generate.py"}
        if self.description:
            meta["architecture"] = self.description
        return {"format": "hwsim-model", "version": 1, "name": self.name, "seed": 0, "meta": meta,
                "inputs": self.inputs, "nodes": self.nodes, "outputs": [self.prev]}


# --- LeNets (Caffe variants used by Deep Compression, Han et al. 2016) -------------------------------

def lenet300_100() -> Net:
    n = Net("lenet300_100", [1, 1, 28, 28], description="LeNet-300-100: 784-300-100-10 MLP with ReLU (Caffe)")
    n.add("flatten", "flatten")
    n.add("ip1", "linear", out_features=300)
    n.add("relu1", "relu")
    n.add("ip2", "linear", out_features=100)
    n.add("relu2", "relu")
    n.add("ip3", "linear", out_features=10)
    return n


def lenet5() -> Net:
    n = Net("lenet5", [1, 1, 28, 28], description="LeNet-5, Caffe examples/mnist/lenet.prototxt "
            "(conv 20 5x5, pool, conv 50 5x5, pool, ip 500, relu, ip 10)")
    n.conv("conv1", None, 20, 5, bias=True)
    n.add("pool1", "maxpool", kernel=2)
    n.conv("conv2", None, 50, 5, bias=True)
    n.add("pool2", "maxpool", kernel=2)
    n.add("flatten", "flatten")
    n.add("ip1", "linear", out_features=500)
    n.add("relu1", "relu")
    n.add("ip2", "linear", out_features=10)
    return n


# --- AlexNet, VGG-16 (torchvision) -------------------------------------------------------------------

def alexnet() -> Net:
    n = Net("alexnet", IMAGENET, description="torchvision alexnet (one-tower variant, Krizhevsky 2014)")
    f = "features"
    n.conv(f"{f}.0", None, 64, 11, 4, 2, bias=True)
    n.add(f"{f}.1", "relu")
    n.add(f"{f}.2", "maxpool", kernel=3, stride=2)
    n.conv(f"{f}.3", None, 192, 5, 1, 2, bias=True)
    n.add(f"{f}.4", "relu")
    n.add(f"{f}.5", "maxpool", kernel=3, stride=2)
    for i, c in zip((6, 8, 10), (384, 256, 256)):
        n.conv(f"{f}.{i}", None, c, 3, 1, 1, bias=True)
        n.add(f"{f}.{i + 1}", "relu")
    n.add(f"{f}.12", "maxpool", kernel=3, stride=2)
    n.add("flatten", "flatten")
    n.add("classifier.0", "dropout", p=0.5)
    n.add("classifier.1", "linear", out_features=4096)
    n.add("classifier.2", "relu")
    n.add("classifier.3", "dropout", p=0.5)
    n.add("classifier.4", "linear", out_features=4096)
    n.add("classifier.5", "relu")
    n.add("classifier.6", "linear", out_features=1000)
    return n


def vgg16() -> Net:
    n = Net("vgg16", IMAGENET, description="torchvision vgg16 (configuration D, no batchnorm)")
    i = 0
    for c in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if c == "M":
            n.add(f"features.{i}", "maxpool", kernel=2)
            i += 1
        else:
            n.conv(f"features.{i}", None, int(c), 3, 1, 1, bias=True)
            n.add(f"features.{i + 1}", "relu")
            i += 2
    n.add("flatten", "flatten")
    n.add("classifier.0", "linear", out_features=4096)
    n.add("classifier.1", "relu")
    n.add("classifier.2", "dropout", p=0.5)
    n.add("classifier.3", "linear", out_features=4096)
    n.add("classifier.4", "relu")
    n.add("classifier.5", "dropout", p=0.5)
    n.add("classifier.6", "linear", out_features=1000)
    return n


# --- ResNets (torchvision; ResNet-50 is v1.5: stride on the 3x3 conv) --------------------------------

def _basic(n: Net, p: str, x: str, inplanes: int, planes: int, stride: int) -> tuple[str, int]:
    n.conv(f"{p}.conv1", x, planes, 3, stride, 1)
    n.add(f"{p}.bn1", "batchnorm")
    n.add(f"{p}.relu1", "relu")
    n.conv(f"{p}.conv2", None, planes, 3, 1, 1)
    main = n.add(f"{p}.bn2", "batchnorm")
    short = _downsample(n, p, x, inplanes, planes, stride)
    n.add(f"{p}.add", "add", [main, short])
    return n.add(f"{p}.relu2", "relu"), planes


def _bottleneck(n: Net, p: str, x: str, inplanes: int, planes: int, stride: int) -> tuple[str, int]:
    out = planes * 4
    n.conv(f"{p}.conv1", x, planes, 1)
    n.add(f"{p}.bn1", "batchnorm")
    n.add(f"{p}.relu1", "relu")
    n.conv(f"{p}.conv2", None, planes, 3, stride, 1)
    n.add(f"{p}.bn2", "batchnorm")
    n.add(f"{p}.relu2", "relu")
    n.conv(f"{p}.conv3", None, out, 1)
    main = n.add(f"{p}.bn3", "batchnorm")
    short = _downsample(n, p, x, inplanes, out, stride)
    n.add(f"{p}.add", "add", [main, short])
    return n.add(f"{p}.relu3", "relu"), out


def _downsample(n: Net, p: str, x: str, inplanes: int, out: int, stride: int) -> str:
    if stride == 1 and inplanes == out:
        return x
    n.conv(f"{p}.downsample.0", x, out, 1, stride)
    return n.add(f"{p}.downsample.1", "batchnorm")


def _resnet(name: str, block: Callable[..., tuple[str, int]], layers: Sequence[int]) -> Net:
    n = Net(name, IMAGENET, description=f"torchvision {name}")
    n.conv("conv1", None, 64, 7, 2, 3)
    n.add("bn1", "batchnorm")
    n.add("relu", "relu")
    x = n.add("maxpool", "maxpool", kernel=3, stride=2, padding=1)
    inplanes = 64
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
        for j in range(blocks):
            x, inplanes = block(n, f"layer{i + 1}.{j}", x, inplanes, planes, 2 if i > 0 and j == 0 else 1)
    n.add("avgpool", "global_avgpool")
    n.add("flatten", "flatten")
    n.add("fc", "linear", out_features=1000)
    return n


def resnet18() -> Net:
    return _resnet("resnet18", _basic, (2, 2, 2, 2))


def resnet50() -> Net:
    return _resnet("resnet50", _bottleneck, (3, 4, 6, 3))


# --- MobileNets ---------------------------------------------------------------------------------------

def mobilenet_v1() -> Net:
    """Howard et al. 2017, Table 1: every conv followed by batchnorm and ReLU; avg pool 7x7, FC 1000."""
    n = Net("mobilenet_v1", IMAGENET, description="MobileNetV1 1.0-224 (Howard et al. 2017, Table 1)")
    n.conv_bn("conv0", None, 32, 3, 2, names=("conv", "bn", "relu"))
    c_in = 32
    spec = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for i, (c_out, s) in enumerate(spec, start=1):
        n.conv_bn(f"block{i}", None, c_in, 3, s, groups=c_in, names=("dw", "dw_bn", "dw_relu"))
        n.conv_bn(f"block{i}", None, c_out, 1, names=("pw", "pw_bn", "pw_relu"))
        c_in = c_out
    n.add("avgpool", "global_avgpool")
    n.add("flatten", "flatten")
    n.add("fc", "linear", out_features=1000)
    return n


def mobilenet_v2() -> Net:
    n = Net("mobilenet_v2", IMAGENET, description="torchvision mobilenet_v2 (width 1.0)")
    n.conv_bn("features.0", None, 32, 3, 2, act="relu6")
    c_in, idx = 32, 1
    for t, c, reps, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                          (6, 160, 3, 2), (6, 320, 1, 1)):
        for r in range(reps):
            stride = s if r == 0 else 1
            x, p, hidden = n.prev, f"features.{idx}.conv", c_in * t
            k = 0
            if t != 1:
                n.conv_bn(f"{p}.{k}", x, hidden, 1, act="relu6")
                k += 1
            n.conv_bn(f"{p}.{k}", None, hidden, 3, stride, groups=hidden, act="relu6")
            n.conv(f"{p}.{k + 1}", None, c, 1)
            y = n.add(f"{p}.{k + 2}", "batchnorm")
            if stride == 1 and c_in == c:
                n.add(f"features.{idx}.add", "add", [x, y])
            c_in, idx = c, idx + 1
    n.conv_bn(f"features.{idx}", None, 1280, 1, act="relu6")
    n.add("avgpool", "global_avgpool")
    n.add("flatten", "flatten")
    n.add("classifier.0", "dropout", p=0.2)
    n.add("classifier.1", "linear", out_features=1000)
    return n


# --- SqueezeNet (torchvision 1.0 and 1.1) -------------------------------------------------------------

def _fire(n: Net, p: str, squeeze: int, expand: int) -> str:
    n.conv(f"{p}.squeeze", None, squeeze, 1, bias=True)
    s = n.add(f"{p}.squeeze_activation", "relu")
    n.conv(f"{p}.expand1x1", s, expand, 1, bias=True)
    e1 = n.add(f"{p}.expand1x1_activation", "relu")
    n.conv(f"{p}.expand3x3", s, expand, 3, 1, 1, bias=True)
    e3 = n.add(f"{p}.expand3x3_activation", "relu")
    return n.add(f"{p}.cat", "concat", [e1, e3], axis=1)


def _squeezenet(name: str, version: str) -> Net:
    n = Net(name, IMAGENET, description=f"torchvision squeezenet{version}")
    pool = {"kernel": 3, "stride": 2, "ceil_mode": True}
    if version == "1_0":
        n.conv("features.0", None, 96, 7, 2, bias=True)
        layout: list[Any] = ["M", (16, 64), (16, 64), (32, 128), "M", (32, 128), (48, 192), (48, 192), (64, 256),
                             "M", (64, 256)]
    else:
        n.conv("features.0", None, 64, 3, 2, bias=True)
        layout = ["M", (16, 64), (16, 64), "M", (32, 128), (32, 128), "M", (48, 192), (48, 192), (64, 256),
                  (64, 256)]
    n.add("features.1", "relu")
    for i, item in enumerate(layout, start=2):
        if item == "M":
            n.add(f"features.{i}", "maxpool", **pool)
        else:
            _fire(n, f"features.{i}", *item)
    n.add("classifier.0", "dropout", p=0.5)
    n.conv("classifier.1", None, 1000, 1, bias=True)
    n.add("classifier.2", "relu")
    n.add("classifier.3", "global_avgpool")
    n.add("flatten", "flatten")
    return n


def squeezenet1_0() -> Net:
    return _squeezenet("squeezenet1_0", "1_0")


def squeezenet1_1() -> Net:
    return _squeezenet("squeezenet1_1", "1_1")


# --- ShuffleNetV2 1.0x (torchvision) ------------------------------------------------------------------

def shufflenet_v2() -> Net:
    n = Net("shufflenet_v2", IMAGENET, description="torchvision shufflenet_v2_x1_0")
    n.conv_bn("conv1", None, 24, 3, 2)
    n.add("maxpool", "maxpool", kernel=3, stride=2, padding=1)
    c_in = 24
    for stage, (reps, c_out) in enumerate(zip((4, 8, 4), (116, 232, 464)), start=2):
        half = c_out // 2
        for r in range(reps):
            p, x = f"stage{stage}.{r}", n.prev
            if r == 0:  # stride 2: both branches see the whole input
                n.conv_bn(f"{p}.branch1", x, c_in, 3, 2, groups=c_in, act=None, names=("0", "1", ""))
                left = n.conv_bn(f"{p}.branch1", None, half, 1, names=("2", "3", "4"))
                right_in, stride = x, 2
            else:  # stride 1: split channels in half, transform the second half
                left, right_in = n.add(f"{p}.split", "split", x, outputs=[f"{p}.split.0", f"{p}.split.1"],
                                       axis=1, sizes=[half, half]), f"{p}.split.1"
                stride = 1
            n.conv_bn(f"{p}.branch2", right_in, half, 1, names=("0", "1", "2"))
            n.conv_bn(f"{p}.branch2", None, half, 3, stride, groups=half, act=None, names=("3", "4", ""))
            right = n.conv_bn(f"{p}.branch2", None, half, 1, names=("5", "6", "7"))
            n.add(f"{p}.cat", "concat", [left, right], axis=1)
            n.add(f"{p}.shuffle", "channel_shuffle", groups=2)
        c_in = c_out
    n.conv_bn("conv5", None, 1024, 1)
    n.add("mean", "global_avgpool")
    n.add("flatten", "flatten")
    n.add("fc", "linear", out_features=1000)
    return n


# --- a small transformer encoder ------------------------------------------------------------------------

def transformer_tiny(layers: int = 2, hidden: int = 128, heads: int = 2, seq: int = 128, ffn_mult: int = 4) -> Net:
    """Pre-LayerNorm encoder over already-embedded tokens [batch, seq, hidden]; GELU FFN (erf form)."""
    n = Net("transformer_tiny", [1, seq, hidden], input_name="x",
            description=f"pre-LN transformer encoder: {layers} layers, hidden {hidden}, {heads} heads, sequence "
                        f"{seq}, GELU FFN {ffn_mult}x; attention scale 1/sqrt(d_head) folded into the query weights")
    d = hidden // heads
    x = "x"
    for i in range(layers):
        p = f"layers.{i}"
        h = n.add(f"{p}.ln1", "layernorm", x)
        heads_of: dict[str, str] = {}
        for proj, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            n.add(f"{p}.attn.{proj}", "linear", h, out_features=hidden)
            n.add(f"{p}.attn.{proj}_heads", "reshape", shape=[1, seq, heads, d])
            heads_of[proj] = n.add(f"{p}.attn.{proj}_t", "transpose", perm=perm)
        n.add(f"{p}.attn.scores", "matmul", [heads_of["q"], heads_of["k"]])
        n.add(f"{p}.attn.softmax", "softmax", axis=-1)
        n.add(f"{p}.attn.context", "matmul", [f"{p}.attn.softmax", heads_of["v"]])
        n.add(f"{p}.attn.merge_t", "transpose", perm=[0, 2, 1, 3])
        n.add(f"{p}.attn.merge", "reshape", shape=[1, seq, hidden])
        n.add(f"{p}.attn.out", "linear", out_features=hidden)
        x = n.add(f"{p}.add1", "add", [x, f"{p}.attn.out"])
        n.add(f"{p}.ln2", "layernorm")
        n.add(f"{p}.ffn.fc1", "linear", out_features=ffn_mult * hidden)
        n.add(f"{p}.ffn.gelu", "gelu")
        n.add(f"{p}.ffn.fc2", "linear", out_features=hidden)
        x = n.add(f"{p}.add2", "add", [x, f"{p}.ffn.fc2"])
    n.add("ln_f", "layernorm", x)
    return n


# --- FINN / BNN-PYNQ quantized networks (MLPerf Tiny's hls4ml-finn submission, v0.7) -------------------

def cnv() -> Net:
    """BNN-PYNQ's CNV for CIFAR-10 as FINN builds it (Umuroglu et al. 2017; brevitas_examples bnn_pynq cnv):
    six unpadded 3x3 convs (64, 64, pool, 128, 128, pool, 256, 256) and FC 512, 512, 10, no biases, a
    batchnorm after every layer and an activation after every one but the last (the bit widths come from
    the method: finn-w1a1 is CNV-W1A1)."""
    n = Net("cnv", [1, 3, 32, 32], description="BNN-PYNQ / FINN CNV (CIFAR-10): 2x conv64, pool, 2x conv128, "
            "pool, 2x conv256 (3x3, no padding), FC 512, 512, 10; batchnorm after every layer")
    for i, (out, pool) in enumerate([(64, False), (64, True), (128, False), (128, True), (256, False),
                                     (256, False)]):
        n.conv(f"conv.{i}", None, out, 3)
        n.add(f"conv.{i}.bn", "batchnorm")
        n.add(f"conv.{i}.act", "relu")
        if pool:
            n.add(f"conv.{i}.pool", "maxpool", kernel=2)
    n.add("flatten", "flatten")
    for i, out in enumerate([512, 512, 10]):
        n.add(f"fc.{i}", "linear", out_features=out, bias=False)
        n.add(f"fc.{i}.bn", "batchnorm")
        if i < 2:
            n.add(f"fc.{i}.act", "relu")
    return n


def kws_mlp() -> Net:
    """The keyword-spotting MLP of MLPerf Tiny's hls4ml-finn submission (KWS-W3A3, training/const_QMLP.yaml
    and model/models.py QMLP): 10 x 49 MFCC features flattened, three 256-wide layers with batchnorm and an
    activation, a 12-class output layer; no biases."""
    n = Net("kws_mlp", [1, 1, 10, 49], description="KWS MLP (MLPerf Tiny hls4ml-finn QMLP): 490-256-256-256-12, "
            "batchnorm + activation after each hidden layer, no biases")
    n.add("flatten", "flatten")
    for i in range(3):
        n.add(f"fc.{i}", "linear", out_features=256, bias=False)
        n.add(f"fc.{i}.bn", "batchnorm")
        n.add(f"fc.{i}.act", "relu")
    n.add("fc.3", "linear", out_features=12, bias=False)
    return n


WORKLOADS: dict[str, Callable[[], Net]] = {
    "lenet300_100": lenet300_100,
    "lenet5": lenet5,
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v1": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "squeezenet1_0": squeezenet1_0,
    "squeezenet1_1": squeezenet1_1,
    "shufflenet_v2": shufflenet_v2,
    "transformer_tiny": transformer_tiny,
    "cnv": cnv,
    "kws_mlp": kws_mlp,
}


def render(doc: dict[str, Any]) -> str:
    """Readable, diff-friendly JSON: one node per line."""
    lines = ["{"]
    keys = list(doc)
    for i, key in enumerate(keys):
        comma = "," if i < len(keys) - 1 else ""
        value = doc[key]
        if key == "nodes":
            body = ",\n".join("  " + json.dumps(node) for node in value)
            lines.append(f' "nodes": [\n{body}\n ]{comma}')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def build_all() -> dict[str, str]:
    """File name -> text, checked by hwsim's own loader (shapes inferred, names and cycles checked)."""
    from hwsim.frontends.model_json import parse_model

    out = {}
    for name, make in WORKLOADS.items():
        doc = make().document()
        parse_model(json.loads(json.dumps(doc)), source=f"{name}.json")
        out[f"{name}.json"] = render(doc)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE, help="directory to write (default: workloads/)")
    ap.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    args = ap.parse_args(argv)
    stale = []
    for fname, text in build_all().items():
        path = args.out / fname
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(fname)
        else:
            from hwsim.frontends.model_json import atomic_write_text

            atomic_write_text(path, text)
            path.chmod(0o644)
            print(f"wrote {path}")
    if stale:
        print("out of date (run python workloads/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
