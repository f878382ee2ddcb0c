#!/usr/bin/env python
"""Independent ONNX export through PyTorch: model.json -> torch module (hwsim's seeded weights) -> ONNX.

    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu   # optional, tools only
    python workloads/tools/export_torch.py resnet18 mobilenet_v2 transformer_tiny --out /tmp/torch_onnx

hwsim's own writer (``hwsim.frontends.onnx_writer``) and reader share one author; this tool makes ONNX
files the way real users get them (``torch.onnx.export`` of a module written with torch.nn.functional),
then reads them back with hwsim and prints, per model: params and MACs from the model.json and from the
torch export, and the largest difference between onnxruntime on the export and hwsim's NumPy executor on
the model.json. torch is used only here; hwsim and its tests never need it.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwsim.frontends import load_model  # noqa: E402
from hwsim.ir import OpGraph, count_graph  # noqa: E402
from hwsim.ir.graph import Node  # noqa: E402


def _pad_window(x: torch.Tensor, pads: list[int], value: float) -> tuple[torch.Tensor, tuple[int, int]]:
    """Symmetric (top = bottom, left = right) padding goes to the op; anything else is an explicit F.pad."""
    t, l, b, r = pads
    if t == b and l == r:
        return x, (t, l)
    return F.pad(x, (l, r, t, b), value=value), (0, 0)


def _conv(m: "GraphModule", n: Node, x: torch.Tensor) -> torch.Tensor:
    a = n.attrs
    x, pad = _pad_window(x, a["padding"], 0.0)
    bias = m.w(n, "bias") if a["bias"] else None
    return F.conv2d(x, m.w(n, "weight"), bias, a["stride"], pad, a["dilation"], a["groups"])


def _pool(m: "GraphModule", n: Node, x: torch.Tensor) -> torch.Tensor:
    a = n.attrs
    if n.op == "maxpool":
        x, pad = _pad_window(x, a["padding"], -math.inf)
        return F.max_pool2d(x, a["kernel"], a["stride"], pad, ceil_mode=a["ceil_mode"])
    x, pad = _pad_window(x, a["padding"], 0.0)
    return F.avg_pool2d(x, a["kernel"], a["stride"], pad, ceil_mode=a["ceil_mode"],
                        count_include_pad=a["count_include_pad"])


def _shuffle(x: torch.Tensor, g: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, g, c // g, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


def _flatten(x: torch.Tensor, axis: int) -> torch.Tensor:
    return torch.flatten(x, 1) if axis == 1 and x.dim() > 1 else x.reshape(math.prod(x.shape[:axis]), -1)


def _pad(x: torch.Tensor, a: dict[str, Any]) -> torch.Tensor:
    rank, p = x.dim(), a["pads"]
    torch_pads: list[int] = []
    for i in reversed(range(rank)):  # F.pad: last axis first, (begin, end) pairs
        torch_pads += [p[i], p[i + rank]]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}[a["mode"]]
    return F.pad(x, torch_pads, mode=mode, value=a["value"]) if mode == "constant" else F.pad(x, torch_pads, mode=mode)


def _resize(x: torch.Tensor, a: dict[str, Any]) -> torch.Tensor:
    if a["mode"] == "nearest":
        return F.interpolate(x, size=a["sizes"], mode="nearest")
    return F.interpolate(x, size=a["sizes"], mode="bilinear", align_corners=False)


OPS: dict[str, Any] = {
    "conv2d": lambda m, n, x: _conv(m, n, x[0]),
    "linear": lambda m, n, x: F.linear(x[0], m.w(n, "weight"), m.w(n, "bias") if n.attrs["bias"] else None),
    "matmul": lambda m, n, x: torch.matmul(x[0], x[1]),
    "batchnorm": lambda m, n, x: F.batch_norm(x[0], m.w(n, "mean"), m.w(n, "var"), m.w(n, "gamma"), m.w(n, "beta"),
                                              False, 0.0, n.attrs["eps"]),
    "layernorm": lambda m, n, x: F.layer_norm(x[0], (x[0].shape[-1],), m.w(n, "gamma"), m.w(n, "beta"), n.attrs["eps"]),
    "relu": lambda m, n, x: F.relu(x[0]),
    "relu6": lambda m, n, x: F.relu6(x[0]),
    "leaky_relu": lambda m, n, x: F.leaky_relu(x[0], n.attrs["alpha"]),
    "sigmoid": lambda m, n, x: torch.sigmoid(x[0]),
    "tanh": lambda m, n, x: torch.tanh(x[0]),
    "gelu": lambda m, n, x: F.gelu(x[0]),
    "silu": lambda m, n, x: F.silu(x[0]),
    "hardswish": lambda m, n, x: F.hardswish(x[0]),
    "softmax": lambda m, n, x: torch.softmax(x[0], n.attrs["axis"]),
    "maxpool": lambda m, n, x: _pool(m, n, x[0]),
    "avgpool": lambda m, n, x: _pool(m, n, x[0]),
    "global_avgpool": lambda m, n, x: F.adaptive_avg_pool2d(x[0], 1),
    "add": lambda m, n, x: sum(x[1:], x[0]),
    "mul": lambda m, n, x: x[0] * x[1],
    "concat": lambda m, n, x: torch.cat(list(x), n.attrs["axis"]),
    "split": lambda m, n, x: torch.split(x[0], n.attrs["sizes"], n.attrs["axis"]),
    "transpose": lambda m, n, x: x[0].permute(*n.attrs["perm"]),
    "pad": lambda m, n, x: _pad(x[0], n.attrs),
    "resize": lambda m, n, x: _resize(x[0], n.attrs),
    "channel_shuffle": lambda m, n, x: _shuffle(x[0], n.attrs["groups"]),
    "flatten": lambda m, n, x: _flatten(x[0], n.attrs["axis"]),
    "reshape": lambda m, n, x: x[0].reshape(n.attrs["shape"]),
    "identity": lambda m, n, x: x[0],
    "dropout": lambda m, n, x: F.dropout(x[0], n.attrs["p"], training=False),
}


class GraphModule(nn.Module):
    """Runs an OpGraph with torch ops; weights are the graph's (seeded or provided) values."""

    def __init__(self, graph: OpGraph) -> None:
        super().__init__()
        self.graph = graph
        self._key = {t: f"w{i}" for i, t in enumerate(graph.weight_names())}
        for t, key in self._key.items():
            self.register_buffer(key, torch.from_numpy(np.ascontiguousarray(graph.dense_weight(t), np.float32)))
        unknown = sorted({n.op for n in graph.nodes} - set(OPS))
        if unknown:
            raise SystemExit(f"{graph.name}: no torch spelling for ops {unknown}")

    def w(self, node: Node, slot: str) -> torch.Tensor:
        return getattr(self, self._key[node.params[slot]])

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        env = dict(zip(self.graph.inputs, inputs))
        for node in self.graph.nodes:
            out = OPS[node.op](self, node, [env[t] for t in node.inputs])
            outs = out if isinstance(out, (tuple, list)) else (out,)
            env.update(zip(node.outputs, outs))
        return tuple(env[t] for t in self.graph.outputs)


