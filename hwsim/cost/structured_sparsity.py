"""N:M-sparse weights (``nm_sparse``, e.g. 2:4) as a given device runs them.

A device whose profile lists the pattern in ``structured_sparsity`` (Ampere / Orin GPUs: sparse tensor
cores) reads the compressed weights (kept values + positions) and does N/M of the dense products: the
op's GEMM keeps K x N/M of its inner dimension. Any other device has no such unit: the zeros are
expanded when the model is loaded, and the op is costed dense (dense weight bytes in memory and
traffic, every product done). ``device_view`` applies this to a whole workload before costing.
"""

from __future__ import annotations

import math
from dataclasses import replace

from hwsim.cost.work import OpWork, Workload
from hwsim.hardware.profile import DeviceProfile

NM_ENCODING = "nm_sparse"


def accelerated_patterns(device: DeviceProfile) -> frozenset[str]:
    return frozenset(getattr(device.spec, "structured_sparsity", ()) or ())


def _pattern(w: OpWork) -> tuple[int, int] | None:
    if w.weight is None or w.weight.encoding != NM_ENCODING:
        return None
    return int(w.weight.meta["n"]), int(w.weight.meta["m"])


def device_view(workload: Workload, device: DeviceProfile) -> Workload:
    """The workload as ``device`` executes its N:M-sparse weights (unchanged when it has none)."""
    if not any(_pattern(w) for w in workload.ops):
        return workload
    patterns = accelerated_patterns(device)
    ops: list[OpWork] = []
    extra_runtime = 0
    for w in workload.ops:
        nm = _pattern(w)
        if nm is None:
            ops.append(w)
            continue
        n, m = nm
        assert w.weight is not None
        if f"{n}:{m}" in patterns and w.gemm is not None:
            g = w.gemm
            kept = w.weight.numel * n // m  # the unit reads the kept values (+ positions) as a K x N/M operand
            ops.append(replace(w, gemm=replace(g, k=math.ceil(g.k * n / m)), macs=w.macs * n // m,
                               weight=replace(w.weight, numel=kept, nonzeros=min(w.weight.nonzeros, kept))))
        else:
            dense = w.weight.dense_bytes
            ops.append(replace(w, weight=replace(w.weight, encoding="dense", density=1.0, nonzeros=w.weight.numel,
                                                 stored_bytes=dense, runtime_bytes=dense, meta={})))
            extra_runtime += dense - w.weight.runtime_bytes
    return replace(workload, ops=tuple(ops), runtime_weight_bytes=workload.runtime_weight_bytes + extra_runtime)
