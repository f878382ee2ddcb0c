"""N:M structured sparsity storage (2:4: NVIDIA Ampere's sparse tensor cores): the N kept values of
every M consecutive weights of a row, plus each one's log2(M)-bit position inside its group."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.formats.intstream import FixedWidthInts, IntStream

NM_ENCODING = "nm_sparse"


@dataclass(frozen=True, eq=False)
class NMSparsePayload:
    """A [rows, k] weight with N of every M consecutive values of a row kept: ``values`` (float32 here,
    stored at ``value_bits``) in row order, ``positions`` the index of each inside its group."""

    shape: tuple[int, ...]
    n: int
    m: int
    values: np.ndarray  # [rows, k / m * n] float32
    positions: IntStream  # log2(m) bits each
    value_bits: int

    @property
    def format(self) -> str:
        return NM_ENCODING

    @property
    def index_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.m)))

    @property
    def stored_bits(self) -> int:
        return int(self.values.size) * self.value_bits + self.positions.stored_bits

    def columns(self) -> np.ndarray:
        """Column of each kept value in its row ([rows, k / m * n])."""
        rows = self.values.shape[0]
        pos = self.positions.values().reshape(rows, -1)
        group = np.arange(pos.shape[1]) // self.n
        return group[None, :] * self.m + pos

    def decode(self) -> np.ndarray:
        rows, k = self.shape[0], int(np.prod(self.shape[1:]))
        dense = np.zeros((rows, k), np.float32)
        np.put_along_axis(dense, self.columns(), self.values, axis=1)
        return dense.reshape(self.shape)

    def meta(self) -> dict[str, Any]:
        return {"structure": "nm", "n": self.n, "m": self.m, "index_bits": self.index_bits,
                "value_bits": self.value_bits, "nnz": int(self.values.size)}


def encode_nm(w: np.ndarray, n: int, m: int, value_bits: int) -> NMSparsePayload:
    rows = w.shape[0]
    groups = w.reshape(rows, -1, m)
    keep = np.sort(np.argsort(-np.abs(groups), axis=-1, kind="stable")[..., :n], axis=-1)  # N largest, in order
    values = np.take_along_axis(groups, keep, axis=-1).reshape(rows, -1).astype(np.float32)
    return NMSparsePayload(tuple(w.shape), n, m, values, FixedWidthInts.of(keep.reshape(-1).astype(np.int64),
                                                                           max(1, math.ceil(math.log2(m)))),
                           value_bits)
