"""Numeric data types of tensors (after qonnx's DataType): float, int-b, uint-b, binary, ternary, fixed.

A dtype knows its bit width and value range; cost models read ``kind`` and ``bits`` to pick the
arithmetic unit (an fp32 FMA, an int8 dot product, an XNOR-popcount lane, an add/subtract/skip lane).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from hwsim.errors import ModelFormatError

if TYPE_CHECKING:
    import numpy as np

DTypeKind = Literal["float", "int", "uint", "binary", "ternary", "fixed"]


@dataclass(frozen=True, order=True)
class DType:
    """A numeric type. ``name`` is what users write: fp32, fp16, bf16, int8, uint4, binary, ternary, fixed16.8."""

    name: str
    bits: int
    kind: DTypeKind
    frac_bits: int = 0

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_integer(self) -> bool:
        """Integer-valued types, binary (+/-1) and ternary (-1/0/+1) included."""
        return self.kind in ("int", "uint", "binary", "ternary")

    @property
    def is_low_bit(self) -> bool:
        return self.kind in ("binary", "ternary")

    @property
    def min_value(self) -> float:
        if self.kind == "int":
            return float(-(2 ** (self.bits - 1)))
        if self.kind == "uint":
            return 0.0
        if self.kind in ("binary", "ternary"):
            return -1.0
        if self.kind == "fixed":
            return -(2 ** (self.bits - 1)) / 2**self.frac_bits
        import numpy as np  # only float limits need it; reading and counting a model never imports numpy

        return float(np.finfo(self.numpy_dtype).min)

    @property
    def max_value(self) -> float:
        if self.kind == "int":
            return float(2 ** (self.bits - 1) - 1)
        if self.kind == "uint":
            return float(2**self.bits - 1)
        if self.kind in ("binary", "ternary"):
            return 1.0
        if self.kind == "fixed":
            return (2 ** (self.bits - 1) - 1) / 2**self.frac_bits
        import numpy as np

        return float(np.finfo(self.numpy_dtype).max)

    @property
    def numpy_dtype(self) -> np.dtype:
        """The NumPy type that holds values of this dtype in kernels (not its storage width)."""
        import numpy as np

        if self.kind == "float":
            return np.dtype({16: np.float16, 32: np.float32, 64: np.float64}.get(self.bits, np.float32))
        if self.kind in ("binary", "ternary"):
            return np.dtype(np.int8)
        if self.kind == "fixed":
            return np.dtype(np.int32)
        if self.bits <= 8:
            return np.dtype(np.int8 if self.kind == "int" else np.uint8)
        if self.bits <= 16:
            return np.dtype(np.int16 if self.kind == "int" else np.uint16)
        return np.dtype(np.int32 if self.kind == "int" else np.uint32)

    def __str__(self) -> str:
        return self.name


FP64 = DType("fp64", 64, "float")
FP32 = DType("fp32", 32, "float")
FP16 = DType("fp16", 16, "float")
BF16 = DType("bf16", 16, "float")
INT32 = DType("int32", 32, "int")
INT16 = DType("int16", 16, "int")
INT8 = DType("int8", 8, "int")
UINT8 = DType("uint8", 8, "uint")
INT4 = DType("int4", 4, "int")
INT2 = DType("int2", 2, "int")
BINARY = DType("binary", 1, "binary")
TERNARY = DType("ternary", 2, "ternary")

_NAMED = {d.name: d for d in (FP64, FP32, FP16, BF16, BINARY, TERNARY)}
_ALIASES = {"float32": "fp32", "float16": "fp16", "float64": "fp64", "bfloat16": "bf16", "bipolar": "binary"}


def dtype(name: str | DType) -> DType:
    """Parse a dtype name: fp32, fp16, bf16, int<b>, uint<b>, binary, ternary, fixed<total>.<frac>."""
    if isinstance(name, DType):
        return name
    key = _ALIASES.get(name, name)
    if key in _NAMED:
        return _NAMED[key]
    m = re.fullmatch(r"(u?int)(\d+)", key)
    if m:
        bits = int(m.group(2))
        if not 1 <= bits <= 64:
            raise ModelFormatError(f"dtype {name!r}: bit width must be 1..64")
        return DType(key, bits, "uint" if m.group(1) == "uint" else "int")
    m = re.fullmatch(r"fixed(\d+)\.(\d+)", key)
    if m:
        total, frac = int(m.group(1)), int(m.group(2))
        if not (1 <= total <= 64 and 0 <= frac < total):
            raise ModelFormatError(f"dtype {name!r}: need 1 <= total <= 64 and 0 <= frac < total")
        return DType(key, total, "fixed", frac)
    raise ModelFormatError(
        f"unknown dtype {name!r}; known: fp64, fp32, fp16, bf16, int<b>, uint<b>, binary, ternary, fixed<b>.<f>"
    )


def int_dtype(bits: int, signed: bool = True) -> DType:
    return dtype(f"{'int' if signed else 'uint'}{bits}")
