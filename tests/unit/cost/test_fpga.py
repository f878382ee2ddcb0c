"""The FPGA cost model: folding search, streamlining, external weights, overlay, savings, profile keys."""

from __future__ import annotations

import pytest
from finn_models import lfc

from hwsim.cost.fpga import layer_savings, plan, plan_dataflow
from hwsim.cost.registry import cost_model
from hwsim.cost.work import prepare
from hwsim.errors import DeviceProfileError
from hwsim.hardware import load_device
from hwsim.ir import INT8, Node, OpGraph, TensorSpec
from hwsim.sim import op_costs, simulate


def mlp(widths=(256, 512, 512, 10), dtype=INT8) -> OpGraph:
    nodes, x = [], "x"
    for i, w in enumerate(widths[1:]):
        nodes.append(Node(f"fc{i}", "linear", (x,), (f"fc{i}",), {"out_features": w, "bias": False}))
        x = f"fc{i}"
        if i < len(widths) - 2:
            nodes.append(Node(f"relu{i}", "relu", (x,), (f"relu{i}",)))
            x = f"relu{i}"
    g = OpGraph.build("mlp", [TensorSpec("x", (1, widths[0]), dtype)], nodes, [x])
    specs = {t: g.tensor(t).with_(dtype=dtype) for t in g.weight_names()}
    specs |= {n.outputs[0]: g.tensor(n.outputs[0]).with_(dtype=dtype) for n in g.nodes}
    return g.with_specs(specs)


def test_registered_for_fpga() -> None:
    assert cost_model("fpga").kind == "fpga"


def test_folding_balances_the_pipeline_within_the_part() -> None:
    dev = load_device("fpga-small")
    d = plan_dataflow(prepare(mlp()), dev)
    mvaus = [ly for ly in d.layers if ly.kind == "mvau"]
    assert d.fits and d.meets_target
    assert max(ly.cycles for ly in mvaus) <= d.target_cycles
    for ly in mvaus:  # FINN folding: PE divides MH, SIMD divides MW (or a power of two pads them)
        assert ly.mh % ly.pe == 0 or ly.pe & (ly.pe - 1) == 0
        assert ly.mw % ly.simd == 0 or ly.simd & (ly.simd - 1) == 0
    # a larger part reaches a shorter (or equal) initiation interval
    assert plan_dataflow(prepare(mlp()), load_device("fpga-large")).target_cycles <= d.target_cycles


def test_lfc_is_streamlined_and_costs_no_dsp() -> None:
    costs = op_costs(lfc(), load_device("fpga-small"))
    by = {c.node: c for c in costs}
    assert by["bn0"].compute_cycles == 0 and by["sign0"].unit == "fused"
    assert all(c.resources.get("dsp", 0) == 0 for c in costs)
    assert by["fc1"].unit.startswith("mvau")


def test_stage_latency_sum_and_roofline() -> None:
    dev = load_device("fpga-small")
    g = lfc()
    r = simulate(g, dev)
    stages = [c for c in op_costs(g, dev) if c.extra.get("pipeline_stage")]
    assert r.total_cycles == sum(c.lower_bound_cycles for c in op_costs(g, dev))
    assert r.total_cycles >= sum(c.compute_cycles for c in stages)
    assert r.fits_resources is True
    for t in r.ops:
        assert t.cycles >= max(t.compute_cycles, t.memory_cycles)


def test_weights_overflowing_bram_stream_from_dram() -> None:
    dev = load_device("fpga-small", {"fpga.model_params.architecture": "dataflow"})
    g = mlp((4096, 4096, 4096, 10))  # 2 x 16 MiB of int8 weights: far beyond 630 KiB of BRAM
    d = plan_dataflow(prepare(g), dev)
    ext = [ly for ly in d.layers if ly.external_weights]
    assert ext and any("DRAM" in n for n in d.notes)
    costs = {c.node: c for c in op_costs(g, dev)}
    assert costs[ext[0].node].transfer_bytes["dram"] >= 4096 * 4096


def test_overlay_books_one_engine() -> None:
    dev = load_device("fpga-small", {"fpga.model_params.architecture": "overlay",
                                     "fpga.model_params.overlay_pe": 8, "fpga.model_params.overlay_simd": 8})
    d = plan(prepare(mlp()), dev)
    assert d.architecture == "overlay"
    costs = op_costs(mlp(), dev)
    booked = [c for c in costs if c.resources]
    assert len(booked) == 1 and booked[0].resources["dsp"] == 64  # 8 x 8 int8 lanes on DSP48E1
    fc0 = next(c for c in costs if c.node == "fc0")
    assert fc0.compute_cycles == (512 // 8) * (256 // 8)


def test_auto_falls_back_to_overlay_when_dataflow_does_not_fit() -> None:
    from hwsim.frontends import load_model
    from testutils import WORKLOADS

    g = load_model(WORKLOADS / "mobilenet_v2.json")
    d = plan(prepare(g), load_device("fpga-small"))
    assert d.architecture == "overlay" and any("overlay used" in n for n in d.notes)


def test_savings_only_for_low_bit_layers() -> None:
    dev = load_device("fpga-small")
    assert layer_savings(prepare(mlp()), dev) == []
    s = layer_savings(prepare(lfc()), dev)
    assert [x.node for x in s] == ["fc0", "fc1", "fc2", "fc3"]
    assert all(x.saved("int8")["multipliers"] > 0 and x.resources["dsp"] == 0 for x in s)
    assert set(s[0].as_dict()) >= {"saved_vs_int8", "saved_vs_fp16"}


def test_unknown_model_param_names_the_known_ones() -> None:
    dev = load_device("fpga-small", {"fpga.model_params.pe_count": 4})
    with pytest.raises(DeviceProfileError, match="known: .*architecture"):
        op_costs(lfc(), dev)
    with pytest.raises(DeviceProfileError, match="architecture must be"):
        op_costs(lfc(), load_device("fpga-small", {"fpga.model_params.architecture": "systolic"}))


def test_savings_for_the_report_via_analysis() -> None:
    from hwsim.analysis.fpga_savings import fpga_layer_savings
    from hwsim.errors import UsageError

    doc = fpga_layer_savings(lfc(), "fpga-small")
    assert doc["fits"] and doc["limits"]["dsp"] == 220
    assert [x["node"] for x in doc["layers"]] == ["fc0", "fc1", "fc2", "fc3"]
    assert all(x["saved_vs_int8"]["dsp"] > 0 for x in doc["layers"])
    with pytest.raises(UsageError):
        fpga_layer_savings(lfc(), "cpu-a53")


def test_a_pruned_layer_can_pad_to_the_original_folding() -> None:
    """45 output channels (64 pruned by 30%) may take PE = 16 by padding to 48: never more folds
    than the 64-channel original at the same lanes."""
    from hwsim.cost.fpga_dataflow import _pareto
    for lanes_cap in (16, 64, 256):
        c64, _ = _pareto(64, 576, 100, lanes_cap)
        c45, _ = _pareto(45, 576, 100, lanes_cap)
        assert -c45[-1] <= -c64[-1]
