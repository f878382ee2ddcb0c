"""Retraining a compression method on labelled data (the train split only; recipes chosen on the
validation split), then re-encoding the result with the method's own passes.

Two routes, chosen by what the method does to the graph:

* **same tensors** (prune, weight sharing, binary, ternary, integer weights, Deep Compression): the
  method keeps every weight tensor's name and shape. Its steps run in stages: after each lossy step
  (``STAGE_AFTER``) the partial method is applied, every weight gets the projection its stored form
  asks for (mask, codebook, sign, ...; ``projections.py``) and the model is retrained through the
  compressed graph's own layers (``sign`` activations included); then the next stage starts from the
  retrained weights. Deep Compression so becomes prune -> masked retraining -> share -> centroid
  fine-tuning -> relative index -> Huffman, as in Han et al. (2016).
* **new tensors** (low-rank factors, students, filter pruning): the compressed graph's own fp32 weights
  are fine-tuned in place; methods of family ``compact`` (students) learn from the fp32 model's soft
  targets (Hinton et al. 2015) as well as from the labels.

The figures a report shows always come from the method's passes applied to the retrained weights and
run by hwsim's kernels, never from the trainer's own forward pass.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.analysis.data import DataSplits
from hwsim.analysis.retrain.net import NotRetrainable, TrainableNet
from hwsim.analysis.retrain.projections import PROJECTIONS, Plain, Projection
from hwsim.analysis.retrain.trainer import TrainConfig, fit
from hwsim.compress.method import CompressedModel, Method, apply_method
from hwsim.ir.graph import OpGraph

#: Steps after which a stage of retraining runs (lossless re-encodings such as sparse_format or
#: huffman need none).
STAGE_AFTER = {"prune", "prune_random", "share_kmeans", "binarize", "ternarize", "quantize", "mixed_precision"}


@dataclass(frozen=True)
class Recipe:
    """Epochs and learning rate per stage (chosen on the validation split of the MNIST subset);
    ``rounds`` > 1 reaches the step's sparsity in that many rounds of pruning + retraining (Han et al.
    2015's iterative pruning), each round pruning a larger fraction (``ROUND_FRACTIONS``)."""

    epochs: int
    lr: float
    distill: bool = False
    rounds: int = 1


def scaled_sparsity(params: Any, fraction: float) -> Any:
    """``params`` with every ``*sparsity`` value multiplied by ``fraction`` (overrides included)."""
    if isinstance(params, dict):
        return {k: (v * fraction if k.endswith("sparsity") and isinstance(v, (int, float)) else
                    scaled_sparsity(v, fraction)) for k, v in params.items()}
    return params


def _round_fractions(rounds: int) -> list[float]:
    """Fractions of the final sparsity per round: 1 - (1 - r/R)^3 (the cubic schedule of Zhu & Gupta 2017)."""
    return [1.0 - (1.0 - r / rounds) ** 3 for r in range(1, rounds + 1)]


#: By the step a stage ends with (same-tensor route) or the method family (new-tensor route).
RECIPES: dict[str, Recipe] = {
    "prune": Recipe(4, 5e-4, rounds=5), "prune_random": Recipe(4, 5e-4, rounds=5), "share_kmeans": Recipe(6, 3e-4),
    "binarize": Recipe(12, 1e-3), "ternarize": Recipe(12, 1e-3), "quantize": Recipe(4, 1e-4),
    "mixed_precision": Recipe(4, 1e-4), "compact": Recipe(10, 1e-3, distill=True), "lowrank": Recipe(6, 5e-4),
    "structured": Recipe(10, 1e-3, distill=True), "default": Recipe(6, 5e-4),
}


@dataclass(frozen=True)
class RetrainOptions:
    epochs_scale: float = 1.0  # multiplies every recipe's epochs (at least 1 each)
    budget_s: float | None = None  # wall-clock budget per method (stages share it)
    batch: int = 64
    seed: int = 0


@dataclass(frozen=True)
class Retrained:
    compressed: CompressedModel
    what: str
    epochs: int
    seconds: float
    stopped_by_budget: bool


Progress = Callable[[str, int, int, float], None]  # (stage, epoch, epochs, loss)


def _projections(cgraph: OpGraph, params: dict[str, np.ndarray]) -> tuple[dict[str, Projection], dict[str, np.ndarray]]:
    projs: dict[str, Projection] = {}
    init: dict[str, np.ndarray] = {}
    for t in cgraph.weight_names():
        spec = cgraph.tensor(t)
        meta = spec.meta_dict()
        form = str(meta.get("value_format", "float" if spec.dtype.name.startswith(("fp", "bf")) else spec.encoding))
        if form not in PROJECTIONS:
            raise NotRetrainable(f"weight {t!r} is stored as {form!r}, which has no retraining projection")
        projs[t], init[t] = PROJECTIONS.get(form)(meta, cgraph.dense_weight(t).astype(np.float32), params[t])
    return projs, init


