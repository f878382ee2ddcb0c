"""conv -> batchnorm -> activation runs as one kernel on CPUs and GPUs (profile key ``<kind>.fusion``).

Every deployment runtime for these devices does this: TFLite's converter and ONNX Runtime's graph
optimizer fold an inference batchnorm into the preceding conv's weights and bias and fuse ReLU / ReLU6
into the conv kernel's epilogue; TensorRT and ncnn do the same. The fused ops then move no data of their
own and cost no dispatch; what remains is the bias add (a folded batchnorm) or the activation's
arithmetic on values still in registers. So the "fold-bn" method buys nothing on these devices, as on
the real ones; with ``fusion`` switched off it does.
"""

from __future__ import annotations

import pytest
from sanity_cases import CPU_GPU, by_node, compressed, device, run

from hwsim.cost.work import prepare
from hwsim.ir import Node, OpGraph, TensorSpec
from hwsim.sim import op_costs

UNFUSED = (("cpu.fusion.batchnorm", "false"), ("cpu.fusion.activation", "false"))
UNFUSED_GPU = (("gpu.fusion.batchnorm", "false"), ("gpu.fusion.activation", "false"))


def _unfused(dev: str):
    return UNFUSED if dev.startswith("cpu") else UNFUSED_GPU


@pytest.mark.parametrize("dev", CPU_GPU)
@pytest.mark.parametrize("model", ("resnet18", "mobilenet_v2"))
def test_fused_batchnorm_and_activations_move_no_data_and_pay_no_dispatch(model: str, dev: str) -> None:
    work = {w.node: w for w in prepare(compressed(model, "baseline")).ops}
    fused = [w for w in work.values() if w.fuse_kind]
    assert {w.fuse_kind for w in fused} == {"batchnorm", "activation"}
    assert all(w.op == "batchnorm" for w in fused if w.fuse_kind == "batchnorm")
    res = by_node(run(model, "baseline", dev))
    for w in fused:
        t = res[w.node]
        assert sum(t.transfer_bytes.values()) == 0 and t.overhead_cycles == 0, w.node
        assert t.cycles == t.compute_cycles  # arithmetic only


@pytest.mark.parametrize("dev", CPU_GPU)
@pytest.mark.parametrize("model", ("resnet18", "mobilenet_v2"))
def test_unfused_profiles_pay_for_separate_passes_and_fold_bn_recovers_them(model: str, dev: str) -> None:
    fused, unfused = run(model, "baseline", dev), run(model, "baseline", dev, _unfused(dev))
    assert unfused.total_cycles > fused.total_cycles
    assert sum(unfused.transfer_bytes.values()) > sum(fused.transfer_bytes.values())
    if model == "resnet18":  # fold-bn (remove_layers) cannot fold MobileNetV2's batchnorms yet
        folded = run(model, "fold-bn", dev, _unfused(dev))
        assert folded.total_cycles < unfused.total_cycles
        # with fusion on, folding by hand buys nothing: the runtime already did it
        assert run(model, "fold-bn", dev).total_cycles == pytest.approx(fused.total_cycles, rel=0.01)


def test_a_conv_output_read_twice_is_not_fused() -> None:
    """The tensor between producer and fused op must have no other reader (it is never written out)."""
    nodes = [
        Node("c", "conv2d", ("x",), ("a",), {"out_channels": 8, "kernel": 3, "padding": 1}),
        Node("bn", "batchnorm", ("a",), ("b",)),
        Node("r", "relu", ("b",), ("c_",)),
        Node("s", "add", ("a", "c_"), ("y",)),
    ]
    g = OpGraph.build("twice", [TensorSpec("x", (1, 8, 16, 16))], nodes, ["y"])
    work = {w.node: w for w in prepare(g).ops}
    assert work["bn"].fuse_kind is None  # conv output also read by the add
    assert work["r"].fuse_kind == "activation" and work["r"].fuse_into == "bn"
    costs = {c.node: c for c in op_costs(g, device("cpu-a72"))}
    assert sum(costs["bn"].transfer_bytes.values()) > 0 and costs["bn"].overhead_cycles > 0
    assert sum(costs["r"].transfer_bytes.values()) == 0
