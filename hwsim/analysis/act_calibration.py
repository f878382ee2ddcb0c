"""Activation-range calibrators that run the real kernels (the compress layer cannot import kernels, so
they are registered from here into ``hwsim.compress.calibrate.CALIBRATORS``):

* ``kernels``: ``samples`` seeded N(0, 1) inputs through ``hwsim.kernels``; each tensor's range is its
  observed min / max (measured, where ``moments`` models).
* ``digits``: the training split of scikit-learn's digits (``hwsim.analysis.data.traintest``), shaped to the
  model's input: real data, never the test split, for the digits models.

Use them with ``quantize: {activations: true, calibration: kernels}`` (or ``digits``); importing
``hwsim.analysis.verify`` (or running ``hwsim compress``) registers them. They are defined here only:
a second registration under the same name raises.
"""

from __future__ import annotations

import numpy as np

from hwsim.analysis.data.traintest import fit_to_input, load_digits_split
from hwsim.compress.calibrate import Ranges, register_calibrator
from hwsim.errors import VerificationError
from hwsim.ir.graph import Node, OpGraph
from hwsim.kernels import execute
from hwsim.kernels.registry import KernelCall, KernelDef


def observed_ranges(graph: OpGraph, feeds: dict[str, np.ndarray]) -> Ranges:
    """(min, max) of every tensor the graph computes (and of its inputs) on ``feeds``."""
    ranges: Ranges = {name: (float(a.min()), float(a.max())) for name, a in feeds.items()}

    def hook(node: Node, kdef: KernelDef, call: KernelCall, outs: tuple[np.ndarray, ...]) -> None:
        for t, arr in zip(node.outputs, outs):
            lo, hi = ranges.get(t, (np.inf, -np.inf))
            ranges[t] = (min(lo, float(arr.min())), max(hi, float(arr.max())))

    try:
        execute(graph, feeds, on_node=hook, require_provided=False)
    except VerificationError:  # a graph that bakes its batch size into a reshape: run chunk by chunk
        step = graph.tensor(graph.inputs[0]).shape[0]
        n = next(iter(feeds.values())).shape[0]
        for i in range(0, n - n % step, step):
            execute(graph, {k: v[i:i + step] for k, v in feeds.items()}, on_node=hook, require_provided=False)
    return ranges


def kernels_calibrator(graph: OpGraph, samples: int = 256, seed: int = 0) -> Ranges:
    rng = np.random.default_rng(seed)
    feeds = {n: rng.standard_normal((samples,) + tuple(graph.tensor(n).shape[1:])).astype(np.float32)
             for n in graph.inputs}
    return observed_ranges(graph, feeds)


def digits_calibrator(graph: OpGraph, samples: int = 256, seed: int = 0) -> Ranges:
    data = load_digits_split()
    pick = np.random.default_rng(seed).permutation(len(data.y_train))[:samples]
    spec = graph.tensor(graph.inputs[0])
    return observed_ranges(graph, {spec.name: fit_to_input(data.x_train[pick], spec, graph.source)})


register_calibrator("kernels", kernels_calibrator)
register_calibrator("digits", digits_calibrator)
