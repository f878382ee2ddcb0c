"""A tiny NumPy reference for the structural-pass tests (conv, linear and the few ops the rewritten
chains use), independent of hwsim.kernels so these tests check the rewrites, not the kernels."""

from __future__ import annotations

import numpy as np

from hwsim.ir import OpGraph
from hwsim.ir.opdefs.structured import circulant_matrix, fastfood_matrix


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, attrs: dict) -> np.ndarray:
    """Direct grouped conv, NCHW, float64, padding (top, left, bottom, right)."""
    (sh, sw), (dh, dw), (pt, pl, pb, pr), g = attrs["stride"], attrs["dilation"], attrs["padding"], attrs["groups"]
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    ho = (h - (kh - 1) * dh - 1) // sh + 1
    wo = (wd - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((n, k, ho, wo))
    kg = k // g
    for gi in range(g):
        xs = x[:, gi * cg:(gi + 1) * cg]
        ws = np.asarray(w[gi * kg:(gi + 1) * kg], np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
                out[:, gi * kg:(gi + 1) * kg] += np.einsum("nchw,kc->nkhw", patch, ws[:, :, i, j])
    if b is not None:
        out += np.asarray(b, np.float64)[None, :, None, None]
    return out


def run(graph: OpGraph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor of ``graph`` computed from its (single) input ``x`` with dense (decoded) weights."""
    vals = {graph.inputs[0]: np.asarray(x, np.float64)}
    for node in graph.nodes:
        a = [vals[t] for t in node.inputs]
        w = {s: np.asarray(graph.dense_weight(t), np.float64) for s, t in node.params.items()}
        at = dict(node.attrs)
        if node.op == "conv2d":
            y = conv2d(a[0], w["weight"], w.get("bias"), at)
        elif node.op == "linear":
            y = a[0] @ w["weight"].T + (w["bias"] if "bias" in w else 0.0)
        elif node.op == "circulant":
            y = a[0] @ circulant_matrix(w["weight"], at, a[0].shape[-1]).T + (w["bias"] if "bias" in w else 0.0)
        elif node.op == "fastfood":
            m = fastfood_matrix(w["s"], w["g"], w["b"], at, a[0].shape[-1])
            y = a[0] @ m.T + (w["bias"] if "bias" in w else 0.0)
        elif node.op == "relu":
            y = np.maximum(a[0], 0)
        elif node.op == "sign":
            y = np.where(a[0] >= 0, 1.0, -1.0)
        elif node.op == "add":
            y = a[0] + a[1]
        elif node.op == "concat":
            y = np.concatenate(a, axis=at["axis"])
        elif node.op == "global_avgpool":
            y = a[0].mean(axis=(2, 3), keepdims=True)
        elif node.op == "flatten":
            y = a[0].reshape(*a[0].shape[: at["axis"]], -1)
        elif node.op in ("exit", "identity"):
            y = a[0]
        elif node.op == "batchnorm":
            scale = w["gamma"] / np.sqrt(w["var"] + at["eps"])
            y = a[0] * scale[None, :, None, None] + (w["beta"] - w["mean"] * scale)[None, :, None, None]
        else:
            raise NotImplementedError(node.op)
        vals[node.outputs[0]] = y
    return vals
