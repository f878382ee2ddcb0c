"""The per-graph cost memo: an op whose work repeats an earlier op's is relabelled, never costed
differently from costing it on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwsim.cost.memo import CostMemo, work_signature
from hwsim.cost.registry import cost_model
from hwsim.cost.work import prepare
from hwsim.frontends import load_model
from hwsim.hardware import load_device

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("device", ["cpu-a53", "gpu-jetson-nano", "systolic-32x32"])
def test_memoised_graph_costs_equal_op_by_op_costs(device: str) -> None:
    graph = load_model(ROOT / "workloads" / "resnet18.json")
    dev = load_device(device)
    model = cost_model(dev.kind)
    work = prepare(graph)
    whole = model.cost_graph(work, dev)
    repeated = [w for w in work.ops if sum(work_signature(w) == work_signature(v) for v in work.ops) > 1]
    assert repeated, "ResNet-18 repeats ops (its stages' blocks): the memo must be exercised"
    by_node = {c.node: c for c in whole}
    for w in work.ops:
        if w.fuse_kind or (w.gemm is not None and dev.kind == "systolic"):
            continue  # fused and array ops take other rules, not the memo
        alone = model.cost_op(w, dev)
        assert by_node[w.node] == alone


def test_memo_relabels_hits_and_costs_each_signature_once() -> None:
    graph = load_model(ROOT / "workloads" / "resnet18.json")
    dev = load_device("cpu-a53")
    model = cost_model(dev.kind)
    work = prepare(graph)
    calls: list[str] = []

    def rule(w):  # noqa: ANN001, ANN202
        calls.append(w.node)
        return model.cost_op(w, dev)

    memo = CostMemo(rule)
    costs = [memo(w) for w in work.ops]
    assert [c.node for c in costs] == [w.node for w in work.ops]
    assert len(calls) == len({work_signature(w) for w in work.ops}) < len(work.ops)
