"""Sparse weight products over CSR, CSC, COO, bitmap and relative-index payloads (scipy.sparse).

The matrix is built from the payload's own index streams (``hwsim.kernels.encoded``); only stored
entries are multiplied (relative-index filler zeros included: they are stored, so they are
computed). scipy's CSR/CSC products accumulate each output in increasing column order, the order of
the sequential reference, and adding the reference's exact zeros changes no float sum: these kernels
are bit-exact against the reference on the decoded weights. Values may be floats, codebook codes
(looked up per entry, EIE style) or quantized integers (scaled per output channel after accumulation).
"""

from __future__ import annotations

import numpy as np

from hwsim.kernels.encoded import STRUCTURE_PAYLOADS, decoded_operands, sparse_operator
from hwsim.kernels.products import need_payload, prepared, reference_product, run_product, weight_matrix_shape
from hwsim.kernels.registry import KernelCall, register_kernel

SPARSE_FORMATS = ("csr", "csc", "coo", "bitmap", "relative_index")


def sparse_kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Sparse weight product: a CSR/CSC operator built from the payload's index streams, stored entries only."""
    payload = need_payload(call, STRUCTURE_PAYLOADS, "sparse")
    groups, _, k = weight_matrix_shape(call)
    m, scale = prepared(payload, f"sparse/{groups}", lambda: sparse_operator(payload, groups))
    return run_product(call, lambda cols: m @ cols.reshape(groups * k, -1), scale)


def sparse_reference(call: KernelCall) -> tuple[np.ndarray, ...]:
    w, scale = decoded_operands(call.weight("weight"))
    return reference_product(call, w, scale)


for _op in ("linear", "conv2d"):
    for _fmt in SPARSE_FORMATS:
        register_kernel(_op, _fmt, "exact", reference=sparse_reference, tags=("sparse",))(sparse_kernel)
