"""The int8 x int8 -> int32 products (``hwsim.kernels.jit_int8`` on AVX-512 VNNI): the fused activation
quantization gives the codes ``quantize_activation`` gives, bit for bit, and W8A8 layers that take this
path (checked: the path is counted) equal the sequential integer reference bit for bit, across shapes
that exercise the tile tails, both patch gathers, conv geometry and activation grids; layers it
cannot run (asymmetric 8-bit weights, grouped convs) keep the exact float32-BLAS path."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.formats import annotate, encode
from hwsim.ir import Node, OpGraph, TensorSpec, int_dtype
from hwsim.kernels import execute
from hwsim.kernels import quantized as Q
from hwsim.kernels.actquant import quantize_activation

jit_int8 = pytest.importorskip("hwsim.kernels.jit_int8")
pytestmark = pytest.mark.skipif(not jit_int8.available(), reason="this CPU has no AVX-512 VNNI")


def test_fused_quantization_equals_quantize_activation():
    rng = np.random.default_rng(0)
    s = np.float32(0.0371)
    x = rng.standard_normal(4000).astype(np.float32) * 3
    ties = (np.arange(-300, 300) + np.float32(0.5)) * s  # x / s lands on .5: ties round to even
    huge = np.array([1e9, -1e9, 3e7, -3e7, 0.0, -0.0], np.float32)
    x = np.concatenate([x, ties.astype(np.float32), huge])
    for zp, lo, hi in ((0, -128, 127), (5, -128, 127), (128, 0, 255), (-1, -8, 7)):
        want = quantize_activation(x, (float(s), zp, lo, hi)) + zp - lo
        got = jit_int8.quantize_u8(x, float(s), zp, lo, hi)
        np.testing.assert_array_equal(got.astype(np.int64), want.astype(np.int64))


def _layer(op, x_shape, attrs, seed=0):
    g = OpGraph.build("t", [TensorSpec("x", x_shape, role="input")], [Node("n", op, ("x",), ("y",), attrs)], ["y"])
    rng = np.random.default_rng(seed)
    return g.with_weights({t: rng.standard_normal(g.tensor(t).shape).astype(np.float32)
                           for t in g.node("n").params.values()})


def _w8a8(g, act_bits, zero_point, signed=True, symmetric=True):
    payload = encode("quantized_int", g.dense_weight("n.weight"), bits=8, per_channel=True, symmetric=symmetric)
    g = g.with_specs({"n.weight": annotate(g.tensor("n.weight"), payload)}, {"n.weight": payload})
    x = {"x": np.random.default_rng(1).standard_normal(g.tensor("x").shape).astype(np.float32)}
    scale = float(np.abs(x["x"]).max()) / (2 ** (act_bits - 1) - 1)
    dtype = int_dtype(act_bits, signed=signed)
    xspec = g.tensor("x").with_(dtype=dtype, meta={"scale": scale, "zero_point": zero_point})
    return OpGraph.build("t", [xspec], list(g.nodes), ["y"], g.weights, g.annotations()), x


def _run_counted(g, x, monkeypatch):
    calls = []
    real = Q.byte_product
    monkeypatch.setattr(Q, "byte_product", lambda *a, **k: calls.append(1) or real(*a, **k))
    seen = {}
    out = execute(g, x, on_node=lambda node, kdef, call, outs: seen.update(ref=kdef.reference(call)[0])).output
    return out, seen["ref"], len(calls)


CASES = {
    "linear_tails": ("linear", (2, 3, 45), {"out_features": 37, "bias": True}),  # 6 rows, K=45, O=37
    "conv_words": ("conv2d", (2, 16, 9, 7), {"out_channels": 40, "kernel": 3, "padding": 1, "bias": True}),
    "conv_bytes": ("conv2d", (1, 5, 8, 8), {"out_channels": 33, "kernel": 3, "stride": 2, "padding": [1, 0, 2, 1]}),
    "conv_dilated": ("conv2d", (1, 24, 11, 11), {"out_channels": 8, "kernel": 3, "dilation": 2, "padding": 2}),
    "conv_1x1": ("conv2d", (1, 64, 5, 5), {"out_channels": 64, "kernel": 1}),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("act_bits, zero_point, signed", [(8, 0, True), (8, 127, True), (8, -128, True),
                                                          (8, 128, False), (4, -1, True)])
def test_byte_path_is_bit_exact(case, act_bits, zero_point, signed, monkeypatch):
    g, x = _w8a8(_layer(*CASES[case]), act_bits, zero_point, signed)
    out, ref, used = _run_counted(g, x, monkeypatch)
    assert used == 1
    np.testing.assert_array_equal(out, ref)


def test_layers_the_byte_tiles_cannot_run_stay_exact_on_float32_blas(monkeypatch):
    grouped = _layer("conv2d", (1, 8, 6, 6), {"out_channels": 8, "kernel": 3, "padding": 1, "groups": 2})
    asym = _layer("linear", (3, 20), {"out_features": 5})
    asym = asym.with_weights({"n.weight": np.abs(np.asarray(asym.dense_weight("n.weight"))) + 0.1})  # codes 0..255
    for g, symmetric in ((grouped, True), (asym, False)):
        g2, x = _w8a8(g, 8, 0, symmetric=symmetric)
        out, ref, used = _run_counted(g2, x, monkeypatch)
        assert used == 0
        np.testing.assert_array_equal(out, ref)


def test_the_tile_compiles_to_vnni_and_the_xnor_loop_to_a_hardware_popcount():
    """What makes these kernels fast is the instruction, not the timing: check the machine code (of a
    fresh compile: a kernel loaded from numba's on-disk cache carries no assembly text)."""
    import numba

    from hwsim.kernels import jit_bits

    wq, o_blocks, kpad = jit_int8.pack_weights(np.ones((32, 8), np.int8))
    gemm = numba.njit(jit_int8.gemm_u8s8_serial.py_func)
    gemm(np.ones((6, kpad), np.uint8), 6, kpad, wq, o_blocks, np.empty((6, 32), np.int32))
    assert "vpdpbusd" in "".join(gemm.inspect_asm().values())
    mismatch = numba.njit(jit_bits.mismatch_serial.py_func)
    a = np.zeros((1, 4, 2), np.uint64)
    mismatch(a, a, np.empty((1, 4, 4), np.int32))
    assert "popcnt" in "".join(mismatch.inspect_asm().values())
