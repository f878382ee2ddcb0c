"""Which form a node runs in: read from the annotations of its main weight (never from which pass ran).

Rules, first match wins: a non-dense encoding (the payload format, e.g. ``csr``, ``relative_index``,
``codebook``, ``quantized_int``: a sparse structure executes whatever values it carries, ternary ones
included); a binary or ternary dtype (bit-packed codes); an integer or fixed-point dtype stored
densely (``quantized_int``: its kernel insists on a real integer payload); for a dense conv2d, its
``algorithm`` attribute; otherwise ``dense`` (fp16 / bf16 weights run as their float values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hwsim.ir.graph import Node
from hwsim.ir.tensor import TensorSpec

MAIN_SLOT = "weight"


def weight_form(op: str, attrs: Mapping[str, Any], spec: TensorSpec | None) -> str:
    if spec is not None:
        kind = spec.dtype.kind
        if spec.encoding != "dense":
            return spec.encoding
        if kind in ("binary", "ternary"):
            return kind
        if kind in ("int", "uint", "fixed"):
            return "quantized_int"
    if op == "conv2d":
        return str(attrs.get("algorithm", "direct"))
    return "dense"


def node_form(node: Node, specs: Mapping[str, TensorSpec]) -> str:
    """The form of ``node`` given the specs of its weight tensors (by tensor name)."""
    tname = node.params.get(MAIN_SLOT)
    return weight_form(node.op, node.attrs, specs.get(tname) if tname else None)


def dense_value(value: Any) -> np.ndarray:
    """A stored weight as a float array (payloads decoded): for dense kernels and references only."""
    return value.decode() if hasattr(value, "decode") else np.asarray(value)
