"""Which methods a report may crown (fastest, least energy, smallest): those whose accuracy is known to
stay within the allowed drop.

* With labelled data (``--data``), a method is **eligible** when its measured top-1 (retrained where
  the method needs it) is at most ``max_drop_pts`` below the fp32 model's on the same test images;
  a method beyond the drop is **excluded** and named with its drop; a method whose accuracy could
  not be measured is **unknown**.
* Without data, the ranking cannot see accuracy: only methods that are exact or near-lossless by
  construction (``needs_training`` False: fp16, int8 post-training quantization, batchnorm folding,
  fast convolution algorithms, ...) are eligible; every other method is **unknown** ("accuracy
  unknown: needs retraining on your data") and never crowned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwsim.analysis.metrics import MethodMetrics
from hwsim.analysis.pareto import Sense, pareto_front

DEFAULT_MAX_DROP_PTS = 1.0

#: The accuracy-against-cost front: measured top-1 against latency, energy and stored size.
ACCURACY_OBJECTIVES: tuple[tuple[str, Sense], ...] = (("task_top1", "max"), ("latency_s", "min"),
                                                       ("energy_j", "min"), ("model_size_bytes", "min"))


def accuracy_front(rows: Sequence[MethodMetrics]) -> set[str] | None:
    """Methods on the Pareto front of real top-1, latency, energy and size among ``rows`` (one device);
    None when no row has a measured accuracy (then there is no such front). A method whose accuracy is
    unknown is never on it."""
    ok = [r for r in rows if r.status == "ok"]
    if not any(r.task_top1 is not None for r in ok):
        return None
    points = [{k: getattr(r, k) for k, _ in ACCURACY_OBJECTIVES} for r in ok]
    return {ok[i].method for i in pareto_front(points, ACCURACY_OBJECTIVES)}


@dataclass(frozen=True)
class RankingPolicy:
    max_drop_pts: float = DEFAULT_MAX_DROP_PTS
    data: str | None = None  # description of the labelled data, None without --data
    images: int | None = None

    @property
    def has_data(self) -> bool:
        return self.data is not None


def policy_for(max_drop_pts: float | None, accuracy_doc: Mapping[str, Any] | None = None) -> RankingPolicy:
    """A run's ranking policy: its ``--max-drop`` and, when accuracy was measured, the data it was measured
    on (``accuracy_doc``: the pipeline's accuracy record, with ``data.description`` / ``name`` and
    ``data.splits.test``)."""
    drop = DEFAULT_MAX_DROP_PTS if max_drop_pts is None else float(max_drop_pts)
    data = (accuracy_doc or {}).get("data")
    if not data:
        return RankingPolicy(drop)
    return RankingPolicy(drop, data.get("description", data.get("name")), data.get("splits", {}).get("test"))


@dataclass(frozen=True)
class Eligibility:
    eligible: tuple[MethodMetrics, ...]
    excluded: tuple[MethodMetrics, ...]  # measured, beyond the allowed drop
    unknown: tuple[MethodMetrics, ...]  # accuracy unknown


def classify(rows: Sequence[MethodMetrics], baseline: str | None, policy: RankingPolicy) -> Eligibility:
    """Split the ok, non-baseline rows of one device by what is known of their accuracy."""
    eligible, excluded, unknown = [], [], []
    for r in rows:
        if r.status != "ok" or r.method == baseline:
            continue
        if r.task_drop_pts is not None:
            (eligible if r.task_drop_pts <= policy.max_drop_pts + 1e-9 else excluded).append(r)
        elif not policy.has_data and r.needs_training is False:
            eligible.append(r)
        else:
            unknown.append(r)
    return Eligibility(tuple(eligible), tuple(excluded), tuple(unknown))


def policy_lines(e: Eligibility, policy: RankingPolicy) -> list[str]:
    """What a reader must know about the ranking, one line each."""
    out = []
    if policy.has_data:
        out.append(f"ranked among methods within {policy.max_drop_pts:g} pt of fp32 top-1 on {policy.images} test "
                   f"images ({policy.data})")
        if e.excluded:
            out.append(f"beyond the allowed {policy.max_drop_pts:g} pt drop (not ranked): "
                       + ", ".join(f"{r.method} (-{r.task_drop_pts:.1f} pt)" for r in e.excluded))
        if e.unknown:
            out.append("accuracy unknown (not ranked): " + ", ".join(r.method for r in e.unknown))
    else:
        names = ", ".join(r.method for r in e.eligible) or "none"
        out.append("no --data: this ranking ignores task accuracy; ranked only methods exact or near-lossless by "
                   f"construction ({names})")
        if e.unknown:
            out.append("accuracy unknown: needs retraining on your data (not ranked): "
                       + ", ".join(r.method for r in e.unknown))
    return out
