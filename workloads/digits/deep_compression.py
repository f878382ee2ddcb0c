"""Deep Compression *with retraining* for the digits MLP, in NumPy (Han, Mao, Dally, ICLR 2016).

    python workloads/digits/deep_compression.py     # writes mlp_dc.json / mlp_dc.npz here

hwsim never trains: its passes prune, share and encode a model as given, and task accuracy after
aggressive compression is reported as it is (the catalogue's deep-compression collapses the
untrained MLP). The paper's accuracy comes from retraining, which this script does, outside hwsim,
on the digits training split only:

1. iterative magnitude pruning to the paper's LeNet-300-100 densities (Table 2: fc1 8%, fc2 9%,
   fc3 26%) in three rounds, each followed by masked retraining (pruned weights stay zero);
2. weight sharing: per-layer 1-D k-means with 32 centroids (5 bits, the paper's fc width), linear
   initialization over [min, max] of the surviving weights;
3. centroid fine-tuning: the gradient of a centroid is the sum of the gradients of the weights that
   share it (the paper's Fig. 3), weights re-tied to their centroids after every step.

The result (the fp32 weights after retraining: mostly zeros, at most 32 distinct values per layer) is
saved as the model ``mlp_dc``. ``methods.yaml#dc-paper`` then compresses it with hwsim's passes at the
paper's settings (prune, 5-bit sharing, 5-bit relative index, Huffman), which only re-encode what
retraining produced: ``hwsim verify workloads/digits/mlp_dc.json --data digits -m
workloads/digits/methods.yaml#dc-paper``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from train import BATCH, LR, accuracy, mlp_step, train, write_model  # noqa: E402

from hwsim.analysis.data.traintest import load_digits_split  # noqa: E402

DENSITY = {"fc1.weight": 0.08, "fc2.weight": 0.09, "fc3.weight": 0.26}  # Deep Compression Table 2
ROUNDS, RETRAIN_EPOCHS, FINETUNE_EPOCHS, CENTROIDS = 3, 20, 20, 32
SEED = 1


def magnitude_mask(w: np.ndarray, density: float) -> np.ndarray:
    keep = max(1, int(round(density * w.size)))
    threshold = np.sort(np.abs(w).ravel())[-keep]
    return (np.abs(w) >= threshold).astype(np.float32)


def kmeans_1d(values: np.ndarray, k: int, iters: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Linear-initialized 1-D k-means: (centroids [k], index of each value)."""
    c = np.linspace(values.min(), values.max(), k)
    for _ in range(iters):
        idx = np.abs(values[:, None] - c[None, :]).argmin(axis=1)
        new = np.array([values[idx == j].mean() if np.any(idx == j) else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return c.astype(np.float32), np.abs(values[:, None] - c[None, :]).argmin(axis=1)


def finetune_centroids(params, masks, codebooks, data, epochs: int, seed: int):
    """Adam on the centroids; every weight equals its centroid (or zero where pruned)."""
    rng = np.random.default_rng(seed)
    state = {k: (np.zeros_like(c), np.zeros_like(c)) for k, (c, _) in codebooks.items()}
    t = 0
    for _ in range(epochs):
        order = rng.permutation(len(data.y_train))
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            _, grads, _ = mlp_step(params, data.x_train[idx], data.y_train[idx])
            t += 1
            for k in params:
                if k in codebooks:
                    c, assign = codebooks[k]
                    nz = masks[k].ravel() > 0
                    g = np.bincount(assign, weights=grads[k].ravel()[nz], minlength=c.size)
                    m, v = state[k]
                    m = 0.9 * m + 0.1 * g
                    v = 0.999 * v + 0.001 * g * g
                    state[k] = (m, v)
                    c = (c - LR * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)).astype(np.float32)
                    codebooks[k] = (c, assign)
                    w = np.zeros(params[k].size, np.float32)
                    w[nz] = c[assign]
                    params[k] = w.reshape(params[k].shape)
                else:  # biases keep training
                    params[k] = (params[k] - LR * grads[k]).astype(np.float32)
    return params


def main() -> None:
    data = load_digits_split()
    npz = np.load(HERE / "mlp.npz")
    params = {k: np.array(npz[k]) for k in npz.files}
    print(f"fp32 test acc {accuracy('mlp', params, data.x_test, data.y_test):.4f}")
    masks: dict[str, np.ndarray] = {}
    for r in range(1, ROUNDS + 1):
        for k, d in DENSITY.items():
            target = 1 - (1 - d) * r / ROUNDS
            masks[k] = magnitude_mask(params[k] * masks.get(k, 1), target)
            params[k] = params[k] * masks[k]
        print(f"round {r}: pruned to {[round(float(m.mean()), 3) for m in masks.values()]}, "
              f"test acc {accuracy('mlp', params, data.x_test, data.y_test):.4f} before retraining")
        params = train("mlp", data, RETRAIN_EPOCHS, seed=SEED + r, params=params, masks=masks, log=lambda s: None)
        print(f"round {r}: retrained, test acc {accuracy('mlp', params, data.x_test, data.y_test):.4f}")
    codebooks = {}
    for k in DENSITY:
        nz = masks[k].ravel() > 0
        c, assign = kmeans_1d(params[k].ravel()[nz].astype(np.float64), CENTROIDS)
        codebooks[k] = (c, assign)
        w = np.zeros(params[k].size, np.float32)
        w[nz] = c[assign]
        params[k] = w.reshape(params[k].shape)
    print(f"shared ({CENTROIDS} centroids per layer): test acc {accuracy('mlp', params, data.x_test, data.y_test):.4f}")
    params = finetune_centroids(params, masks, codebooks, data, FINETUNE_EPOCHS, SEED + 10)
    print(f"centroids fine-tuned: test acc {accuracy('mlp', params, data.x_test, data.y_test):.4f}")
    meta = {"trained_by": "workloads/digits/train.py, then workloads/digits/deep_compression.py",
            "retraining": "Deep Compression: iterative pruning (fc1 8%, fc2 9%, fc3 26% kept) with masked retraining, "
                          f"{CENTROIDS}-centroid k-means sharing with centroid fine-tuning, on the training split"}
    path = write_model("mlp", params, stem="mlp_dc", meta=meta)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
