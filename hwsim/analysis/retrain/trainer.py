"""Mini-batch training of a ``TrainableNet``: softmax cross-entropy (or Hinton's distillation loss
against a teacher's logits), Adam, seeded shuffling, an epoch count and a wall-clock budget.

Distillation (Hinton, Vinyals, Dean 2015): loss = (1 - a) * CE(student, labels)
+ a * T^2 * KL(softmax(teacher / T) || softmax(student / T)), with T = ``temperature``, a = ``alpha``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hwsim.analysis.retrain.net import TrainableNet


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    lr: float = 1e-3
    batch: int = 64
    weight_decay: float = 0.0
    seed: int = 0
    budget_s: float | None = None  # stop after the epoch that crosses this wall-clock budget
    temperature: float = 4.0
    alpha: float = 0.0  # distillation weight; 0: labels only
    lr_decay: float = 1.0  # lr multiplied by this after every epoch

    def describe(self) -> str:
        kd = f", distillation T={self.temperature:g} alpha={self.alpha:g}" if self.alpha > 0 else ""
        return (f"{self.epochs} epoch(s) of Adam (lr {self.lr:g}, decay {self.lr_decay:g}/epoch, batch {self.batch}"
                f"{', weight decay %g' % self.weight_decay if self.weight_decay else ''}){kd}, seed {self.seed}")


@dataclass
class TrainLog:
    epochs_run: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    stopped_by_budget: bool = False


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def loss_and_grad(z: np.ndarray, y: np.ndarray, teacher: np.ndarray | None, cfg: TrainConfig) -> tuple[float, np.ndarray]:
    n = len(y)
    p = _softmax(z)
    loss = float(-np.log(p[np.arange(n), y] + 1e-12).mean())
    d = p.copy()
    d[np.arange(n), y] -= 1
    d /= n
    if teacher is None or cfg.alpha <= 0:
        return loss, d
    t = cfg.temperature
    ps, pt = _softmax(z / t), _softmax(teacher / t)
    kd = float((pt * (np.log(pt + 1e-12) - np.log(ps + 1e-12))).sum(axis=1).mean()) * t * t
    return (1 - cfg.alpha) * loss + cfg.alpha * kd, (1 - cfg.alpha) * d + cfg.alpha * t * (ps - pt) / n


def fit(net: TrainableNet, x: np.ndarray, y: np.ndarray, cfg: TrainConfig, teacher: np.ndarray | None = None,
        progress: Callable[[int, int, float], None] | None = None) -> TrainLog:
    """Train ``net`` in place on (x, y); ``teacher``: logits of a teacher for every sample (distillation).
    ``progress(epoch, epochs, loss)`` is called after every epoch. BLAS runs on one thread (small
    matrices: more threads only contend with each other on a loaded machine, 5x slower measured)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _fit(net, x, y, cfg, teacher, progress)


def _fit(net: TrainableNet, x: np.ndarray, y: np.ndarray, cfg: TrainConfig, teacher: np.ndarray | None,
         progress: Callable[[int, int, float], None] | None) -> TrainLog:
    rng = np.random.default_rng(cfg.seed)
    m = {k: np.zeros_like(v) for k, v in net.params.items()}
    v2 = {k: np.zeros_like(v) for k, v in net.params.items()}
    b1, b2, eps = 0.9, 0.999, 1e-8
    step, lr = 0, cfg.lr
    log = TrainLog()
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(y))
        total = 0.0
        for i in range(0, len(order), cfg.batch):
            idx = order[i:i + cfg.batch]
            eff = net.effective()
            z, caches = net.forward(x[idx], eff)
            loss, dz = loss_and_grad(z, y[idx], None if teacher is None else teacher[idx], cfg)
            grads = net.backward(dz.astype(np.float32), caches, eff)
            step += 1
            for k, g in grads.items():
                p = net.params[k]
                if cfg.weight_decay and p.ndim > 1:
                    g = g + cfg.weight_decay * p
                m[k] = b1 * m[k] + (1 - b1) * g
                v2[k] = b2 * v2[k] + (1 - b2) * g * g
                mh, vh = m[k] / (1 - b1**step), v2[k] / (1 - b2**step)
                net.params[k] = net.projections[k].after_step((p - lr * mh / (np.sqrt(vh) + eps)).astype(np.float32))
            total += loss * len(idx)
        lr *= cfg.lr_decay
        log.epochs_run = epoch + 1
        log.losses.append(total / len(y))
        if progress is not None:
            progress(epoch + 1, cfg.epochs, log.losses[-1])
        if cfg.budget_s is not None and time.perf_counter() - t0 > cfg.budget_s:
            log.stopped_by_budget = epoch + 1 < cfg.epochs
            break
    log.seconds = time.perf_counter() - t0
    return log
