"""FPGA resource primitives: adder and popcount trees, LUT multipliers, DSP packing, BRAM aspect ratios,
and one engine's bill per operand type."""

from __future__ import annotations

import pytest

from hwsim.cost.fpga_resources import (
    DEFAULT_PARAMS, EngineShape, Operands, adder_tree_luts, engine_resources, lut_multiplier, memory_blocks,
    popcount_luts, products_per_dsp,
)

P = dict(DEFAULT_PARAMS)
DSP48E1 = (25, 18)
DSP48E2 = (27, 18)
BIN = Operands("binary", 1, "binary", 1, "binary", "binary")
INT8 = Operands("int", 8, "int", 8, "int8", "int8")
FP16 = Operands("float", 16, "float", 16, "fp16", "fp16")


def test_adder_tree_counts_every_level() -> None:
    # 4 one-bit leaves: two 2-bit adders (4 LUTs) then one 3-bit adder: 7 LUTs, 3 adders
    assert adder_tree_luts(4, 1) == (7, 3)
    assert adder_tree_luts(1, 8) == (0, 0)
    # odd count: 3 leaves -> one adder (9 bits) + one adder (10 bits)
    assert adder_tree_luts(3, 8) == (19, 2)


def test_popcount_absorbs_the_xnor() -> None:
    assert popcount_luts(3) == (2, 0)  # one triple: two LUT6 give its 2-bit count
    luts, adders = popcount_luts(64)
    assert 64 < luts < 3 * 64  # ~2 LUTs per synapse; FINN-R's generic formula gives ~6
    assert adders == 21  # 22 triples -> 21 two-input adds


def test_lut_multiplier_follows_finn_r() -> None:
    assert lut_multiplier(8, 8) == 5 * 16
    assert lut_multiplier(1, 1) == 2
    assert lut_multiplier(4, 4) == 3 * 8


def test_dsp_packing_depends_on_the_port_width() -> None:
    assert products_per_dsp(8, 8, DSP48E1, 2, 48) == 1  # 18 + 8 = 26 bits > 25: no packing on 7-series
    assert products_per_dsp(8, 8, DSP48E2, 2, 48) == 2  # WP486: two int8 MACs per DSP48E2
    assert products_per_dsp(4, 4, DSP48E2, 2, 48) == 3
    assert products_per_dsp(16, 16, DSP48E1, 2, 48) == 1
    assert products_per_dsp(32, 32, DSP48E1, 2, 48) == -4  # 2 x 2 DSPs per 32 x 32 product


def test_memory_blocks_pick_the_best_aspect_ratio() -> None:
    assert memory_blocks(416, 64, P) == (2, 0)  # 512 x 36 twice (BNN-PYNQ LFC layer 0 PE memory)
    assert memory_blocks(512, 32, P) == (1, 0)
    assert memory_blocks(32768, 4, P) == (8, 0)  # 4K x 4 eight times
    assert memory_blocks(32, 16, P) == (0, 16)  # 512 bits: LUTRAM, one RAM64X1 per bit
    assert memory_blocks(0, 8, P) == (0, 0)


def test_binary_engine_needs_no_multiplier_and_fewer_luts() -> None:
    shape = EngineShape(mh=256, mw=256, pe=16, simd=32)
    b = engine_resources(shape, BIN, DSP48E1, P).total
    i8 = engine_resources(shape, INT8, DSP48E1, P).total
    f16 = engine_resources(shape, FP16, DSP48E1, P).total
    assert b.dsp == 0 and b.multipliers == 0
    assert i8.dsp == 16 * 32 and i8.multipliers == 512
    assert b.lut < i8.lut < f16.lut
    assert b.bram18 < i8.bram18  # 1-bit vs 8-bit weights


def test_hardwired_ternary_zero_weights_cost_no_adder() -> None:
    ter = Operands("ternary", 2, "int", 8, "ternary", "int8")
    dense = engine_resources(EngineShape(64, 64, 64, 64, hardwired=True), ter, DSP48E1, P).total
    sparse = engine_resources(EngineShape(64, 64, 64, 64, hardwired=True, nonzero_fraction=0.25), ter,
                              DSP48E1, P).total
    stored = engine_resources(EngineShape(64, 64, 64, 64, hardwired=False, nonzero_fraction=0.25), ter,
                              DSP48E1, P).total
    assert sparse.adders < dense.adders and sparse.lut < dense.lut
    assert dense.bram18 == 0 and dense.lutram == 0  # hard-wired: no weight memory
    assert stored.adders == dense.adders  # time-multiplexed lanes cannot skip zeros


def test_fixed_accumulator_width_grows_thresholds() -> None:
    shape = EngineShape(mh=1024, mw=1024, pe=64, simd=32, thresholds=1)
    minimal = engine_resources(shape, BIN, DSP48E1, P).total
    hls16 = engine_resources(shape, BIN, DSP48E1, P, acc_bits=16).total
    assert hls16.lutram == 64 * 16  # 16 thresholds per PE (TMEM 16) fit one RAM64X1 per bit
    assert minimal.lutram < hls16.lutram and minimal.lut < hls16.lut


@pytest.mark.parametrize("ops", [BIN, INT8, FP16, Operands("int", 4, "int", 4, "int4", "int4"),
                                 Operands("binary", 1, "int", 8, "binary", "int8")])
def test_bills_are_non_negative_and_scale_with_pe(ops: Operands) -> None:
    one = engine_resources(EngineShape(64, 64, 4, 8), ops, DSP48E1, P).parts["datapath"]
    two = engine_resources(EngineShape(64, 64, 8, 8), ops, DSP48E1, P).parts["datapath"]
    assert all(v >= 0 for v in one.as_tuple())
    assert two.lut > one.lut and two.adders == 2 * one.adders
