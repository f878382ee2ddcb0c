"""Deep Compression's relative-index sparse format (Han, Mao, Dally, ICLR 2016, Section 2 and Fig. 2).

The tensor is read in flat C order. Each stored entry holds a value and the number of zeros since the
previous entry, in ``index_bits`` bits (so a run of at most 2^b - 1 zeros; the paper's "difference"
is run + 1, at most 2^b). When a run of zeros is longer, a *filler* entry is inserted: a stored zero
value whose run is 2^b - 1, covering 2^b positions. Fillers are counted from the real gaps of the real
tensor, and they cost a value and an index each, which is why a density x (value + index bits)
estimate undercounts very sparse layers. Trailing zeros after the last entry need no entry.

The width is a per-layer choice: Section 2 says 8 bits for conv and 5 for fc, the AlexNet table uses
4, the LeNet and VGG tables 5. Kernels walk ``runs`` and ``values`` (EIE-style) or use ``decode()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.errors import CompressionError
from hwsim.formats.base import FormatDef, check_options, expected_fillers, register_format
from hwsim.formats.intstream import FixedWidthInts, IntStream
from hwsim.formats.sparse import _Structured, nonzero_positions, source_values
from hwsim.formats.values import ValueStream

DEFAULT_INDEX_BITS = 5


@dataclass(frozen=True, eq=False)
class RelativeIndexPayload(_Structured):
    """Entries (value, zeros-before) in flat order; ``fillers`` of them are filler zeros."""

    runs: IntStream
    values: ValueStream
    index_bits: int
    fillers: int

    @property
    def format(self) -> str:
        return "relative_index"

    @property
    def entries(self) -> int:
        return int(self.values.n)

    @property
    def nnz(self) -> int:
        return self.entries - self.fillers

    def _index_streams(self) -> dict[str, IntStream]:
        return {"runs": self.runs}

    def _index_bits(self) -> int:
        return self.index_bits

    def entry_positions(self) -> np.ndarray:
        return np.cumsum(self.runs.values() + 1) - 1

    def meta(self) -> dict[str, Any]:
        m = super().meta()
        m.update(filler_zeros=self.fillers, entries=self.entries)
        return m


def relative_entries(pos: np.ndarray, index_bits: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Entry positions and zero runs for non-zero flat positions ``pos`` (sorted), with fillers.

    A run of r zeros before a non-zero needs floor(r / 2^b) fillers; filler j (0-based) sits at
    prev + (j + 1) * 2^b and carries run 2^b - 1. Built with a handful of arrays the size of ``pos``
    (the fillers, usually few, get their own small arrays), not one per intermediate step of the
    entry expansion: on a large pruned layer those were twice the layer's float32 size."""
    pos = np.asarray(pos)
    if pos.dtype.kind != "i":
        pos = pos.astype(np.int64)
    span = 1 << index_bits
    run = np.diff(pos, prepend=pos.dtype.type(-1))  # in pos's own integer dtype (int32 for layers < 2^31)
    run -= 1
    if pos.size == 0 or int(pos[-1]) < span:  # no run can reach 2^b: no fillers (and no shift past the dtype)
        return pos, run, 0
    fill = run >> index_bits
    fillers = int(fill.sum())
    if fillers == 0:
        return pos, run, 0
    fill <<= index_bits  # in place (no temporaries): the real entry's own run is what its fillers leave
    run -= fill
    fill >>= index_bits
    fill += 1  # entries up to and including each non-zero's own: its entry index is that count - 1
    slot = np.cumsum(fill, dtype=pos.dtype)
    slot -= 1
    fill -= 1
    entry_pos = np.empty(pos.size + fillers, pos.dtype)
    entry_run = np.full(pos.size + fillers, span - 1, pos.dtype)
    entry_pos[slot] = pos
    entry_run[slot] = run
    has = np.flatnonzero(fill)  # the non-zeros preceded by fillers
    counts = fill[has]
    owner = np.repeat(has, counts)
    j = np.arange(fillers) - np.repeat(np.cumsum(counts) - counts, counts)  # filler number within its run
    start = np.where(owner > 0, pos[owner - 1], -1)
    entry_pos[slot[owner] - counts.repeat(counts) + j] = start + (j + 1) * span
    return entry_pos, entry_run, fillers


def encode_relative_index(source: Any, index_bits: int = DEFAULT_INDEX_BITS, value_kind: str | None = None
                          ) -> RelativeIndexPayload:
    if not 1 <= int(index_bits) <= 32:
        raise CompressionError(f"relative index width must be 1..32 bits, got {index_bits}")
    shape = tuple(source.shape) if hasattr(source, "decode") else tuple(np.shape(source))
    entry_pos, runs, fillers = relative_entries(nonzero_positions(source), int(index_bits))
    values = source_values(source, value_kind).take(entry_pos)
    return RelativeIndexPayload(shape, FixedWidthInts.of(runs, int(index_bits)), values,
                                int(index_bits), fillers)


def estimate_relative_index(shape: tuple[int, ...], density: float, value_bits: int = 32, table_bits: int = 0,
                            index_bits: int = DEFAULT_INDEX_BITS) -> int:
    """Entries = non-zeros + expected fillers for uniformly random positions (see base.expected_fillers)."""
    n = int(np.prod(shape, dtype=np.int64))
    nnz = n * density
    entries = nnz + expected_fillers(nnz, density, index_bits)
    return int(round(entries * (value_bits + index_bits))) + table_bits


def _encoder(source: Any, **options: Any) -> RelativeIndexPayload:
    check_options("relative_index", options, {"index_bits", "value_kind"})
    return encode_relative_index(source, **options)


register_format(FormatDef("relative_index", _encoder, estimate_relative_index, lossless=True, structure=True,
                          doc="Deep Compression: zero-run index of b bits per entry, filler zeros on overflow"))

__all__ = ["RelativeIndexPayload", "encode_relative_index", "relative_entries", "estimate_relative_index",
           "DEFAULT_INDEX_BITS"]
