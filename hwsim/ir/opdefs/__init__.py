"""Op definitions, one module per op family; importing this package registers them all."""

from hwsim.ir.opdefs import activation, control, conv, dense, llm, norm, pool, structured, tensor_ops  # noqa: F401
