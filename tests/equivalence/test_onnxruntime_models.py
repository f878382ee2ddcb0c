"""hwsim's fp32 executor against onnxruntime on ONNX exports of whole networks (their initializers are
the weights): ResNet-18 and MobileNetV2 at a reduced 64x64 input (the graphs end in global pooling, so
any size works; the full-size check is in bench/bench_kernels.py) and the transformer workload as is.
Figure: within 1e-4 relative (max |hwsim - onnxruntime| / max |onnxruntime|)."""

from __future__ import annotations

import pytest

from hwsim.analysis.onnx_reference import compare_with_onnxruntime
from hwsim.frontends import load_model

from testutils import WORKLOADS

pytest.importorskip("onnxruntime")


def _reduced(name: str, hw: int | None):
    g = load_model(WORKLOADS / f"{name}.json")
    if hw is None:
        return g
    spec = g.tensor(g.inputs[0])
    return g.rebuild(inputs=[spec.with_(shape=(1, spec.shape[1], hw, hw))])


@pytest.mark.parametrize("name, hw", [("resnet18", 64), ("mobilenet_v2", 64), ("transformer_tiny", None)])
def test_executor_matches_onnxruntime(name, hw):
    cmp = compare_with_onnxruntime(_reduced(name, hw), inputs=2, seed=0)
    assert cmp.max_rel_diff <= 1e-4, cmp.as_dict()
