"""Activation densities measured by running the executor on calibration data.

The density of a tensor is its fraction of non-zero values over every calibration image (ReLU zeros,
zero pixels of the input). Only real data through real (trained) weights says something about the
model: the images come from a bundled data set's *training* split (``hwsim.analysis.data.traintest``), never
its test split, and a model without shipped weights is refused (densities of seeded random weights
describe no trained network). The measured densities are written on the graph's activation tensors
(``hwsim.ir.sparsity.with_activation_densities``) with the data set and image count as their source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.analysis.data.traintest import fit_to_input, load_train_test
from hwsim.errors import UsageError, VerificationError
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.sparsity import assume_activation_density, with_activation_densities
from hwsim.kernels import execute
from hwsim.kernels.executor import model_ships_weights
from hwsim.kernels.registry import KernelCall, KernelDef

DEFAULT_IMAGES = 256


@dataclass(frozen=True)
class MeasuredDensities:
    """Non-zero fraction per tensor, and what it was measured on."""

    densities: dict[str, float]
    data: str
    images: int
    seed: int

    @property
    def detail(self) -> str:
        return f"{self.data} training split, {self.images} images, seed {self.seed}"


def count_nonzeros(graph: OpGraph, feeds: dict[str, np.ndarray]) -> dict[str, float]:
    """Fraction of non-zero values of every tensor the graph computes (and of its inputs) on ``feeds``."""
    nonzero: dict[str, int] = {}
    total: dict[str, int] = {}

    def add(name: str, arr: np.ndarray) -> None:
        a = np.asarray(arr)
        nonzero[name] = nonzero.get(name, 0) + int(np.count_nonzero(a))
        total[name] = total.get(name, 0) + int(a.size)

    def hook(node: Node, kdef: KernelDef, call: KernelCall, outs: tuple[np.ndarray, ...]) -> None:
        for t, arr in zip(node.outputs, outs):
            add(t, arr)

    n = next(iter(feeds.values())).shape[0]
    try:
        execute(graph, feeds, on_node=hook)
        for name, arr in feeds.items():
            add(name, arr)
    except VerificationError:  # a graph that bakes its batch size into a reshape: run chunk by chunk
        nonzero.clear()
        total.clear()
        step = graph.tensor(graph.inputs[0]).shape[0]
        for i in range(0, n - n % step, step):
            chunk = {k: v[i:i + step] for k, v in feeds.items()}
            execute(graph, chunk, on_node=hook)
            for name, arr in chunk.items():
                add(name, arr)
    return {name: nonzero[name] / total[name] for name in total if total[name]}


def measure(graph: OpGraph, data: str, images: int = DEFAULT_IMAGES, seed: int = 0) -> MeasuredDensities:
    """Densities of every tensor on ``images`` training images of the bundled data set ``data``."""
    if not model_ships_weights(graph):
        raise UsageError(f"model {graph.name!r} has no shipped weights (seeded random ones only): activation "
                         f"densities measured on them would describe no trained network; state an assumption "
                         f"instead (--act-density)", source=graph.source)
    dataset = load_train_test(data)
    count = min(images, len(dataset.y_train))
    pick = np.random.default_rng(seed).permutation(len(dataset.y_train))[:count]
    spec = graph.tensor(graph.inputs[0])
    feeds = {spec.name: fit_to_input(dataset.x_train[pick], spec, graph.source)}
    return MeasuredDensities(count_nonzeros(graph, feeds), data, count, seed)


def with_measured_densities(graph: OpGraph, data: str, images: int = DEFAULT_IMAGES, seed: int = 0) -> OpGraph:
    """The graph with every activation tensor's density measured on ``data`` (source recorded)."""
    m = measure(graph, data, images, seed)
    activations = {t: d for t, d in m.densities.items() if not graph.tensor(t).is_weight}
    return with_activation_densities(graph, activations, "measured", m.detail)


def with_density_options(graph: OpGraph, data: str | None = None, images: int = DEFAULT_IMAGES,
                         assumed: float | None = None) -> OpGraph:
    """What the commands' ``--data`` / ``--act-density`` ask for: densities measured on ``data`` where
    given, then ``assumed`` for every MAC operand still unknown (graph inputs keep theirs)."""
    if data is not None:
        graph = with_measured_densities(graph, data, images)
    if assumed is not None:
        graph = assume_activation_density(graph, assumed, "user value (--act-density)")
    return graph
