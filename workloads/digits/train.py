"""Train the two digits models hwsim ships with real weights, in NumPy (no torch, no download).

    python workloads/digits/train.py            # writes mlp.json/.npz and cnn.json/.npz here

Data: scikit-learn's bundled digits (1,797 8x8 images), x / 16, the fixed stratified split of
``hwsim.analysis.data.traintest.load_digits_split`` (the test set is never trained on).

* ``mlp``: LeNet-300-100's shape scaled to 64 inputs: 64-300-100-10, ReLU.
* ``cnn``: conv 3x3 (1->16) ReLU, maxpool 2, conv 3x3 (16->32) ReLU, maxpool 2, fc 128->64 ReLU, fc 64->10.

Both: softmax cross-entropy, Adam (lr 1e-3), weight decay 1e-4, mini-batches of 32, fixed seeds, so a
re-run reproduces the committed weights on the same NumPy/BLAS build (and within float noise elsewhere).
The forward and backward passes below are written out by hand; hwsim's own kernels run the result.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from hwsim.analysis.data.traintest import load_digits_split  # noqa: E402
from hwsim.frontends.model_json import parse_model, save_model_json  # noqa: E402

SEED = 0
EPOCHS = {"mlp": 60, "cnn": 60}
LR, WEIGHT_DECAY, BATCH = 1e-3, 1e-4, 32


# --- layers: forward returns (out, cache); backward returns (dx, grads) -----------------------------
def linear_fwd(x, w, b):
    return x @ w.T + b, x


def linear_bwd(dy, x, w):
    return dy @ w, {"weight": dy.T @ x, "bias": dy.sum(axis=0)}


def relu_fwd(x):
    return np.maximum(x, 0), x > 0


def conv_fwd(x, w, b):
    """3x3, stride 1, padding 1: im2col patches [N, C*9, H*W] times W [O, C*9]."""
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = sliding_window_view(xp, (3, 3), axis=(2, 3)).transpose(0, 1, 4, 5, 2, 3).reshape(n, c * 9, h * wd)
    y = np.einsum("ok,nkp->nop", w.reshape(w.shape[0], -1), cols) + b[None, :, None]
    return y.reshape(n, w.shape[0], h, wd), (cols, x.shape)


def conv_bwd(dy, cache, w):
    cols, (n, c, h, wd) = cache
    dyf = dy.reshape(n, w.shape[0], h * wd)
    dw = np.einsum("nop,nkp->ok", dyf, cols).reshape(w.shape)
    dcols = np.einsum("ok,nop->nkp", w.reshape(w.shape[0], -1), dyf).reshape(n, c, 3, 3, h, wd)
    dxp = np.zeros((n, c, h + 2, wd + 2), dy.dtype)
    for i in range(3):  # col2im: scatter each tap back
        for j in range(3):
            dxp[:, :, i:i + h, j:j + wd] += dcols[:, :, i, j]
    return dxp[:, :, 1:-1, 1:-1], {"weight": dw, "bias": dyf.sum(axis=(0, 2))}


def pool_fwd(x):
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    arg = blocks.argmax(axis=-1)
    return np.take_along_axis(blocks, arg[..., None], -1)[..., 0], (arg, x.shape)


def pool_bwd(dy, cache):
    arg, (n, c, h, w) = cache
    blocks = np.zeros(dy.shape + (4,), dy.dtype)
    np.put_along_axis(blocks, arg[..., None], dy[..., None], -1)
    return blocks.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


def softmax_xent(z, y):
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y] + 1e-12).mean()
    d = p.copy()
    d[np.arange(len(y)), y] -= 1
    return loss, d / len(y)


# --- the two models ---------------------------------------------------------------------------------
def init(shape, rng):
    fan_in = int(np.prod(shape[1:]))
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def mlp_params(rng):
    return {"fc1.weight": init((300, 64), rng), "fc1.bias": np.zeros(300, np.float32),
            "fc2.weight": init((100, 300), rng), "fc2.bias": np.zeros(100, np.float32),
            "fc3.weight": init((10, 100), rng), "fc3.bias": np.zeros(10, np.float32)}


def mlp_step(p, x, y):
    h1, x0 = linear_fwd(x, p["fc1.weight"], p["fc1.bias"])
    a1, m1 = relu_fwd(h1)
    h2, _ = linear_fwd(a1, p["fc2.weight"], p["fc2.bias"])
    a2, m2 = relu_fwd(h2)
    z, _ = linear_fwd(a2, p["fc3.weight"], p["fc3.bias"])
    loss, dz = softmax_xent(z, y)
    grads = {}
    da2, g = linear_bwd(dz, a2, p["fc3.weight"])
    grads.update({f"fc3.{k}": v for k, v in g.items()})
    da1, g = linear_bwd(da2 * m2, a1, p["fc2.weight"])
    grads.update({f"fc2.{k}": v for k, v in g.items()})
    _, g = linear_bwd(da1 * m1, x0, p["fc1.weight"])
    grads.update({f"fc1.{k}": v for k, v in g.items()})
    return loss, grads, z


def cnn_params(rng):
    return {"conv1.weight": init((16, 1, 3, 3), rng), "conv1.bias": np.zeros(16, np.float32),
            "conv2.weight": init((32, 16, 3, 3), rng), "conv2.bias": np.zeros(32, np.float32),
            "fc1.weight": init((64, 128), rng), "fc1.bias": np.zeros(64, np.float32),
            "fc2.weight": init((10, 64), rng), "fc2.bias": np.zeros(10, np.float32)}


def cnn_step(p, x, y):
    x = x.reshape(-1, 1, 8, 8)
    c1, cc1 = conv_fwd(x, p["conv1.weight"], p["conv1.bias"])
    r1, m1 = relu_fwd(c1)
    q1, pc1 = pool_fwd(r1)
    c2, cc2 = conv_fwd(q1, p["conv2.weight"], p["conv2.bias"])
    r2, m2 = relu_fwd(c2)
    q2, pc2 = pool_fwd(r2)
    f = q2.reshape(len(x), -1)
    h, _ = linear_fwd(f, p["fc1.weight"], p["fc1.bias"])
    a, mh = relu_fwd(h)
    z, _ = linear_fwd(a, p["fc2.weight"], p["fc2.bias"])
    loss, dz = softmax_xent(z, y)
    grads = {}
    da, g = linear_bwd(dz, a, p["fc2.weight"])
    grads.update({f"fc2.{k}": v for k, v in g.items()})
    df, g = linear_bwd(da * mh, f, p["fc1.weight"])
    grads.update({f"fc1.{k}": v for k, v in g.items()})
    dr2 = pool_bwd(df.reshape(q2.shape), pc2) * m2
    dq1, g = conv_bwd(dr2, cc2, p["conv2.weight"])
    grads.update({f"conv2.{k}": v for k, v in g.items()})
    dr1 = pool_bwd(dq1, pc1) * m1
    _, g = conv_bwd(dr1, cc1, p["conv1.weight"])
    grads.update({f"conv1.{k}": v for k, v in g.items()})
    return loss, grads, z


MODELS = {"mlp": (mlp_params, mlp_step), "cnn": (cnn_params, cnn_step)}


def train(kind: str, data, epochs: int, seed: int = SEED, params=None, masks=None, log=print):
    """Adam with decoupled weight decay on weights. ``masks`` (name -> 0/1 array) keep pruned weights at
    zero (used by the Deep Compression retraining in ``deep_compression.py``)."""
    rng = np.random.default_rng(seed)
    make, step = MODELS[kind]
    p = params if params is not None else make(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(val) for k, val in p.items()}
    t = 0
    for epoch in range(epochs):
        order = rng.permutation(len(data.y_train))
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            _, grads, _ = step(p, data.x_train[idx], data.y_train[idx])
            t += 1
            for k in p:
                g = grads[k].astype(np.float32)
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                upd = LR * (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
                if k.endswith("weight"):
                    upd = upd + LR * WEIGHT_DECAY * p[k]
                p[k] = (p[k] - upd).astype(np.float32)
                if masks is not None and k in masks:
                    p[k] *= masks[k]
        if (epoch + 1) % 20 == 0 or epoch == epochs - 1:
            log(f"{kind} epoch {epoch + 1}: train acc {accuracy(kind, p, data.x_train, data.y_train):.4f} "
                f"test acc {accuracy(kind, p, data.x_test, data.y_test):.4f}")
    return p


def accuracy(kind, p, x, y):
    _, _, z = MODELS[kind][1](p, x, y)
    return float((z.argmax(axis=1) == y).mean())


# --- model files ------------------------------------------------------------------------------------
def model_doc(kind: str, weights_file: str, name: str | None = None, meta: dict | None = None) -> dict:
    if kind == "mlp":
        nodes = [
            {"name": "fc1", "op": "linear", "attrs": {"out_features": 300}},
            {"name": "relu1", "op": "relu"},
            {"name": "fc2", "op": "linear", "attrs": {"out_features": 100}},
            {"name": "relu2", "op": "relu"},
            {"name": "fc3", "op": "linear", "attrs": {"out_features": 10}},
        ]
        inputs = [{"name": "x", "shape": [1, 64]}]
        desc = "LeNet-300-100's shape scaled to 8x8 digits: 64-300-100-10 MLP"
    else:
        nodes = [
            {"name": "conv1", "op": "conv2d", "attrs": {"out_channels": 16, "kernel": 3, "padding": 1, "bias": True}},
            {"name": "relu1", "op": "relu"},
            {"name": "pool1", "op": "maxpool", "attrs": {"kernel": 2}},
            {"name": "conv2", "op": "conv2d", "attrs": {"out_channels": 32, "kernel": 3, "padding": 1, "bias": True}},
            {"name": "relu2", "op": "relu"},
            {"name": "pool2", "op": "maxpool", "attrs": {"kernel": 2}},
            {"name": "flat", "op": "flatten"},
            {"name": "fc1", "op": "linear", "attrs": {"out_features": 64}},
            {"name": "relu3", "op": "relu"},
            {"name": "fc2", "op": "linear", "attrs": {"out_features": 10}},
        ]
        inputs = [{"name": "x", "shape": [1, 1, 8, 8]}]
        desc = "small CNN for 8x8 digits: conv16-pool-conv32-pool-fc64-fc10"
    return {"format": "hwsim-model", "version": 1, "name": name or f"digits_{kind}", "weights": weights_file,
            "inputs": inputs, "nodes": nodes,
            "meta": {"description": desc, "dataset": "digits", "preprocess": "x / 16, flattened 8x8 (row-major)",
                     "trained_by": "workloads/digits/train.py", **(meta or {})}}


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez_compressed(tmp, **{k: np.asarray(v, np.float32) for k, v in sorted(arrays.items())})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_model(kind: str, params: dict[str, np.ndarray], out_dir: Path = HERE, stem: str | None = None,
                meta: dict | None = None) -> Path:
    stem = stem or kind
    write_npz(out_dir / f"{stem}.npz", params)
    doc = model_doc(kind, f"{stem}.npz", f"digits_{stem}", meta)
    graph = parse_model(doc, source=str(out_dir / f"{stem}.json"), base_dir=out_dir)
    save_model_json(graph, out_dir / f"{stem}.json", weights_file=f"{stem}.npz")
    os.chmod(out_dir / f"{stem}.json", 0o644)
    return out_dir / f"{stem}.json"


def main() -> None:
    data = load_digits_split()
    for kind in ("mlp", "cnn"):
        params = train(kind, data, EPOCHS[kind])
        path = write_model(kind, params)
        print(f"wrote {path} (test acc {accuracy(kind, params, data.x_test, data.y_test):.4f})")


if __name__ == "__main__":
    main()
