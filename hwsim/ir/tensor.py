"""TensorSpec: what a tensor is (shape, dtype) and how it is stored (encoding, density, encoded size).

Compression passes re-annotate tensors; cost models read only these annotations. ``stored_bits`` is
the size of the really encoded bytes when a pass encoded real weights; when it is None the size is
the dense formula (numel x dtype bits), which is exact for dense storage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from hwsim.ir.dtypes import FP32, DType

TensorRole = Literal["input", "activation", "weight"]


def frozen_meta(meta: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """Encoding metadata as a sorted tuple of pairs, so specs stay hashable and comparable."""
    if not meta:
        return ()
    return tuple(sorted((k, _freeze(v)) for k, v in meta.items()))


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return frozen_meta(v)
    return v


@dataclass(frozen=True)
class TensorSpec:
    """A tensor of the graph. Shapes include the batch dimension; layout is NCHW."""

    name: str
    shape: tuple[int, ...]
    dtype: DType = FP32
    role: TensorRole = "activation"
    encoding: str = "dense"
    density: float = 1.0
    stored_bits: int | None = None
    meta: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nonzeros(self) -> int:
        return int(round(self.numel * self.density))

    @property
    def dense_bits(self) -> int:
        return self.numel * self.dtype.bits

    @property
    def size_bits(self) -> int:
        """Stored size: the real encoded size if known, else the dense size."""
        return self.stored_bits if self.stored_bits is not None else self.dense_bits

    @property
    def size_bytes(self) -> int:
        return (self.size_bits + 7) // 8

    @property
    def is_weight(self) -> bool:
        return self.role == "weight"

    def meta_dict(self) -> dict[str, Any]:
        return dict(self.meta)

    def with_(self, **changes: Any) -> "TensorSpec":
        if "meta" in changes and isinstance(changes["meta"], dict):
            changes["meta"] = frozen_meta(changes["meta"])
        if "shape" in changes:
            changes["shape"] = tuple(int(s) for s in changes["shape"])
        return replace(self, **changes)
