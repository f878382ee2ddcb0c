"""CPU and GPU cost models: units by bit width, low-bit arithmetic, sparse formats, rules by op group."""

from __future__ import annotations

import pytest
from devicegraphs import conv_graph, linear_graph, small_net, xnor_conv_graph

from hwsim.cost.registry import UnsupportedOpError, cost_model
from hwsim.cost.sparse import break_even_density, imbalance, synthetic_linear
from hwsim.cost.work import prepare
from hwsim.hardware import load_device
from hwsim.ir import FP16, FP32, INT8, TERNARY
from hwsim.sim import op_costs

CPU = ("cpu-a53", "cpu-a72")
GPU = ("gpu-jetson-nano", "gpu-orin-nano")


@pytest.mark.parametrize("dev", CPU)
def test_int8_conv_runs_at_the_int8_simd_rate(dev: str) -> None:
    d = load_device(dev)
    f = op_costs(conv_graph(c=64, k=64, h=28), d)[0]
    i = op_costs(conv_graph(c=64, k=64, h=28, wdt=INT8, adt=INT8), d)[0]
    assert d.cpu is not None
    ratio = d.cpu.macs_per_cycle_per_core["int8"] / d.cpu.macs_per_cycle_per_core["fp32"]
    assert f.compute_cycles / i.compute_cycles == pytest.approx(ratio, rel=0.01)
    assert i.unit == "cpu.simd.int8" and f.unit == "cpu.simd.fp32"


def test_fp16_without_fp16_arithmetic_runs_at_the_fp32_rate_on_a53() -> None:
    d = load_device("cpu-a53")
    f = op_costs(conv_graph(c=64, k=64, h=28), d)[0]
    h = op_costs(conv_graph(c=64, k=64, h=28, wdt=FP16, adt=FP16), d)[0]
    assert h.compute_cycles == f.compute_cycles
    assert h.transfer_bytes["dram"] < f.transfer_bytes["dram"]  # but half the bytes


def test_tensor_cores_take_fp16_and_int8_on_orin() -> None:
    d = load_device("gpu-orin-nano")
    f = op_costs(conv_graph(c=64, k=64, h=28), d)[0]
    h = op_costs(conv_graph(c=64, k=64, h=28, wdt=FP16, adt=FP16), d)[0]
    i = op_costs(conv_graph(c=64, k=64, h=28, wdt=INT8, adt=INT8), d)[0]
    # fp32 runs as TF32 on the tensor cores (TensorRT's default on Ampere), at half the fp16 rate
    assert f.unit == "gpu.tensor.tf32" and h.unit == "gpu.tensor.fp16" and i.unit == "gpu.tensor.int8"
    assert f.compute_cycles > 1.5 * h.compute_cycles > 1.5 * i.compute_cycles
    assert "TF32" in " ".join(f.notes)
    nano = load_device("gpu-jetson-nano")  # no tensor cores: fp16 as HFMA2 on CUDA cores
    assert op_costs(conv_graph(c=64, k=64, h=28, wdt=FP16, adt=FP16), nano)[0].unit == "gpu.cuda.fp16"


@pytest.mark.parametrize("dev", CPU + GPU)
def test_binary_conv_is_xnor_popcount_and_faster(dev: str) -> None:
    d = load_device(dev)
    f = op_costs(xnor_conv_graph(binary=False), d)[0]
    b = op_costs(xnor_conv_graph(binary=True), d)[0]
    assert b.extra["compute_class"] == "xnor-x1"
    assert "popc" in b.unit or "binary" in b.unit
    assert b.lower_bound_cycles * 3 < f.lower_bound_cycles
    assert b.energy_pj["compute"] * 3 < f.energy_pj["compute"]  # instruction energy included
    arith_only = load_device(dev, {"energy.instruction": "0 pJ"})
    f0 = op_costs(xnor_conv_graph(binary=False), arith_only)[0]
    b0 = op_costs(xnor_conv_graph(binary=True), arith_only)[0]
    assert b0.energy_pj["compute"] * 50 < f0.energy_pj["compute"]  # XNOR bit vs fp32 MAC


def test_binary_conv_speedup_on_a53_is_the_simd_word_ratio() -> None:
    """Modelled XNOR speed-up on cpu-a53 = (binary MACs/cycle) / (fp32 MACs/cycle), less packing."""
    d = load_device("cpu-a53")
    assert d.cpu is not None
    f = op_costs(xnor_conv_graph(binary=False), d)[0]
    b = op_costs(xnor_conv_graph(binary=True), d)[0]
    word_ratio = (d.cpu.popcount_word_bits / d.cpu.popcount_cycles_per_word) / d.cpu.macs_per_cycle_per_core["fp32"]
    speedup = f.lower_bound_cycles / b.lower_bound_cycles
    assert 0.9 * word_ratio < speedup <= word_ratio  # ~8x, far from XNOR-Net's 58x (docs/xnor-speedup.md)


def test_ternary_weights_add_subtract_at_the_activation_rate_with_less_traffic() -> None:
    d = load_device("cpu-a53")
    i8 = op_costs(conv_graph(c=64, k=64, h=28, wdt=INT8, adt=INT8), d)[0]
    t = op_costs(conv_graph(c=64, k=64, h=28, wdt=TERNARY, adt=INT8), d)[0]
    assert t.extra["compute_class"] == "addsub-int8"
    assert t.compute_cycles == i8.compute_cycles
    assert t.transfer_bytes["dram"] < i8.transfer_bytes["dram"]
    assert t.energy_pj["compute"] < i8.energy_pj["compute"]


