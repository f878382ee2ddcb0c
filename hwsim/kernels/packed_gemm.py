"""The GEMMs of the dense fp32 convs (1x1 convs, patch matrices) against a weight packed once, with
the conv's epilogue fused: ``hwsim.kernels.jit_gemm`` runs them.

Which GEMM runs is a rule on the shape alone (``takes_packed``), never a timing: float32 operands
and at least ``jit_gemm.ROWS`` rows (output pixels) take the packed GEMM; fewer rows (a 1x1 spatial
map: squeeze-excite convs) and other dtypes (the float64 oracle runs) take BLAS. Measured on this
project's machine (AMD Zen 5, AVX-512; OpenBLAS pinned to its Haswell kernels by the environment),
one thread: 1.2-2.4x BLAS's rate on every conv GEMM shape of ResNet-18, MobileNetV1/V2, MnasNet
and EfficientNet-B0 (``docs/speed.md``, Round 4); a single row is latency-bound in it (0.6x).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hwsim.kernels.conv_common import weight_layout
from hwsim.kernels.epilogue import ADD, MUL, RELU, RELU6, Epilogue

#: rows of the compiled GEMM's register tile (``jit_gemm.ROWS``; kept here so that deciding never
#: imports numba) and the output channels of one packed panel (``jit_gemm.PANEL``)
ROWS, PANEL = 8, 16
_NO_STAGES = np.zeros(0, np.int64)


@dataclass(frozen=True)
class PackedWeight:
    """A [K, O] weight as panels of 16 output channels, [ceil(O / 16), K, 16], the last zero-padded."""

    panels: np.ndarray
    outputs: int

    @property
    def inputs(self) -> int:
        return int(self.panels.shape[1])


def pack(wm: np.ndarray) -> PackedWeight:
    """Pack a [K, O] weight (float32)."""
    k, o = wm.shape
    count = -(-o // PANEL)
    panels = np.zeros((count, k, PANEL), np.float32)
    for j in range(count):
        width = min(PANEL, o - j * PANEL)
        panels[j, :, :width] = wm[:, j * PANEL: j * PANEL + width]
    return PackedWeight(panels, o)


def packed_layout(w: np.ndarray, key: str, wm: np.ndarray) -> PackedWeight:
    """``pack(wm)`` made once per stored weight ``w`` and layout ``key`` (``wm`` is ``w`` reordered)."""
    return weight_layout(w, ("packed", key), lambda: pack(wm))


def takes_packed(rows: int, dtype: np.dtype) -> bool:
    """The shape rule: the packed GEMM for float32 with at least ``ROWS`` rows, else BLAS."""
    return dtype == np.float32 and rows >= ROWS


#: epilogue stages the packed GEMM applies in registers (``jit_gemm._finish``); others (sigmoid, SiLU)
#: run as a pass over each block of stored rows
_REGISTER_STAGES = frozenset({ADD, MUL, RELU, RELU6})


@dataclass(frozen=True)
class FusedEpilogue:
    """An epilogue's stages for the packed GEMM: either in registers (``register_codes``, operands
    ``padded`` [S, ceil(O / 16) * 16]) or, when a stage is not one the registers run, as a pass over each
    block of ``ROWS`` stored rows (``codes``, operands ``vectors`` [S, ROWS * O]); the other pair empty."""

    codes: np.ndarray
    vectors: np.ndarray  # [S, ROWS * O]
    register_codes: np.ndarray
    padded: np.ndarray  # [S, ceil(O / 16) * 16]

    @staticmethod
    def of(ep: Epilogue | None, outputs: int) -> "FusedEpilogue":
        """``ep``'s stages for an [P, outputs] GEMM; the operand arrays are ``ep``'s own cached layouts
        (``Epilogue.padded`` / ``repeated``), so a step calling this every inference makes no arrays."""
        width = -(-outputs // PANEL) * PANEL
        if ep is None or ep.empty:
            return FusedEpilogue(_NO_STAGES, _no_operands(ROWS * outputs), _NO_STAGES, _no_operands(width))
        if all(int(code) in _REGISTER_STAGES for code in ep.codes):
            return FusedEpilogue(_NO_STAGES, _no_operands(ROWS * outputs), ep.codes, ep.padded(width))
        return FusedEpilogue(ep.codes, ep.repeated(ROWS), _NO_STAGES, _no_operands(width))


@lru_cache(maxsize=None)
def _no_operands(width: int) -> np.ndarray:
    """An empty [0, width] operand array (no stages on that side), one per width."""
    return np.zeros((0, width), np.float32)


def gemm(a: np.ndarray, row_step: int, col_step: int, rows: int, wp: PackedWeight, ep: FusedEpilogue) -> np.ndarray:
    """epilogue(A @ W) as a new [rows, O] float32 array; A [rows, K] is read from ``a``'s memory at
    flat offset ``r * row_step + q * col_step`` (``a`` C-contiguous float32)."""
    from hwsim.kernels import jit_gemm  # numba, on the first packed GEMM only

    out = np.empty((rows, wp.outputs), np.float32)
    jit_gemm.gemm_packed(a, row_step, col_step, rows, wp.panels, wp.outputs, ep.codes, ep.vectors, ep.register_codes,
                         ep.padded, out)
    return out
