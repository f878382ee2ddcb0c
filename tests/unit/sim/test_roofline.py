"""The roofline holds for every op on every device: latency >= max(ops / peak, bytes / bandwidth).

ops / peak uses the device's fastest unit for the op's compute class; bytes / bandwidth uses the
compulsory DRAM bytes (stored weights once) and every level's own traffic. FPGA designs are left to
the FPGA model's own tests: their peak depends on the synthesized design (LUT-built multipliers
beside the DSPs) and weights may be held on chip across inferences.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from devicegraphs import conv_graph, linear_graph

from hwsim.cost.common import compute_class
from hwsim.cost.registry import COST_MODELS, cost_model
from hwsim.cost.work import prepare
from hwsim.hardware import list_devices, load_device
from hwsim.hardware.peaks import peak_ops
from hwsim.ir import BINARY, FP16, FP32, INT4, INT8, TERNARY

DTYPES = [(FP32, FP32), (FP16, FP16), (INT8, INT8), (INT4, INT8), (TERNARY, INT8), (BINARY, BINARY), (INT8, FP32)]


def _devices() -> list[str]:
    cost_model("cpu")  # load the built-in models
    return [n for n in list_devices()
            if load_device(n).kind in COST_MODELS and load_device(n).kind in ("cpu", "gpu", "systolic")]


def _peak_macs_per_s(device, cc_key: str) -> float:
    """Fastest unit's MACs/s for a compute-class key, or for anything faster (an upper bound)."""
    return max(p.ops_per_s for p in peak_ops(device)) / 2


@settings(max_examples=60, deadline=None)
@given(dev=st.sampled_from(_devices()), c=st.sampled_from([3, 8, 32, 96]), k=st.sampled_from([1, 16, 64, 200]),
       h=st.integers(4, 40), kernel=st.sampled_from([1, 3, 5]), dts=st.sampled_from(DTYPES),
       depthwise=st.booleans())
def test_conv_latency_never_beats_the_roofline(dev, c, k, h, kernel, dts, depthwise) -> None:
    groups = c if depthwise else 1
    k = c if depthwise else k
    g = conv_graph(c=c, k=k, h=h, kernel=kernel, groups=groups, wdt=dts[0], adt=dts[1])
    _check(g, load_device(dev))


@settings(max_examples=40, deadline=None)
@given(dev=st.sampled_from(_devices()), m=st.integers(1, 256), n=st.integers(1, 2048), k=st.integers(1, 2048),
       dts=st.sampled_from(DTYPES))
def test_linear_latency_never_beats_the_roofline(dev, m, n, k, dts) -> None:
    _check(linear_graph(m=m, n=n, k=k, wdt=dts[0], adt=dts[1]), load_device(dev))


def _check(g, d) -> None:
    work = prepare(g).ops[0]
    cost = cost_model(d.kind).cost_graph(prepare(g), d)[0]
    seconds = cost.lower_bound_cycles / d.clock_hz
    cc = compute_class(work.weight.dtype if work.weight else None, work.act_dtype)
    ops_time = work.macs / _peak_macs_per_s(d, cc.key)
    assert seconds >= ops_time * (1 - 1e-9)
    for lv in d.memory:
        assert seconds >= cost.transfer_bytes.get(lv.name, 0) / lv.bandwidth_bytes_per_s * (1 - 1e-9)
    if d.kind not in ("cpu", "gpu"):
        return
    # compulsory: the stored weights cross the DRAM interface at least once
    assert cost.transfer_bytes[d.dram.name] >= work.param_bytes
    assert seconds >= work.param_bytes / d.dram.bandwidth_bytes_per_s * (1 - 1e-9)


def test_every_op_of_a_network_respects_the_roofline_on_every_device() -> None:
    """All op groups of ResNet-18 (conv, bn, relu, pool, add, flatten, linear) on every device."""
    from testutils import WORKLOADS

    from hwsim.frontends import load_model
    from hwsim.sim import op_costs

    g = load_model(WORKLOADS / "resnet18.json")
    works = prepare(g).ops
    for name in list_devices():
        d = load_device(name)
        peak = max(p.ops_per_s for p in peak_ops(d)) / 2
        for w, c in zip(works, op_costs(g, d)):
            seconds = c.lower_bound_cycles / d.clock_hz
            for lv in d.memory:
                assert seconds >= c.transfer_bytes.get(lv.name, 0) / lv.bandwidth_bytes_per_s * (1 - 1e-9), (name, w.node)
            if d.kind != "fpga":
                assert seconds >= w.macs / peak * (1 - 1e-9), (name, w.node)
