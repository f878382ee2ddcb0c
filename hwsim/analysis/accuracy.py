"""Task accuracy of compression methods on real labelled data: post-training, and after retraining.

For one model (its real weights) and one data set (``hwsim.analysis.data``: seeded train /
validation / test / calibration splits):

* every method is applied and its compressed graph run by hwsim's kernels on the **test** split:
  top-1 (and top-5 when there are more than 10 classes) against the fp32 model on the same images;
* integer quantization is calibrated on the **calibration** split (a subset of train): activation
  ranges by min-max, by percentile (0.01 / 99.99) or by MSE-optimal clipping, each with and without
  bias correction (the expected output shift (W - Wq) E[x] added back to the bias, Nagel et al. 2019);
  the variant with the best **validation** accuracy is kept and only then measured on test;
* methods that need retraining are retrained on the **train** split (``hwsim.analysis.retrain``), the
  method's passes re-encode the retrained weights, and the result is measured on test; the size is
  that of the re-encoded retrained weights.

Without trained weights none of this means anything: ``weights_origin`` says which a model has, and
callers label figures from random weights as such.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwsim.analysis.data import DataSplits
from hwsim.compress.calibrate import CALIBRATORS, Ranges, register_calibrator
from hwsim.compress.method import CompressedModel, Method, apply_method
from hwsim.ir.counting import count_graph
from hwsim.ir.graph import Node, OpGraph
from hwsim.kernels import execute
from hwsim.kernels.registry import KernelCall, KernelDef

#: Below this many evaluated inputs a top-1 agreement or accuracy figure is not shown (too noisy).
MIN_INPUTS = 100
CALIBRATIONS = ("minmax", "percentile", "mse")
PERCENTILE = 99.99


@dataclass(frozen=True)
class TopK:
    top1: float
    top5: float | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {"top1": round(self.top1, 6), "top5": None if self.top5 is None else round(self.top5, 6),
                "images": self.n}


@dataclass(frozen=True)
class MethodAccuracy:
    """What one method does to task accuracy on the test split (``n`` images)."""

    method: str
    baseline: TopK
    post_training: TopK | None
    post_training_how: str = ""
    retrained: TopK | None = None
    retrain_how: str = ""
    retrain_epochs: int = 0
    retrain_seconds: float = 0.0
    final_bytes: int | None = None
    baseline_bytes: int | None = None
    status: str = "measured"  # measured | retrained | error
    notes: tuple[str, ...] = field(default_factory=tuple)
    compressed: Any = field(default=None, compare=False, repr=False)  # the final CompressedModel

    @property
    def final(self) -> TopK | None:
        return self.retrained if self.retrained is not None else self.post_training

    @property
    def drop_points(self) -> float | None:
        f = self.final
        return None if f is None else 100.0 * (self.baseline.top1 - f.top1)

    @property
    def final_compression(self) -> float | None:
        if self.final_bytes and self.baseline_bytes:
            return self.baseline_bytes / self.final_bytes
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "status": self.status, "images": self.baseline.n,
                "baseline": self.baseline.as_dict(),
                "post_training": None if self.post_training is None else self.post_training.as_dict(),
                "post_training_how": self.post_training_how,
                "retrained": None if self.retrained is None else self.retrained.as_dict(),
                "retrain_how": self.retrain_how, "retrain_epochs": self.retrain_epochs,
                "retrain_seconds": round(self.retrain_seconds, 3),
                "final_bytes": self.final_bytes,
                "final_compression": None if self.final_compression is None
                else round(self.final_compression, 3),
                "final_top1": None if self.final is None else round(self.final.top1, 6),
                "drop_points": None if self.drop_points is None else round(self.drop_points, 4),
                "notes": list(self.notes)}


# --- weights --------------------------------------------------------------------------------------

def weights_origin(graph: OpGraph) -> str:
    """``trained`` when the model file provides every weight, ``random`` when none, else ``partly random``."""
    names = graph.weight_names()
    provided = sum(graph.weights.provided(t) for t in names)
    if names and provided == len(names):
        return "trained"
    return "random" if provided == 0 else "partly random"


def weights_label(graph: OpGraph) -> str:
    origin = weights_origin(graph)
    if origin == "trained":
        return "trained weights (from the model file)"
    seed = graph.meta.get("seed", graph.weights.seed)
    return (f"random weights (seeded, seed {seed}): fidelity figures are not quality figures" if origin == "random"
            else f"partly random weights (seed {seed} for the tensors the model file does not provide)")


# --- evaluation -----------------------------------------------------------------------------------

def logits(graph: OpGraph, x: np.ndarray, batch: int = 250) -> np.ndarray:
    """The first output for every sample, in batches (hwsim's kernels)."""
    name = graph.inputs[0]
    declared = graph.tensor(name).shape[0]
    outs = []
    for i in range(0, len(x), batch):
        chunk = x[i:i + batch]
        try:
            outs.append(execute(graph, {name: chunk}, require_provided=False).output)
        except Exception:
            if declared == len(chunk):
                raise
            outs.extend(execute(graph, {name: chunk[j:j + declared]}, require_provided=False).output
                        for j in range(0, len(chunk), declared))
    return np.concatenate(outs).reshape(len(x), -1)


def topk(z: np.ndarray, y: np.ndarray) -> TopK:
    top1 = float(np.mean(z.argmax(axis=1) == y))
    top5 = None
    if z.shape[1] > 10:
        best5 = np.argpartition(-z, 5, axis=1)[:, :5]
        top5 = float(np.mean((best5 == y[:, None]).any(axis=1)))
    return TopK(top1, top5, int(len(y)))


def evaluate(graph: OpGraph, data: DataSplits, split: str = "test") -> TopK:
    return topk(logits(graph, data.x(split)), data.y(split))


# --- post-training calibration --------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class CalibrationStats:
    """What one run of the calibration split through a graph shows: every tensor's values (flattened,
    up to 2^20 each) and per-channel means (for bias correction)."""

    values: dict[str, np.ndarray]
    means: dict[str, np.ndarray]


#: The last (graph, data, stats): the calibration variants of one method (3 range rules, with and
#: without bias correction) all read one run of the calibration split.
_LAST_STATS: list[tuple[OpGraph, DataSplits, CalibrationStats]] = []


def calibration_stats(graph: OpGraph, data: DataSplits) -> CalibrationStats:
    if _LAST_STATS and _LAST_STATS[0][0] is graph and _LAST_STATS[0][1] is data:
        return _LAST_STATS[0][2]
    x = data.x("calibration")
    rng = np.random.default_rng(0)
    values: dict[str, np.ndarray] = {graph.inputs[0]: x.reshape(-1)}
    means: dict[str, np.ndarray] = {graph.inputs[0]: _channel_mean(x)}

    def hook(node: Node, kdef: KernelDef, call: KernelCall, outs: tuple[np.ndarray, ...]) -> None:
        for t, a in zip(node.outputs, outs):
            means[t] = _channel_mean(a)
            flat = np.asarray(a, np.float32).reshape(-1)
            if flat.size > 1 << 20:
                flat = flat[rng.choice(flat.size, 1 << 20, replace=False)]
            values[t] = flat

    execute(graph, {graph.inputs[0]: x}, on_node=hook, require_provided=False)
    stats = CalibrationStats(values, means)
    _LAST_STATS[:] = [(graph, data, stats)]
    return stats


def _mse_range(v: np.ndarray, bits: int = 8) -> tuple[float, float]:
    """The clipping range (a fraction of [min, max]) with the least quantization MSE (asymmetric, b bits)."""
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return lo, hi
    sample = v if v.size <= 200_000 else v[:: v.size // 200_000 + 1]
    best, best_err = (lo, hi), math.inf
    for frac in np.linspace(0.2, 1.0, 17):
        a, b = lo * frac, hi * frac
        s = (b - a) / (2**bits - 1)
        q = np.clip(np.round((sample - a) / s), 0, 2**bits - 1) * s + a
        err = float(np.mean((q - sample) ** 2))
        if err < best_err:
            best, best_err = (a, b), err
    return best


def data_ranges(graph: OpGraph, data: DataSplits, how: str) -> Ranges:
    values = calibration_stats(graph, data).values
    out: Ranges = {}
    for t, v in values.items():
        if how == "minmax":
            out[t] = (float(v.min()), float(v.max()))
        elif how == "percentile":
            out[t] = (float(np.percentile(v, 100 - PERCENTILE)), float(np.percentile(v, PERCENTILE)))
        else:
            out[t] = _mse_range(v)
    return out


def calibrator_name(data: DataSplits, how: str) -> str:
    """Register (once per data object) and name the calibrator of ``data``'s calibration split by ``how``.

    The name carries the object's identity: the same file read for another model (another input shape,
    other preprocessing) is another data object and gets its own calibrator. The data is held weakly,
    so a finished run's arrays are freed."""
    name = f"data:{data.data.source}:{data.seed}:{id(data):x}:{how}"
    _CALIBRATION_DATA[name] = data  # (re)bound on every call: an id reused by a new object points to it
    if name not in CALIBRATORS:

        def calibrate(graph: OpGraph, samples: int, seed: int) -> Ranges:
            d = _CALIBRATION_DATA.get(name)
            if d is None:
                raise RuntimeError(f"calibration data of {name!r} is gone")
            return data_ranges(graph, d, how)

        register_calibrator(name, calibrate)
    return name


#: The data behind each registered data calibrator, held weakly.
_CALIBRATION_DATA: "weakref.WeakValueDictionary[str, DataSplits]" = weakref.WeakValueDictionary()


def _with_calibration(method: Method, calibration: str) -> Method:
    steps = tuple((n, {**p, "calibration": calibration}) if n == "quantize" and p.get("activations") else (n, p)
                  for n, p in method.steps)
    return dataclasses.replace(method, steps=steps)


def quantizes_int(method: Method) -> tuple[bool, bool]:
    """(quantizes weights to integers, quantizes activations to integers)."""
    w = a = False
    for n, p in method.steps:
        if n == "quantize" and p.get("format", "int") == "int":
            w |= p.get("weights", True)
            a |= bool(p.get("activations", False))
    return w, a


def bias_correct(original: OpGraph, compressed: OpGraph, data: DataSplits) -> OpGraph:
    """Add (W - Wq) E[x] to the bias of every conv / linear whose weight changed (E over the calibration
    split, per input channel; padding ignored)."""
    inputs = calibration_stats(original, data).means
    new: dict[str, np.ndarray] = {}
    for node in compressed.nodes:
        if node.op not in ("conv2d", "linear") or "bias" not in node.params or "weight" not in node.params:
            continue
        wt, bt = node.params["weight"], node.params["bias"]
        if not original.has_node(node.name) or original.node(node.name).params.get("weight") != wt:
            continue
        x_mean = inputs.get(node.inputs[0])
        if x_mean is None:
            continue
        dw = original.dense_weight(wt).astype(np.float64) - compressed.dense_weight(wt).astype(np.float64)
        groups = int(node.attrs.get("groups", 1)) if node.op == "conv2d" else 1
        if groups != 1:
            continue
        shift = dw.reshape(dw.shape[0], dw.shape[1], -1).sum(axis=2) @ x_mean if dw.ndim == 4 else dw @ x_mean
        new[bt] = (compressed.dense_weight(bt).astype(np.float64) + shift).astype(np.float32)
    return compressed.with_weights(new) if new else compressed


def _channel_mean(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a.mean(axis=(0, 2, 3)) if a.ndim == 4 else a.reshape(a.shape[0], -1).mean(axis=0)


def post_training(original: OpGraph, method: Method, data: DataSplits) -> tuple[CompressedModel, str]:
    """The method applied without retraining; integer quantization calibrated on data, the variant
    chosen on the validation split."""
    w_int, a_int = quantizes_int(method)
    if not w_int and not a_int:
        return apply_method(original, method), ""
    candidates: list[tuple[str, CompressedModel]] = []
    for how in (CALIBRATIONS if a_int else ("",)):
        m = _with_calibration(method, calibrator_name(data, how)) if how else method
        cm = apply_method(original, m)
        label = f"activation ranges by {how} on {data.size('calibration')} calibration images" if how else ""
        candidates.append((label, cm))
        corrected = dataclasses.replace(cm, graph=bias_correct(original, cm.graph, data))
        candidates.append(((label + ", " if label else "") + "bias correction", corrected))
    _LAST_STATS.clear()  # the arrays of this run are not kept beyond it
    scored = [(evaluate(cm.graph, data, "validation").top1, -i, label, cm) for i, (label, cm) in enumerate(candidates)]
    best = max(scored, key=lambda s: (s[0], s[1]))
    return best[3], f"{best[2] or 'no correction'} (best of {len(candidates)} variants on the validation split)"


# --- the entry point ------------------------------------------------------------------------------

def measure_method(original: OpGraph, method: Method, data: DataSplits, retrain: Any | None = None,
                   baseline: TopK | None = None, progress: Callable[[str, int, int, float], None] | None = None
                   ) -> MethodAccuracy:
    """Accuracy of ``method`` on ``original`` (real weights) over ``data``'s test split; retrained too
    when ``retrain`` (RetrainOptions) is given and the method needs training."""
    from hwsim.analysis.retrain.methods import retrain_method
    from hwsim.analysis.retrain.net import NotRetrainable

    base = baseline or evaluate(original, data)
    base_bytes = count_graph(original).weight_bytes
    cm, how = post_training(original, method, data)
    post = evaluate(cm.graph, data)
    result = MethodAccuracy(method.name, base, post, how, baseline_bytes=base_bytes,
                            final_bytes=count_graph(cm.graph).weight_bytes, compressed=cm)
    if retrain is None or not method.needs_training:
        return result
    if not any(r.changed for r in cm.results):
        # Retraining a model the method left as it was would only train the fp32 model further and
        # credit the method with that gain.
        return dataclasses.replace(result, notes=("not retrained: the method changes nothing in this model",))
    try:
        r = retrain_method(original, method, data, retrain, progress)
    except NotRetrainable as e:
        return dataclasses.replace(result, notes=(f"not retrained: {e}",))
    return dataclasses.replace(result, retrained=evaluate(r.compressed.graph, data), retrain_how=r.what,
                               retrain_epochs=r.epochs, retrain_seconds=r.seconds, status="retrained",
                               final_bytes=count_graph(r.compressed.graph).weight_bytes, compressed=r.compressed,
                               notes=("retraining stopped by the time budget",) if r.stopped_by_budget else ())
