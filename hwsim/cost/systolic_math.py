"""Compute cycles and SRAM operand traffic of one GEMM on a rows x cols systolic array, per dataflow.

The model is SCALE-Sim's (Samajdar et al., ISPASS 2020; scale-sim-v2 ``compute/systolic_compute_*``),
re-derived from its demand matrices rather than copied:

* A layer is a GEMM with three extents. ``Sr`` is mapped on the array rows, ``Sc`` on the columns and
  ``T`` is streamed through time. Output stationary (os): Sr = output pixels, Sc = filters, T = window
  (kh*kw*C). Weight stationary (ws): Sr = window, Sc = filters, T = output pixels. Input stationary
  (is): Sr = window, Sc = output pixels, T = filters.
* The GEMM is cut into ceil(Sr/rows) x ceil(Sc/cols) folds that run one after the other.
* os: a fold streams T operands in, skewed by rows-1 and cols-1 cycles of fill and drain:
  T + rows + cols - 2 cycles. ws/is: the stationary operand is first loaded (rows cycles), then T
  operands stream with the same skew: 2*rows + cols + T - 2 cycles.
* SCALE-Sim counts cycles from the first demand up to (not past) the last output write, one cycle
  fewer than the demand-matrix length, so a layer takes folds x per-fold - 1 cycles.

``tests/golden/test_scalesim.py`` holds this against numbers printed by the real tool on ResNet-18.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Dataflow = Literal["os", "ws", "is"]
DATAFLOWS: tuple[Dataflow, ...] = ("os", "ws", "is")


@dataclass(frozen=True)
class Gemm:
    """A GEMM as the array sees it: ``pixels`` output rows (M), ``filters`` output columns (N),
    ``window`` the reduction length (K), repeated ``repeats`` times (groups, batch of matmuls)."""

    pixels: int
    filters: int
    window: int
    repeats: int = 1

    @property
    def macs(self) -> int:
        return self.repeats * self.pixels * self.filters * self.window


@dataclass(frozen=True)
class ArrayMapping:
    """How one GEMM maps onto the array in one dataflow."""

    dataflow: Dataflow
    sr: int
    sc: int
    t: int
    row_folds: int
    col_folds: int
    cycles_per_fold: int
    compute_cycles: int  # all repeats, SCALE-Sim convention
    mapping_efficiency: float  # used PEs / all PEs, averaged over folds (SCALE-Sim's definition)

    @property
    def folds(self) -> int:
        return self.row_folds * self.col_folds


def spatio_temporal(g: Gemm, dataflow: Dataflow) -> tuple[int, int, int]:
    """(Sr, Sc, T) of a GEMM in a dataflow (SCALE-Sim's ``calc_spatio_temporal_params``)."""
    if dataflow == "os":
        return g.pixels, g.filters, g.window
    if dataflow == "ws":
        return g.window, g.filters, g.pixels
    if dataflow == "is":
        return g.window, g.pixels, g.filters
    raise ValueError(f"unknown dataflow {dataflow!r}; known: {', '.join(DATAFLOWS)}")


def map_gemm(g: Gemm, rows: int, cols: int, dataflow: Dataflow, macs_per_pe_cycle: float = 1.0) -> ArrayMapping:
    """Fold a GEMM onto the array. ``macs_per_pe_cycle`` > 1 (e.g. two int4 MACs per int8 PE) shortens
    the streamed dimension when it is the reduction (os), else the stationary reduction (ws/is rows)."""
    sr, sc, t = spatio_temporal(g, dataflow)
    if macs_per_pe_cycle != 1.0:
        if dataflow == "os":
            t = math.ceil(t / macs_per_pe_cycle)
        else:
            sr = math.ceil(sr / macs_per_pe_cycle)
    row_folds = math.ceil(sr / rows)
    col_folds = math.ceil(sc / cols)
    per_fold = t + rows + cols - 2 if dataflow == "os" else 2 * rows + cols + t - 2
    one = row_folds * col_folds * per_fold - 1
    used = sr * sc  # sum over folds of used rows x used cols
    eff = used / (row_folds * col_folds * rows * cols)
    return ArrayMapping(dataflow, sr, sc, t, row_folds, col_folds, per_fold, g.repeats * max(one, 1), eff)


@dataclass(frozen=True)
class OperandReads:
    """Elements each operand moves between its SRAM and the array (SCALE-Sim's read/write counts,
    without its fill/drain padding): ifmap and filter reads, ofmap writes (partial sums included)."""

    ifmap: int
    filter: int
    ofmap: int


def sram_traffic(g: Gemm, m: ArrayMapping) -> OperandReads:
    """Operand elements moved per dataflow: the streamed operand is re-read for every fold of the
    other dimension; the stationary one is read once; ws/is write partial sums once per row fold."""
    r = g.repeats
    if m.dataflow == "os":
        # rows hold output pixels, columns filters; the window streams through both operands
        return OperandReads(ifmap=r * g.pixels * g.window * m.col_folds,
                            filter=r * g.filters * g.window * m.row_folds,
                            ofmap=r * g.pixels * g.filters)
    if m.dataflow == "ws":
        return OperandReads(ifmap=r * g.pixels * g.window * m.col_folds,
                            filter=r * g.window * g.filters,
                            ofmap=r * g.pixels * g.filters * m.row_folds)
    return OperandReads(ifmap=r * g.window * g.pixels,
                        filter=r * g.filters * g.window * m.col_folds,
                        ofmap=r * g.pixels * g.filters * m.row_folds)
