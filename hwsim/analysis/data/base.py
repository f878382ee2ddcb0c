"""Labelled data as hwsim uses it: samples, integer labels, and seeded splits.

``LabelledData`` holds every sample of a data set (``x`` float32, one row per sample, any per-sample
shape; ``y`` int64 labels in ``0 .. classes-1``). ``split`` cuts it once, stratified by class and
seeded, into

* ``test``: held out; the only split accuracy figures are reported on;
* ``validation``: held out from training; recipes (retraining epochs, learning rates) are tuned on it;
* ``train``: what retraining and fine-tuning may see;
* ``calibration``: a seeded subset of ``train`` (activation ranges of post-training quantization).

The same (data, seed, fractions) always gives the same indices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from hwsim.errors import DataError

Split = Literal["train", "validation", "test", "calibration"]
SPLIT_SEED = 0
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1
CALIBRATION_SAMPLES = 256


@dataclass(frozen=True, eq=False)
class LabelledData:
    """Every sample of one data set, before splitting."""

    name: str
    source: str  # the file or folder read, or the package that ships the data
    x: np.ndarray  # [N, ...] float32
    y: np.ndarray  # [N] int64
    classes: int
    class_names: tuple[str, ...]
    description: str

    def __post_init__(self) -> None:
        check_labels(self.x, self.y, self.classes, self.source)


def check_labels(x: np.ndarray, y: np.ndarray, classes: int, source: str) -> None:
    if x.shape[0] == 0:
        raise DataError("the data holds no samples", source=source)
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"{x.shape[0]} samples but {y.shape[0] if y.ndim else 0} labels (y must be one integer "
                        f"label per sample)", source=source)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"labels must be integers, got dtype {y.dtype}", source=source)
    if y.min() < 0 or y.max() >= classes:
        raise DataError(f"labels must lie in 0..{classes - 1}, found {int(y.min())}..{int(y.max())}", source=source)
    if not np.all(np.isfinite(x)):
        raise DataError("the samples hold non-finite values (NaN or inf)", source=source)


@dataclass(frozen=True, eq=False)
class DataSplits:
    """One data set cut into train / validation / test (+ calibration drawn from train)."""

    data: LabelledData
    indices: dict[str, np.ndarray]
    seed: int

    def x(self, split: Split) -> np.ndarray:
        return self.data.x[self.indices[split]]

    def y(self, split: Split) -> np.ndarray:
        return self.data.y[self.indices[split]]

    def size(self, split: Split) -> int:
        return int(self.indices[split].size)

    @property
    def name(self) -> str:
        return self.data.name

    def describe(self) -> str:
        sizes = ", ".join(f"{k} {self.size(k)}" for k in ("train", "validation", "test", "calibration"))
        return f"{self.data.description}; seeded stratified split (seed {self.seed}): {sizes}"

    def as_dict(self) -> dict[str, object]:
        return {"name": self.data.name, "source": self.data.source, "classes": self.data.classes,
                "description": self.data.description, "seed": self.seed,
                "splits": {k: self.size(k) for k in ("train", "validation", "test", "calibration")}}


def _stratified(y: np.ndarray, idx: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, taken) with ``fraction`` of ``idx`` taken, stratified by label when every class can give one."""
    from sklearn.model_selection import train_test_split

    n_take = math.ceil(fraction * idx.size - 1e-9)  # scikit-learn's rounding of a fractional test size
    if n_take == 0 or n_take == idx.size:
        return (idx, idx[:0]) if n_take == 0 else (idx[:0], idx)
    counts = np.bincount(y[idx])
    stratify = y[idx] if counts[counts > 0].min() >= 2 and n_take >= (counts > 0).sum() else None
    rest, taken = train_test_split(idx, test_size=n_take, random_state=seed, stratify=stratify)
    return np.sort(rest), np.sort(taken)


def split(data: LabelledData, seed: int = SPLIT_SEED, test_fraction: float = TEST_FRACTION,
          validation_fraction: float = VALIDATION_FRACTION,
          calibration_samples: int = CALIBRATION_SAMPLES) -> DataSplits:
    """Seeded stratified split; ``validation_fraction`` is of the whole set, taken from what the test left."""
    n = data.x.shape[0]
    if n < 3:
        raise DataError(f"{n} samples are too few to split into train / validation / test", source=data.source)
    everything = np.arange(n)
    train, test = _stratified(data.y, everything, test_fraction, seed)
    train, val = _stratified(data.y, train, validation_fraction / max(1e-9, 1 - test_fraction), seed + 1)
    rng = np.random.default_rng(seed + 2)
    calib = np.sort(rng.permutation(train)[:min(calibration_samples, train.size)])
    return DataSplits(data, {"train": train, "validation": val, "test": test, "calibration": calib}, seed)
