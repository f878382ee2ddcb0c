"""The shared cost framework: compute classes, rate fallbacks, GEMM tiling traffic, energy."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim.cost.common import ComputeClass, compute_class, gemm_traffic, lookup_rate, split_items, work_utilization
from hwsim.cost.energy import mac_energy_pj
from hwsim.cost.work import Gemm
from hwsim.hardware import load_device
from hwsim.ir import BF16, BINARY, FP16, FP32, INT4, INT8, TERNARY
from hwsim.ir.dtypes import dtype


@pytest.mark.parametrize("w,a,name", [
    (FP32, FP32, "fp32"), (FP16, FP16, "fp16"), (BF16, FP16, "bf16"), (FP16, FP32, "fp32"),
    (INT8, INT8, "int8"), (INT4, INT8, "int8"), (INT4, INT4, "int4"), (dtype("int16"), INT8, "int16"),
    (BINARY, BINARY, "xnor-x1"), (TERNARY, BINARY, "xnor-x2"), (TERNARY, TERNARY, "xnor-x4"),
    (TERNARY, INT8, "addsub-int8"), (BINARY, FP32, "addsub-fp32"), (INT8, BINARY, "addsub-int8"),
    (dtype("fixed8.4"), INT8, "int8"), (dtype("uint8"), INT8, "int8"),
])
def test_compute_class_from_dtypes(w, a, name) -> None:
    assert compute_class(w, a).name == name


def test_integer_weights_on_float_activations_are_dequantized() -> None:
    cc = compute_class(INT8, FP32)
    assert cc == ComputeClass("mac", "fp32", dequant=True)


def test_rate_fallback_goes_to_the_next_wider_unit() -> None:
    table = {"fp32": 4.0, "int8": 8.0}
    assert lookup_rate(table, "int4") == (8.0, "int8")
    assert lookup_rate(table, "bf16") == (4.0, "fp32")
    assert lookup_rate({"int8": 1.0}, "fp16") is None


def test_everything_fitting_moves_each_operand_once() -> None:
    g = Gemm(2, 10, 20, 30)
    once = 2 * (10 * 30 * 1 + 20 * 30 * 2 + 10 * 20 * 4)
    assert gemm_traffic(g, 1, 2, 4, capacity=1e9) == once
    assert gemm_traffic(g, 1, 2, 4, capacity=1e9, a_free=True) == once - 2 * 10 * 30


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3), st.integers(1, 512), st.integers(1, 512), st.integers(1, 2048),
       st.sampled_from([0.125, 0.5, 1, 2, 4]), st.sampled_from([1, 2, 4]), st.integers(256, 4 * 2**20))
def test_tiled_traffic_is_at_least_compulsory_and_falls_with_capacity(batch, m, n, k, w_b, a_b, cap) -> None:
    g = Gemm(batch, m, n, k)
    compulsory = batch * (m * k * a_b + n * k * w_b + m * n * 4)
    t = gemm_traffic(g, a_b, w_b, 4, cap)
    assert t >= compulsory * (1 - 1e-9)
    assert gemm_traffic(g, a_b, w_b, 4, 4 * cap) <= t * (1 + 1e-9)


def test_split_k_fills_idle_workers() -> None:
    g = Gemm(1, 1, 10, 16384)  # batch-1 FC: fewer output tiles than cores
    items = split_items(g, 4, 4, 4)
    assert items > math.ceil(10 / 4)
    assert work_utilization(items, 4) > work_utilization(3, 4)
    assert work_utilization(7, 4) == pytest.approx(7 / 8)


def test_mac_energy_by_class() -> None:
    d = load_device("cpu-a53")
    s = d.energy.process_scale
    assert mac_energy_pj(d, compute_class(FP32, FP32)) == pytest.approx(4.6 * s)
    assert mac_energy_pj(d, compute_class(INT8, INT8)) == pytest.approx(0.3 * s)
    # ternary weights: the multiply disappears, the accumulate stays
    assert mac_energy_pj(d, compute_class(TERNARY, INT8)) == pytest.approx(0.1 * s)
    assert mac_energy_pj(d, compute_class(TERNARY, FP32)) == pytest.approx(0.9 * s)
    assert mac_energy_pj(d, compute_class(BINARY, BINARY)) < mac_energy_pj(d, compute_class(INT8, INT8)) / 10
