"""Output fidelity of a compressed model against its fp32 original on the same inputs.

Fidelity is **not task accuracy**: it says how far the compressed model's outputs move from the
original's on seeded synthetic inputs, not whether the predictions are still right on real data
(a model can keep high SQNR and lose accuracy on the inputs that matter, or the reverse after
fine-tuning). Task accuracy needs labelled data (``hwsim verify --data digits``).

* SQNR (dB) = 10 log10( sum y^2 / sum (y - y')^2 ) over every output element of every input;
  infinite when the outputs are identical.
* cosine similarity: mean over inputs of <y, y'> / (|y| |y'|) (flattened per input).
* top-1 agreement: the fraction of rows (last axis = classes) whose argmax is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Fidelity:
    """Output agreement of a compressed model with the fp32 model on ``inputs`` seeded inputs."""

    inputs: int
    seed: int
    output: str
    sqnr_db: float  # math.inf when identical
    cosine: float
    top1_agreement: float | None  # None when the output has a single class column
    max_abs_diff: float
    distribution: str = "N(0, 1) per input element"

    @property
    def identical(self) -> bool:
        return math.isinf(self.sqnr_db)

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "seed": self.seed, "output": self.output,
                "sqnr_db": None if self.identical else round(self.sqnr_db, 4),
                "outputs_identical": self.identical, "cosine": round(self.cosine, 6),
                "top1_agreement": None if self.top1_agreement is None else round(self.top1_agreement, 6),
                "max_abs_diff": float(f"{self.max_abs_diff:.6g}"), "input_distribution": self.distribution,
                "note": "fidelity is output agreement on synthetic inputs, not task accuracy"}


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    ref = np.asarray(reference, np.float64)
    noise = float(np.sum((ref - np.asarray(test, np.float64)) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def cosine(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean per-input cosine similarity (axis 0 indexes inputs)."""
    a = np.asarray(reference, np.float64).reshape(reference.shape[0], -1)
    b = np.asarray(test, np.float64).reshape(test.shape[0], -1)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_zero = (na == 0) & (nb == 0)
    cos = np.where(both_zero, 1.0, (a * b).sum(axis=1) / np.maximum(na * nb, 1e-300))
    return float(cos.mean())


def top1_agreement(reference: np.ndarray, test: np.ndarray) -> float | None:
    if reference.shape[-1] < 2:
        return None
    return float(np.mean(reference.argmax(axis=-1) == test.argmax(axis=-1)))


def measure(reference: np.ndarray, test: np.ndarray, seed: int, output: str) -> Fidelity:
    return Fidelity(inputs=int(reference.shape[0]), seed=seed, output=output, sqnr_db=sqnr_db(reference, test),
                    cosine=cosine(reference, test), top1_agreement=top1_agreement(reference, test),
                    max_abs_diff=float(np.max(np.abs(np.asarray(reference, np.float64) - test))))