def test_weight_only_int8_on_fp32_activations_pays_dequantization() -> None:
    d = load_device("cpu-a72")
    f = op_costs(linear_graph(m=64), d)[0]
    w8 = op_costs(linear_graph(m=64, wdt=INT8), d)[0]
    assert w8.compute_cycles > f.compute_cycles
    assert any("dequantized" in n for n in w8.notes)
    assert w8.transfer_bytes["dram"] < f.transfer_bytes["dram"]


def test_pruned_but_dense_storage_gets_no_speedup() -> None:
    d = load_device("cpu-a53")
    dense = op_costs(linear_graph(), d)[0]
    pruned = op_costs(linear_graph(density=0.1), d)[0]
    assert pruned.lower_bound_cycles == dense.lower_bound_cycles


def test_csr_weights_skip_zeros_and_pay_for_indices() -> None:
    d = load_device("cpu-a53")
    n = k = 1024
    dense = op_costs(linear_graph(m=64), d)[0]
    w = synthetic_linear("csr", 0.1, m=64, n=n, k=k).weight
    assert w is not None
    sp = op_costs(linear_graph(m=64, encoding="csr", density=0.1, stored_bits=w.stored_bytes * 8), d)[0]
    assert sp.compute_cycles < dense.compute_cycles
    assert sp.transfer_bytes["dram"] < dense.transfer_bytes["dram"]
    assert sp.extra["sparse_imbalance"] > 1.0
    assert any("sparse csr" in s for s in sp.notes)


def test_imbalance_grows_with_workers_and_sparsity() -> None:
    assert imbalance(1.0, 1e6, 64) == 1.0
    assert imbalance(0.1, 1e6, 1) == 1.0
    assert imbalance(0.1, 1e4, 64) > imbalance(0.1, 1e6, 64) > 1.0
    assert imbalance(0.01, 1e5, 16) > imbalance(0.5, 1e5, 16)


@pytest.mark.parametrize("dev", CPU + GPU)
def test_break_even_density_is_a_density(dev: str) -> None:
    d = load_device(dev)
    csr = break_even_density(d, "csr")
    assert csr is not None and 0.0 < csr < 1.0
    # at the break-even density the two costs cross
    model = cost_model(d.kind)
    dense = model.cost_op(synthetic_linear("dense", 1.0), d).lower_bound_cycles
    assert model.cost_op(synthetic_linear("csr", max(csr - 0.02, 0.001)), d).lower_bound_cycles < dense
    assert model.cost_op(synthetic_linear("csr", min(csr + 0.02, 1.0)), d).lower_bound_cycles >= dense


def test_every_group_rule_costs_something_nonzero_except_views() -> None:
    g = small_net()
    for dev in CPU + GPU:
        for c in op_costs(g, load_device(dev)):
            if c.op == "flatten":
                assert c.lower_bound_cycles == 0 and "view" in c.notes[0]
            else:
                assert c.lower_bound_cycles > 0 and sum(c.energy_pj.values()) > 0, (dev, c.node)


def test_unsupported_op_kinds_raise_naming_the_node() -> None:
    model = cost_model("cpu")
    work = prepare(small_net()).ops[0]
    fake = type(work)(**{**work.__dict__, "op": "mystery", "group": "alien"})
    with pytest.raises(UnsupportedOpError) as e:
        model.cost_op(fake, load_device("cpu-a53"))
    assert "mystery" in str(e.value) and "c1" in str(e.value)


def test_costs_read_annotations_not_pass_history() -> None:
    """Two graphs with identical annotations cost the same, whatever meta says about how they were made."""
    d = load_device("cpu-a72")
    a = op_costs(conv_graph(wdt=INT8, adt=INT8), d)
    g2 = conv_graph(wdt=INT8, adt=INT8).with_meta(passes=["quantize"], method="int8-ptq")
    assert op_costs(g2, d) == a


def test_fp32_default_dtype_is_costed_on_fp32_units() -> None:
    g = conv_graph()
    assert g.tensor("conv.weight").dtype == FP32
    assert op_costs(g, load_device("cpu-a53"))[0].unit == "cpu.simd.fp32"


def test_instruction_energy_is_charged_per_core_for_every_busy_cycle() -> None:
    """Core energy is paid for the op's whole span (compute and memory overlapped, plus dispatch):
    a core stalled on memory is still clocked."""
    g = conv_graph(c=64, k=64, h=28)
    base = load_device("cpu-a53", {"energy.instruction": "0 pJ"})
    d = load_device("cpu-a53")
    assert d.energy.instruction_pj == pytest.approx(190)
    c0, c1 = op_costs(g, base)[0], op_costs(g, d)[0]
    assert d.cpu is not None
    extra = c1.energy_pj["compute"] - c0.energy_pj["compute"]
    assert extra == pytest.approx(190 * c1.lower_bound_cycles * d.cpu.cores, rel=1e-3)
    slow_dram = load_device("cpu-a53", {"memory.dram.bandwidth": "0.005 GB/s"})  # now memory-bound
    c2 = op_costs(g, slow_dram)[0]
    assert c2.bound == "memory" and c2.energy_pj["compute"] > c1.energy_pj["compute"]