def _config(recipe: Recipe, opts: RetrainOptions, budget: float | None) -> TrainConfig:
    return TrainConfig(epochs=max(1, round(recipe.epochs * opts.epochs_scale)), lr=recipe.lr, batch=opts.batch,
                       seed=opts.seed, budget_s=budget, lr_decay=0.9,
                       alpha=0.7 if recipe.distill else 0.0, temperature=4.0)


def same_tensors(original: OpGraph, cgraph: OpGraph) -> bool:
    return all(original.tensors.get(t) is not None and original.tensor(t).shape == cgraph.tensor(t).shape
               for t in cgraph.weight_names()) and set(cgraph.weight_names()) == set(original.weight_names())


def retrain_method(original: OpGraph, method: Method, data: DataSplits, opts: RetrainOptions = RetrainOptions(),
                   progress: Progress | None = None) -> Retrained:
    """Retrain ``method`` on ``original`` (materialized, real weights) with ``data``'s train split."""
    first = apply_method(original, method)
    x, y = data.x("train"), data.y("train")
    t0 = time.perf_counter()
    epochs, stopped, what = 0, False, []

    def left() -> float | None:
        return None if opts.budget_s is None else max(0.0, opts.budget_s - (time.perf_counter() - t0))

    def cb(stage: str) -> Callable[[int, int, float], None] | None:
        return None if progress is None else (lambda e, n, loss: progress(stage, e, n, loss))

    if same_tensors(original, first.graph):
        weights = {t: original.dense_weight(t).astype(np.float32) for t in original.weight_names()}
        stages = [i + 1 for i, (name, _) in enumerate(method.steps) if name in STAGE_AFTER] or [len(method.steps)]
        for k in stages:
            step, step_params = method.steps[k - 1]
            recipe = RECIPES.get(step, RECIPES["default"])
            for fraction in _round_fractions(recipe.rounds):
                steps = method.steps[:k - 1] + ((step, scaled_sparsity(dict(step_params), fraction)),)
                partial = apply_method(original.with_weights(weights), dataclasses.replace(method, steps=steps))
                projs, init = _projections(partial.graph, weights)
                net = TrainableNet(partial.graph, init, projs)
                cfg = _config(recipe, opts, left())
                log = fit(net, x, y, cfg, progress=cb(step))
                weights.update(net.final_weights())
                epochs += log.epochs_run
                stopped |= log.stopped_by_budget
            kinds = sorted({p.kind for p in projs.values() if p.kind != "plain"}) or ["plain"]
            rounds = f"{recipe.rounds} rounds x " if recipe.rounds > 1 else ""
            what.append(f"after {step}: {rounds}{cfg.epochs} epoch(s) through {'/'.join(kinds)} weights "
                        f"(Adam lr {cfg.lr:g})")
            if opts.budget_s is not None and left() == 0.0:
                break
        final = apply_method(original.with_weights(weights), method)
    else:
        cg = first.graph
        for t in cg.weight_names():
            spec = cg.tensor(t)
            if spec.encoding != "dense" or not spec.dtype.name.startswith("fp32"):
                raise NotRetrainable(f"{method.name}: new tensor {t!r} is stored as {spec.dtype.name}/{spec.encoding}; "
                                     f"only fp32 dense new tensors are fine-tuned")
        params = {t: cg.dense_weight(t).astype(np.float32) for t in cg.weight_names()}
        net = TrainableNet(cg, params, {t: Plain() for t in params})
        recipe = RECIPES.get(method.family, RECIPES["default"])
        teacher = None
        if recipe.distill:
            teacher = TrainableNet(original, {t: original.dense_weight(t) for t in original.weight_names()},
                                   {}).predict(x)
        cfg = _config(recipe, opts, left())
        log = fit(net, x, y, cfg, teacher=teacher, progress=cb(method.family or "fine-tune"))
        epochs, stopped = log.epochs_run, log.stopped_by_budget
        what.append(("distillation from the fp32 model (soft targets T=4, alpha 0.7) + labels: " if recipe.distill
                     else "fine-tuning of the new layers: ") + f"{log.epochs_run} epoch(s) (Adam lr {cfg.lr:g})")
        final = dataclasses.replace(first, graph=cg.with_weights(net.final_weights()))
    return Retrained(final, "; ".join(what), epochs, time.perf_counter() - t0, stopped)