def export(graph: OpGraph, path: Path, dynamo: bool = False) -> None:
    """TorchScript exporter at opset 17 keeping batchnorm (PRESERVE), or the torch.export-based exporter
    (opset 20: folds batchnorm into conv biases, uses Gelu and ReduceMean)."""
    module = GraphModule(graph).eval()
    args = tuple(torch.zeros(graph.tensor(t).shape) for t in graph.inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(module, args, str(path), dynamo=True, input_names=list(graph.inputs),
                              output_names=list(graph.outputs), verbose=False)
        else:
            torch.onnx.export(module, args, str(path), opset_version=17, dynamo=False,
                              input_names=list(graph.inputs), output_names=list(graph.outputs),
                              training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)


def compare(name: str, out_dir: Path, dynamo: bool = False) -> dict[str, Any]:
    import onnxruntime as ort

    from hwsim.kernels.executor import execute

    g = load_model(ROOT / "workloads" / f"{name}.json")
    path = out_dir / f"{name}.torch{'-dynamo' if dynamo else ''}.onnx"
    export(g, path, dynamo)
    g2 = load_model(path)
    c1, c2 = count_graph(g), count_graph(g2)
    x = np.random.default_rng(0).standard_normal(g.tensor(g.inputs[0]).shape).astype(np.float32)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {g.inputs[0]: x})[0]
    ours = execute(g, {g.inputs[0]: x}).outputs[g.outputs[0]]
    scale = float(np.abs(ref).max()) or 1.0
    return {"model": name, "params_json": c1.params, "params_torch_onnx": c2.params, "macs_json": c1.macs,
            "macs_torch_onnx": c2.macs, "nodes_json": len(g.nodes), "nodes_torch_onnx": len(g2.nodes),
            "max_rel_diff": float(np.abs(ref - ours).max()) / scale}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=["lenet5", "resnet18", "mobilenet_v2", "shufflenet_v2",
                                                   "squeezenet1_1", "transformer_tiny"])
    ap.add_argument("--out", type=Path, default=Path("torch_onnx"))
    ap.add_argument("--dynamo", action="store_true", help="use the torch.export-based exporter (opset 20)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    head = f"{'model':<18}{'params json':>13}{'params onnx':>13}{'MACs json':>16}{'MACs onnx':>16}{'nodes':>11}{'max rel diff':>14}"
    print(head)
    worst = 0.0
    for name in args.models:
        r = compare(name, args.out, args.dynamo)
        worst = max(worst, r["max_rel_diff"])
        print(f"{name:<18}{r['params_json']:>13,}{r['params_torch_onnx']:>13,}{r['macs_json']:>16,}"
              f"{r['macs_torch_onnx']:>16,}{r['nodes_json']:>5}/{r['nodes_torch_onnx']:<5}{r['max_rel_diff']:>14.2e}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
