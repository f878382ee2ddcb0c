"""Glue between payloads and tensor annotations: encode by format name, and the TensorSpec a payload implies."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwsim.formats.base import FORMATS
from hwsim.ir.dtypes import BF16, FP16, FP32, DType, int_dtype
from hwsim.ir.tensor import TensorSpec


def encode(name: str, source: Any, **options: Any) -> Any:
    """Encode an array (or re-encode a payload) in format ``name`` (a ``FORMATS`` key)."""
    return FORMATS.get(name).encode(source, **options)


def is_payload(value: Any) -> bool:
    return hasattr(value, "decode") and hasattr(value, "stored_bits") and hasattr(value, "format")


def payload_meta(payload: Any) -> dict[str, Any]:
    meta = dict(payload.meta())
    fixed = fixed_width_bits(payload)
    if fixed is not None:
        meta["fixed_width_bits"] = fixed
    return meta


def fixed_width_bits(payload: Any) -> int | None:
    """Stored bits with every Huffman-coded stream back at its fixed width (no code table, no block
    offsets): the inner encoding a kernel executes once the Huffman stage is decoded at load time.
    None when no stream is Huffman-coded (the stored bits are already that)."""
    streams = payload.int_streams() if hasattr(payload, "int_streams") else {}
    coded = [s for s in streams.values() if getattr(s, "coding", "fixed") == "huffman"]
    if not coded:
        return None
    return int(payload.stored_bits) - sum(int(s.stored_bits) - int(s.n) * int(s.bits) for s in coded)


def value_dtype(payload: Any) -> DType:
    """The dtype a kernel computes with after decoding the payload's values."""
    values = getattr(payload, "values", None)
    fmt = getattr(values, "format", None)
    if fmt == "quantized_int":
        return int_dtype(values.bits, values.signed)
    if fmt == "float":
        return {"fp32": FP32, "fp16": FP16, "bf16": BF16}[values.kind]
    return FP32


def annotate(spec: TensorSpec, payload: Any, dtype: DType | None = None, extra_meta: dict[str, Any] | None = None
             ) -> TensorSpec:
    """``spec`` re-annotated for ``payload``: encoding, density (decoded non-zeros / elements), dtype,
    the real stored bits and the format's meta keys. Pass-specific keys go in ``extra_meta``."""
    numel = int(np.prod(spec.shape, dtype=np.int64))
    density = payload.nnz / numel if numel else 1.0
    meta = payload_meta(payload)
    if extra_meta:
        meta.update(extra_meta)
    return spec.with_(encoding=payload.format, density=float(density), stored_bits=int(payload.stored_bits),
                      dtype=dtype or value_dtype(payload), meta=meta)
