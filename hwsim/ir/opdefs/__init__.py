"""Op definitions, one module per op family; importing this package registers them all."""

from hwsim.ir.opdefs import activation, conv, dense, norm, pool, tensor_ops  # noqa: F401
