"""The payload contract and the ``FORMATS`` registry.

A payload is an encoded weight tensor as the ``WeightStore`` holds it. Every payload has

- ``format``: its registry name (what ``TensorSpec.encoding`` says),
- ``shape``: the logical (dense) shape,
- ``decode() -> np.ndarray``: the float32 dense values a kernel must compute with,
- ``stored_bits``: the size of its encoded streams (indices, values, tables), exact to the bit,
- ``nnz``: stored non-zero values (filler zeros excluded),
- ``meta()``: the annotation keys cost models read (documented in ``hwsim.formats``),
- ``int_streams()`` / ``with_streams()``: its integer streams by name, so Huffman coding (or any other
  entropy coder) can replace them without knowing the payload's layout.

Structure formats (csr, csc, coo, bitmap, relative_index) also give ``entry_positions()`` (the flat
position of every stored value, in stream order) and ``values`` (a value stream, see
``hwsim.formats.values``); ``densify`` turns any of them back into a dense-structured payload with
the same value representation, which is what lets passes re-encode in any order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hwsim.errors import CompressionError
from hwsim.formats.intstream import IntStream
from hwsim.registry import Registry


@runtime_checkable
class Payload(Protocol):
    @property
    def format(self) -> str: ...

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def stored_bits(self) -> int: ...

    @property
    def nnz(self) -> int: ...

    def decode(self) -> np.ndarray: ...

    def meta(self) -> dict[str, Any]: ...

    def int_streams(self) -> dict[str, IntStream]: ...

    def with_streams(self, streams: Mapping[str, IntStream]) -> "Payload": ...


EncodeFn = Callable[..., Any]
EstimateFn = Callable[..., int]


@dataclass(frozen=True)
class FormatDef:
    """One storage format: how to encode a tensor, and a formula for its size without the tensor.

    ``encode(source, **options)`` takes a float array or a dense-structured payload (dense, codebook,
    quantized_int) and returns a payload. ``estimate(shape, density, value_bits, table_bits, **options)``
    is the formula used for cost-only runs on unmaterialized weights; a test holds it against
    ``encode`` on random tensors. ``lossless`` says whether decode(encode(x)) == x for float arrays."""

    name: str
    encode: EncodeFn
    estimate: EstimateFn
    lossless: bool
    structure: bool  # a sparse structure format that carries a value stream
    doc: str


FORMATS: Registry[str, FormatDef] = Registry("storage format")


def register_format(fmt: FormatDef) -> FormatDef:
    return FORMATS.register(fmt.name, fmt)


def matrix_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """The 2-D view sparse matrix formats use: [shape[0], rest] (conv [out, in*kh*kw]; 1-D as one row)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return 1, int(shape[0])
    return int(shape[0]), int(math.prod(shape[1:]))


def expected_fillers(nnz: float, density: float, index_bits: int) -> float:
    """Filler zeros a relative index of ``index_bits`` needs when non-zeros are spread uniformly at
    random: each gap is geometric, and a run of r zeros needs floor(r / 2^b) fillers, so
    E[fillers per non-zero] = sum_k (1-d)^(k 2^b) = q / (1 - q) with q = (1-d)^(2^b)."""
    if density >= 1.0 or nnz <= 0:
        return 0.0
    if density <= 0.0:
        return 0.0
    q = (1.0 - density) ** (2**index_bits)
    return nnz * q / (1.0 - q)


def check_options(name: str, options: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise CompressionError(f"format {name!r}: unknown option(s) {sorted(unknown)}; known: {sorted(allowed) or 'none'}")
