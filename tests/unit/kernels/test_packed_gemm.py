"""The packed fp32 GEMM (``hwsim.kernels.packed_gemm`` / ``jit_gemm``) against NumPy: every tile
(8 x 32, 8 x 16, the one-row tail, a narrower last panel), both operand layouts, the fused epilogue,
and a row's bits independent of the other rows of the call."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.kernels.epilogue import ADD, MUL, RELU, RELU6, SILU, Epilogue, apply
from hwsim.kernels.packed_gemm import ROWS, FusedEpilogue, gemm, pack, takes_packed

SHAPES = [(8, 1, 16), (8, 27, 32), (13, 3, 17), (37, 64, 40), (64, 96, 5), (9, 48, 48), (21, 200, 72)]


def _in_order_float64(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (a.astype(np.float64) @ w.astype(np.float64))


@pytest.mark.parametrize("rows, k, o", SHAPES, ids=[f"{r}x{k}x{o}" for r, k, o in SHAPES])
def test_rows_by_channels_last_operand_match_float64(rows: int, k: int, o: int) -> None:
    rng = np.random.default_rng(rows * 1000 + k * 10 + o)
    a = rng.standard_normal((rows, k)).astype(np.float32)
    w = rng.standard_normal((k, o)).astype(np.float32)
    got = gemm(a.reshape(-1), k, 1, rows, pack(w), FusedEpilogue.of(None, o))
    assert got.shape == (rows, o) and got.dtype == np.float32
    exact = _in_order_float64(a, w)
    scale = np.abs(a).astype(np.float64) @ np.abs(w).astype(np.float64)  # the sum's condition
    assert np.all(np.abs(got - exact) <= 2 * k * np.finfo(np.float32).eps * scale + 1e-30)


@pytest.mark.parametrize("rows, k, o", SHAPES[:5], ids=[f"{r}x{k}x{o}" for r, k, o in SHAPES[:5]])
def test_transposed_operand_gives_the_same_bits(rows: int, k: int, o: int) -> None:
    """A patch matrix stored transposed ([K, P]: row step 1, column step P) gives the same bits as the
    same operand stored [P, K]: the same products summed in the same order."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((rows, k)).astype(np.float32)
    wp = pack(rng.standard_normal((k, o)).astype(np.float32))
    direct = gemm(a.reshape(-1), k, 1, rows, wp, FusedEpilogue.of(None, o))
    transposed = gemm(np.ascontiguousarray(a.T).reshape(-1), 1, rows, rows, wp, FusedEpilogue.of(None, o))
    np.testing.assert_array_equal(direct, transposed)


def test_a_rows_bits_do_not_depend_on_the_other_rows() -> None:
    """Row r computed in an 8-row tile, in the one-row tail, or alone: the same bits."""
    rng = np.random.default_rng(11)
    k, o = 57, 40
    a = rng.standard_normal((19, k)).astype(np.float32)
    wp = pack(rng.standard_normal((k, o)).astype(np.float32))
    whole = gemm(a.reshape(-1), k, 1, 19, wp, FusedEpilogue.of(None, o))
    shifted = gemm(a[3:].reshape(-1), k, 1, 16, wp, FusedEpilogue.of(None, o))  # row 3 now in a tile's first row
    np.testing.assert_array_equal(whole[3:19], shifted)
    single = gemm(np.ascontiguousarray(a[17]), k, 1, 1, wp, FusedEpilogue.of(None, o))
    np.testing.assert_array_equal(whole[17:18], single)


STAGES = {"bias-relu": (ADD, RELU), "scale-bias-relu6": (MUL, ADD, RELU6), "bias-silu": (ADD, SILU)}


@pytest.mark.parametrize("rows, o", [(8, 24), (19, 24), (13, 40), (9, 7)])
@pytest.mark.parametrize("stages", list(STAGES), ids=list(STAGES))
def test_fused_epilogue_is_the_unfused_pass(rows: int, o: int, stages: str) -> None:
    """The epilogue inside the GEMM (in registers for bias / scale / ReLU / ReLU6; as a pass over each
    block of rows when a stage is SiLU) gives the bits of the separate epilogue pass over the GEMM's
    result, NaN and -0.0 sums included."""
    rng = np.random.default_rng(5)
    k = 30
    a = rng.standard_normal((rows, k)).astype(np.float32)
    a[0, 0] = np.nan  # row 0 all NaN
    w = rng.standard_normal((k, o)).astype(np.float32)
    w[:, 1] = 0.0
    a[1] = -np.abs(a[1])
    wp = pack(w)
    codes = STAGES[stages]
    vectors = np.stack([rng.standard_normal(o).astype(np.float32) * (4 if c == MUL else 1) if c in (ADD, MUL)
                        else np.zeros(o, np.float32) for c in codes])
    ep = Epilogue(np.array(codes, np.int64), vectors)
    fused_ep = FusedEpilogue.of(ep, o)
    assert (fused_ep.register_codes.size > 0) == (SILU not in codes)
    fused = gemm(a.reshape(-1), k, 1, rows, wp, fused_ep)
    plain = gemm(a.reshape(-1), k, 1, rows, wp, FusedEpilogue.of(None, o))
    unfused = apply(plain.copy(), ep)
    np.testing.assert_array_equal(fused, unfused)
    assert np.isnan(fused[0]).all()
    if RELU in codes:
        assert (fused == 0).any() and (plain < 0).any()  # the ReLU did something
    if RELU6 in codes:
        assert (fused == 6).any() and (plain * 4 > 6).any()


def test_shape_rule_sends_small_or_non_float32_gemms_to_blas() -> None:
    assert takes_packed(ROWS, np.dtype(np.float32))
    assert not takes_packed(ROWS - 1, np.dtype(np.float32))
    assert not takes_packed(64, np.dtype(np.float64))


def test_pack_zero_pads_the_last_panel() -> None:
    w = np.arange(3 * 20, dtype=np.float32).reshape(3, 20)
    wp = pack(w)
    assert wp.panels.shape == (2, 3, 16) and wp.outputs == 20 and wp.inputs == 3
    np.testing.assert_array_equal(wp.panels[1, :, :4], w[:, 16:])
    assert not wp.panels[1, :, 4:].any()
