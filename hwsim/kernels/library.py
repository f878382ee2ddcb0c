"""Importing this module registers every kernel (one module per family)."""

from hwsim.kernels import (  # noqa: F401
    conv, data, elementwise, fft_conv, gemm, llm, lookup, lowbit, nm_sparse, pointwise, pool, quantized, sparse,
    structured, transferred, winograd,
)
