"""Importing this module registers every kernel (one module per family)."""

from hwsim.kernels import conv, data, fft_conv, gemm, pointwise, pool, winograd  # noqa: F401
