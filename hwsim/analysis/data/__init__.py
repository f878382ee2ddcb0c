"""Labelled data for real task accuracy: loaders, preprocessing, seeded splits, fitting to a model.

``load_for_model(spec, graph)`` is the one entry point: ``spec`` is a bundled name (``digits``,
``mnist``), an ``.npz`` file or an image folder; the result is split (``DataSplits``) and shaped to
the model's input, after checking that samples, labels and class count fit the model.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from hwsim.analysis.data.base import DataSplits, LabelledData, split
from hwsim.analysis.data.loaders import BUNDLED, BUNDLED_TEST_FRACTION, load_folder, load_npz
from hwsim.analysis.data.preprocess import Preprocess, parse_preprocess
from hwsim.errors import DataError
from hwsim.ir.graph import OpGraph

__all__ = ["DataSplits", "LabelledData", "Preprocess", "load_data", "load_for_model", "parse_preprocess",
           "model_classes", "BUNDLED"]


def load_data(spec: str, image_shape: tuple[int, ...] | None = None, preprocess: Preprocess | None = None) -> LabelledData:
    """The whole data set named by ``spec`` (not yet split or shaped)."""
    p = preprocess or Preprocess()
    if spec in BUNDLED:
        return BUNDLED.get(spec)()
    path = Path(spec)
    if path.suffix == ".npz":
        if not path.is_file():
            raise DataError("data file does not exist", source=spec)
        return load_npz(path)
    if path.is_dir():
        if image_shape is None or len(image_shape) != 3:
            raise DataError(f"an image folder needs a model whose input is an image [N, C, H, W]; this input is "
                            f"{list(image_shape or ())} per sample", source=spec)
        return load_folder(path, tuple(image_shape), p)  # type: ignore[arg-type]
    if path.exists():
        raise DataError("data must be a bundled name, an .npz file (x, y) or a folder of class sub-folders",
                        source=spec)
    raise DataError(f"no such data file or folder, and not a bundled data set ({', '.join(BUNDLED)})", source=spec)


def model_classes(graph: OpGraph) -> int:
    """Classes the model predicts: the size of the first output's last axis."""
    return int(graph.tensor(graph.outputs[0]).shape[-1])


def fit_samples(x: np.ndarray, graph: OpGraph, source: str) -> np.ndarray:
    """Samples reshaped to the model input's per-sample shape, or a DataError naming the data."""
    spec = graph.tensor(graph.inputs[0])
    per_sample = tuple(spec.shape[1:])
    if x.shape[1:] == per_sample:
        return x
    if math.prod(x.shape[1:]) != math.prod(per_sample):
        raise DataError(f"each sample has shape {list(x.shape[1:])} ({math.prod(x.shape[1:])} values) but model "
                        f"input {spec.name!r} takes {list(per_sample)} ({math.prod(per_sample)} values)",
                        source=source)
    return x.reshape((x.shape[0],) + per_sample)


def load_for_model(spec: str, graph: OpGraph, preprocess: Preprocess | str | None = None,
                   seed: int = 0) -> DataSplits:
    """Load, check against the model (sample shape, class count), shape and split."""
    p = parse_preprocess(preprocess) if isinstance(preprocess, str) or preprocess is None else preprocess
    if len(graph.inputs) != 1:
        raise DataError(f"labelled data feeds models with one input; {graph.name!r} has {len(graph.inputs)}",
                        source=spec)
    per_sample = tuple(graph.tensor(graph.inputs[0]).shape[1:])
    data = load_data(spec, per_sample, p)
    classes = model_classes(graph)
    if data.classes > classes:
        raise DataError(f"the data has {data.classes} classes but the model predicts {classes} (output "
                        f"{graph.outputs[0]!r})", source=data.source)
    shaped = LabelledData(data.name, data.source, fit_samples(data.x, graph, data.source), data.y, data.classes,
                          data.class_names, data.description)
    test_fraction = BUNDLED_TEST_FRACTION.get(spec, 0.2)
    return split(shaped, seed=seed, test_fraction=test_fraction)
