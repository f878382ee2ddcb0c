"""A bundled data set as one fixed train / test pair, for the scripts that trained the bundled models
and for the tools that need only training images (activation densities, the ``digits`` calibrator).

``load_train_test("digits")`` is scikit-learn's digits split once, stratified, seed 0, 30 % test: the
split ``workloads/digits/train.py`` trained the committed digits models beside, so its test images were
never trained on. The test indices are the same as ``split``'s test split of the same data set
(``hwsim.analysis.data.base``); the train side here is ``split``'s train + validation, in
scikit-learn's shuffled order (the order the training script saw).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwsim.analysis.data.loaders import BUNDLED, BUNDLED_TEST_FRACTION
from hwsim.errors import VerificationError
from hwsim.ir.tensor import TensorSpec

TRAIN_TEST_SEED = 0


@dataclass(frozen=True, eq=False)
class TrainTest:
    """Train and test arrays (features flattened per sample) with integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int
    description: str


def load_train_test(name: str = "digits", seed: int = TRAIN_TEST_SEED) -> TrainTest:
    """The bundled data set ``name`` (``BUNDLED``) split once into train / test, stratified and seeded."""
    from sklearn.model_selection import train_test_split

    data = BUNDLED.get(name)()
    x = data.x.reshape(len(data.y), -1)
    fraction = BUNDLED_TEST_FRACTION[name]
    x_tr, x_te, y_tr, y_te = train_test_split(x, data.y, test_size=fraction, random_state=seed, stratify=data.y)
    return TrainTest(name, x_tr, y_tr, x_te, y_te, data.classes,
                     f"{data.description}, stratified split seed {seed}, {len(y_te)} test images")


def load_digits_split(seed: int = TRAIN_TEST_SEED) -> TrainTest:
    """scikit-learn's digits, x / 16, 30 % test (the split the bundled digits models were trained beside)."""
    return load_train_test("digits", seed)


def fit_to_input(x: np.ndarray, spec: TensorSpec, source: str | None = None) -> np.ndarray:
    """Reshape flat samples [N, F] to the model input's per-sample shape (e.g. [N, 64] or [N, 1, 8, 8])."""
    per_sample = tuple(spec.shape[1:])
    if math.prod(per_sample) != x.shape[1]:
        raise VerificationError(f"the data has {x.shape[1]} features per sample but input {spec.name!r} takes "
                                f"{list(per_sample)} ({math.prod(per_sample)} values)", source=source)
    return x.reshape((x.shape[0],) + per_sample)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(logits).reshape(len(labels), -1).argmax(axis=1) == labels))
