"""Labelled data for real task accuracy, bundled with scikit-learn (no download).

``digits``: scikit-learn's handwritten digits (1,797 8x8 images, 10 classes, pixel values 0..16),
scaled to [0, 1] (x / 16) and split once with a fixed seed (stratified, 30% test). The training
script of ``workloads/digits`` uses this same function, so the test set is never trained on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hwsim.errors import VerificationError
from hwsim.ir.tensor import TensorSpec
from hwsim.registry import Registry

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.3


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays (features flattened per sample) with integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int
    description: str


def load_digits_split(seed: int = DIGITS_SPLIT_SEED, test_fraction: float = DIGITS_TEST_FRACTION) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, 10,
                   f"scikit-learn digits, x/16, stratified split seed {seed}, {len(y_te)} test images")


DATASETS: Registry[str, Callable[[], Dataset]] = Registry("dataset")
DATASETS.register("digits", load_digits_split)


def fit_to_input(x: np.ndarray, spec: TensorSpec, source: str | None = None) -> np.ndarray:
    """Reshape flat samples [N, F] to the model input's per-sample shape (e.g. [N, 64] or [N, 1, 8, 8])."""
    per_sample = tuple(spec.shape[1:])
    if math.prod(per_sample) != x.shape[1]:
        raise VerificationError(f"the data has {x.shape[1]} features per sample but input {spec.name!r} takes "
                                f"{list(per_sample)} ({math.prod(per_sample)} values)", source=source)
    return x.reshape((x.shape[0],) + per_sample)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(logits).reshape(len(labels), -1).argmax(axis=1) == labels))
