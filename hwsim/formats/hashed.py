"""HashedNets storage (Chen et al., ICML 2015): K real weights shared through a hash of the position.

Virtual weight j of the tensor (flat C order) is ``sign(j) * buckets[h(j)]`` with h and sign from a
seeded 64-bit integer hash (splitmix64 finalizer), so only the K bucket values and the seed are stored.
Encoding an existing tensor fits each bucket by least squares: the mean of sign(j) * x_j over the
positions hashed to it. Kernels call ``bucket_index()`` / ``signs()`` or ``decode()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.errors import CompressionError
from hwsim.formats.base import FormatDef, check_options, register_format
from hwsim.formats.intstream import IntStream
from hwsim.formats.values import FloatValues

SEED_BITS = 64


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer on uint64 (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hash_positions(n: int, buckets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(bucket index int64, sign float32 +/-1) for positions 0..n-1."""
    with np.errstate(over="ignore"):
        h = _mix(np.arange(n, dtype=np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF))
    idx = (h % np.uint64(buckets)).astype(np.int64)
    sign = np.where((h >> np.uint64(63)) == 0, 1.0, -1.0).astype(np.float32)
    return idx, sign


@dataclass(frozen=True, eq=False)
class HashedPayload:
    shape: tuple[int, ...]
    buckets: FloatValues
    seed: int
    signed: bool = True

    @property
    def format(self) -> str:
        return "hashed"

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def stored_bits(self) -> int:
        return self.buckets.stored_bits + SEED_BITS

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.decode()))

    def bucket_index(self) -> np.ndarray:
        return hash_positions(self.numel, self.buckets.n, self.seed)[0].reshape(self.shape)

    def signs(self) -> np.ndarray:
        if not self.signed:
            return np.ones(self.shape, np.float32)
        return hash_positions(self.numel, self.buckets.n, self.seed)[1].reshape(self.shape)

    def decode(self) -> np.ndarray:
        idx, sign = hash_positions(self.numel, self.buckets.n, self.seed)
        v = self.buckets.decode()[idx]
        return (v * sign if self.signed else v).astype(np.float32).reshape(self.shape)

    def meta(self) -> dict[str, Any]:
        return {"structure": "hashed", "buckets": self.buckets.n, "value_format": "float",
                "value_bits": self.buckets.bits, "seed_bits": SEED_BITS, "signed": self.signed}

    def int_streams(self) -> dict[str, IntStream]:
        return {}

    def with_streams(self, streams: Mapping[str, IntStream]) -> "HashedPayload":
        return self


def encode_hashed(source: Any, buckets: int, seed: int = 0, signed: bool = True) -> HashedPayload:
    arr = source.decode() if hasattr(source, "decode") else np.asarray(source, np.float32)
    n = arr.size
    if not 1 <= int(buckets) <= max(n, 1):
        raise CompressionError(f"hashed storage needs 1 <= buckets <= {n} elements, got {buckets}")
    idx, sign = hash_positions(n, int(buckets), seed)
    target = arr.ravel().astype(np.float64) * (sign if signed else 1.0)
    sums = np.bincount(idx, weights=target, minlength=int(buckets))
    counts = np.bincount(idx, minlength=int(buckets))
    table = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0).astype(np.float32)
    return HashedPayload(tuple(arr.shape), FloatValues.of(table), int(seed), signed)


def estimate_hashed(shape: tuple[int, ...], density: float = 1.0, value_bits: int = 32, table_bits: int = 0,
                    buckets: int = 1) -> int:
    return buckets * value_bits + SEED_BITS + table_bits


def _encoder(source: Any, **options: Any) -> HashedPayload:
    check_options("hashed", options, {"buckets", "seed", "signed"})
    if "buckets" not in options:
        raise CompressionError("format 'hashed' needs option 'buckets'")
    return encode_hashed(source, **options)


register_format(FormatDef("hashed", _encoder, estimate_hashed, lossless=False, structure=False,
                          doc="HashedNets: K shared weights addressed by a seeded hash of the position"))

__all__ = ["HashedPayload", "encode_hashed", "hash_positions", "estimate_hashed"]
