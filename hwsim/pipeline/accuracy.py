"""The accuracy stage of the report pipeline: real top-1 of every method on labelled data.

With ``data`` set, every method is measured on the data's test split (``hwsim.analysis.accuracy``):
post-training (integer quantization calibrated on the calibration split, the variant chosen on
validation), and, for methods that need it, after retraining on the train split. A retrained or
calibrated method is then simulated as it really is: its compressed graph is the re-encoded
retrained one (sizes from the real encodings of the retrained weights).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hwsim.analysis.accuracy import MethodAccuracy, evaluate, measure_method
from hwsim.analysis.data import DataSplits, load_for_model
from hwsim.analysis.metrics import DeviceRun, MethodRun
from hwsim.analysis.ranking import DEFAULT_MAX_DROP_PTS
from hwsim.analysis.retrain.methods import RetrainOptions
from hwsim.ir.graph import OpGraph
from hwsim.pipeline.methods import NamedMethod
from hwsim.pipeline.steps import Progress, guard, summarize


class AccuracyConfig(BaseModel):
    """Task accuracy on labelled data and the drop the recommendations allow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: str | None = None  # digits | mnist | FILE.npz | image folder
    preprocess: str | None = None
    max_drop: float = Field(DEFAULT_MAX_DROP_PTS, ge=0.0, le=100.0)  # percentage points of top-1
    retrain: bool = True  # retrain the methods that need it (with data)
    retrain_epochs: float = Field(1.0, gt=0.0, le=100.0)
    retrain_budget_s: float | None = Field(None, gt=0.0)
    seed: int = 0


def load_data(cfg: AccuracyConfig, graph: OpGraph) -> DataSplits | None:
    return None if cfg.data is None else load_for_model(cfg.data, graph, cfg.preprocess, cfg.seed)


def measure_all(cfg: AccuracyConfig, source: OpGraph, data: DataSplits, methods: Sequence[NamedMethod],
                strict: bool, progress: Progress) -> dict[str, MethodAccuracy | str]:
    """Per method: its MethodAccuracy, or the error message (one failure does not hide the others).
    While a method retrains, ``progress`` says which method, stage and epoch, how long it has run and
    how to shorten it (retraining is what makes ``--data`` slow)."""
    base = evaluate(source, data)
    opts = RetrainOptions(epochs_scale=cfg.retrain_epochs, budget_s=cfg.retrain_budget_s, seed=cfg.seed)
    out: dict[str, MethodAccuracy | str] = {}
    for i, (name, method) in enumerate(methods, 1):
        started = time.perf_counter()
        progress(f"accuracy {i}/{len(methods)}: {name} on {data.size('test')} test images", advance=0)

        def tick(stage: str, epoch: int, total: int, loss: float, name: str = name, started: float = started) -> None:
            cap = (f"capped at {cfg.retrain_budget_s:g} s" if cfg.retrain_budget_s else
                   "--retrain-budget S or --retrain-epochs 0.5 shortens it")
            progress(f"{name}: retraining after {stage}, epoch {epoch}/{total}, {time.perf_counter() - started:.0f} s "
                     f"(the slow part; {cap})", advance=0)

        acc, outcome = guard(strict, lambda: measure_method(source, method, data, opts if cfg.retrain else None,
                                                            base, tick))
        out[name] = acc if acc is not None else outcome.message
        progress(f"{name}: accuracy measured")
    return out


#: A pass's note (or clause of one, split at "; ") saying it cannot know the task accuracy.
_UNKNOWN_ACCURACY = re.compile(r"accuracy\b.*\b(unknown|not measured)|\b(unknown|not measured)\b.*accuracy|"
                               r"the tool does not (train|do)", re.I)


def measured_notes(notes: tuple[str, ...]) -> tuple[str, ...]:
    """``notes`` without the clauses that call the task accuracy unknown: once it is measured on data
    (``--data``) they are no longer true. The rest of such a note is kept."""
    out = []
    for note in notes:
        if not _UNKNOWN_ACCURACY.search(note):
            out.append(note)
            continue
        kept = [c for c in note.split("; ") if not _UNKNOWN_ACCURACY.search(c)]
        if kept:
            out.append("; ".join(kept))
    return tuple(out)


def with_accuracy(run: MethodRun, acc: MethodAccuracy | str | None,
                  simulate: Callable[[OpGraph, Any, Any, str], DeviceRun], devices: Sequence[Any]) -> MethodRun:
    """``run`` carrying its accuracy; when the measured model differs from the one simulated (retrained
    or calibrated), its graph is simulated again so cost and accuracy describe the same model."""
    if not isinstance(acc, MethodAccuracy):
        return run if acc is None else dataclasses.replace(run, notes=run.notes + (f"accuracy: {acc}",))
    run = dataclasses.replace(run, notes=measured_notes(run.notes))
    cm = acc.compressed
    if cm is None or run.summary is None or not run.compress.ok:
        return dataclasses.replace(run, accuracy=acc)
    summary = summarize(cm.graph)
    runs = tuple(simulate(cm.graph, summary, dev, run.method) for dev in devices)
    note = ("cost of the retrained model (its re-encoded weights)" if acc.retrained is not None else None)
    return dataclasses.replace(run, accuracy=acc, summary=summary, runs=runs,
                               notes=run.notes + ((note,) if note else ()))


def accuracy_doc(cfg: AccuracyConfig, data: DataSplits, accs: dict[str, MethodAccuracy | str]) -> dict[str, Any]:
    return {"data": data.as_dict() | {"description": data.data.description}, "max_drop": cfg.max_drop,
            "retrain": cfg.retrain, "methods": {k: (v.as_dict() if isinstance(v, MethodAccuracy) else {"error": v})
                                                for k, v in accs.items()}}
