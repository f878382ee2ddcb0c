"""The overlay's engines: one per class of products (float/int on multipliers, binary/ternary on LUTs).

A binary XNOR-popcount engine cannot compute the fp32 products of the layers the binarize pass keeps
at full precision, so a binary-xnor ResNet-18 needs a multiply (DSP) engine beside its LUT engine."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from hwsim.compress import apply_method
from hwsim.cost.fpga import ENGINE_CLASSES, overlay_passes, plan
from hwsim.cost.fpga_resources import Operands, Resources
from hwsim.cost.work import prepare
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.sim import op_costs, simulate

RESNET18 = Path(__file__).resolve().parents[3] / "workloads" / "resnet18.json"


@cache
def _graph(method: str):
    g = load_model(RESNET18)  # cost-only: shapes and dtypes, no weights needed
    return g if method == "baseline" else apply_method(g, method).graph


def _design(method: str):
    return plan(prepare(_graph(method)), load_device("fpga-small"))


def test_binary_resnet18_runs_its_fp32_layers_on_a_dsp_engine() -> None:
    d = _design("binary-xnor")
    assert d.architecture == "overlay"
    by_name = {e.name: e for e in d.engines}
    assert set(by_name) == {"float/int", "binary/ternary"}
    mul, low = by_name["float/int"], by_name["binary/ternary"]
    assert mul.ops.lane_kind == "float" and low.ops.lane_kind == "xnor"
    assert mul.resources.dsp > 0 and low.resources.dsp == 0
    first = next(ly for ly in d.layers if ly.kind == "mvau")
    assert first.engine == "float/int" and first.passes == 1 and (first.pe, first.simd) == (mul.pe, mul.simd)
    assert d.totals.dsp > 0
    # every MAC layer is on the engine of its class, and never on a narrower one by passes
    for ly in d.layers:
        if ly.kind == "mvau":
            assert ly.engine == ENGINE_CLASSES[ly.ops.lane_kind]


def test_binary_resnet18_reports_dsp_and_per_layer_engines() -> None:
    dev = load_device("fpga-small")
    g = _graph("binary-xnor")
    run = simulate(g, dev)
    assert run.resources["dsp"] > 0 and run.fits_resources is True
    costs = {c.node: c for c in op_costs(g, dev)}
    assert costs["conv1"].extra["overlay_engine"] == "float/int"
    assert costs["fc"].extra["overlay_engine"] == "float/int"
    assert costs["layer1.0.conv1"].extra["overlay_engine"] == "binary/ternary"


@pytest.mark.parametrize("method", ["binary-xnor", "ternary-twn", "int8", "baseline"])
def test_design_totals_are_the_sum_of_its_engines_and_buffers(method: str) -> None:
    d = _design(method)
    acc = d.shared
    for e in d.engines:
        acc = acc + e.resources
    assert d.totals == acc
    limits = d.limits
    assert d.fits == all(getattr(d.totals, k) <= limits[k] for k in ("lut", "ff", "dsp", "bram18"))
    # the ops' booked resources add up to the design totals (the report sums them)
    dev = load_device("fpga-small")
    booked: dict[str, int] = {}
    for c in op_costs(_graph(method), dev):
        for k, v in c.resources.items():
            booked[k] = booked.get(k, 0) + v
    assert booked == {k: getattr(d.totals, k) for k in ("lut", "ff", "dsp", "bram18")} | {"bram18_wanted": d.bram18_wanted}
    assert d.bram18_wanted >= d.totals.bram18  # equal unless the buffers are capped
    # the datapaths stay within the sizing budget: target share of DSPs, half of it of the LUTs
    core = Resources()
    for e in d.engines:
        core = core + e.resources
    assert core.dsp <= 0.85 * limits["dsp"] and core.lut <= 0.85 / 2 * limits["lut"]


def test_one_class_keeps_one_engine() -> None:
    # int8 ResNet-18 reads the fp32 input in conv1: int and float share the multiply engine (passes)
    d = _design("int8")
    assert [e.name for e in d.engines] == ["float/int"]
    assert d.engines[0].ops.lane_kind == "int"


def test_a_split_design_beats_the_binary_engine_running_fp32_by_passes() -> None:
    d = _design("binary-xnor")
    xnor = Operands("binary", 1, "binary", 1, "binary", "binary")
    fp32 = Operands("float", 32, "float", 32, "fp32", "fp32")
    assert overlay_passes(fp32, xnor) == 24 * 24  # what the one-engine overlay used to assume
    assert sum(ly.passes for ly in d.layers if ly.kind == "mvau") == sum(1 for ly in d.layers if ly.kind == "mvau")


def test_int4_layers_take_passes_on_an_int8_engine() -> None:
    int8 = Operands("int", 8, "int", 8, "int8", "int8")
    assert overlay_passes(Operands("int", 4, "int", 4, "int4", "int4"), int8) == 1
    assert ENGINE_CLASSES["int"] == ENGINE_CLASSES["float"] != ENGINE_CLASSES["xnor"] == ENGINE_CLASSES["addsub"]
