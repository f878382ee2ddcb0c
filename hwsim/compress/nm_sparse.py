"""``prune_nm``: N:M structured sparsity (2:4 by default, NVIDIA Ampere's sparse tensor cores; Mishra et
al. 2021, "Accelerating Sparse Deep Neural Networks"): in every group of M consecutive weights of a row,
the N largest by magnitude are kept. Stored as the kept values plus a log2(M)-bit position per value
(the compressed format sparse tensor cores read).

Whether it is faster is the device's business (``hwsim.cost.structured_sparsity``): a device that
lists ``2:4`` in ``structured_sparsity`` (Ampere / Orin GPUs) runs the products at twice the dense rate
from the compressed weights; any other device stores and computes them dense (the zeros expanded at
load). Task accuracy after 2:4 pruning needs the fine-tuning the tool does not do: unknown.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from hwsim.compress._encoded import is_materialized
from hwsim.compress.base import LayerChange, PassParams, PassResult, register_pass, select_layers
from hwsim.compress.quantize import ACCURACY_NOTE
from hwsim.errors import CompressionError
from hwsim.formats.nm_sparse import NM_ENCODING, encode_nm
from hwsim.ir.graph import OpGraph
from hwsim.ir.tensor import TensorSpec

FINETUNE_NOTE = "task accuracy after N:M pruning needs fine-tuning the tool does not do: unknown"


class PruneNMParams(PassParams):
    n: int = Field(default=2, ge=1)
    m: int = Field(default=4, ge=2)

    @model_validator(mode="after")
    def _check(self) -> "PruneNMParams":
        if self.n >= self.m:
            raise ValueError(f"n ({self.n}) must be smaller than m ({self.m})")
        return self


def nm_spec(spec: TensorSpec, n: int, m: int, nnz: int | None = None) -> TensorSpec:
    """The annotation of an N:M-sparse weight (sizes from the format: values + positions)."""
    kept = spec.numel * n // m if nnz is None else nnz
    value_bits = spec.dtype.bits
    index_bits = max(1, math.ceil(math.log2(m)))
    meta = {**spec.meta_dict(), "structure": "nm", "n": n, "m": m, "index_bits": index_bits,
            "value_bits": value_bits, "nnz": kept}
    return spec.with_(encoding=NM_ENCODING, density=kept / spec.numel, stored_bits=kept * (value_bits + index_bits),
                      meta=meta)


@register_pass("prune_nm", PruneNMParams, family="prune")
def prune_nm(graph: OpGraph, params: PruneNMParams) -> PassResult:
    """N:M structured sparsity of linear layers (2:4 by default): the N largest of every M weights kept."""
    nodes = select_layers(graph, params, ("linear",), "prune_nm")
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    changes: list[LayerChange] = []
    skipped: list[str] = []
    for node in nodes:
        t = node.params["weight"]
        spec = graph.tensor(t)
        row = spec.numel // spec.shape[0]
        if spec.encoding != "dense" or not spec.dtype.is_float:
            skipped.append(f"{node.name} (stored as {spec.encoding} {spec.dtype.name})")
            continue
        if row % params.m:
            raise CompressionError(f"pass 'prune_nm', layer {node.name!r}: rows of {row} values are not whole "
                                   f"groups of {params.m}")
        if is_materialized(graph, [t]):
            payload = encode_nm(np.asarray(graph.dense_weight(t), np.float32), params.n, params.m, spec.dtype.bits)
            new = nm_spec(spec, params.n, params.m, int(payload.values.size))
            weights[t] = payload
        else:
            new = nm_spec(spec, params.n, params.m)
        specs[t] = new
        changes.append(LayerChange(node.name, "pruned", spec.size_bytes, new.size_bytes,
                                   {"pattern": f"{params.n}:{params.m}", "density": params.n / params.m}))
    notes = [FINETUNE_NOTE, ACCURACY_NOTE]
    if skipped:
        notes.append("prune_nm keeps layers whose weights are not dense floats: " + ", ".join(skipped[:6]))
    if not specs:
        return PassResult(graph, False, (), (*notes, "no linear layer to prune"))
    return PassResult(graph.with_specs(specs, weights), True, tuple(changes), tuple(notes))
