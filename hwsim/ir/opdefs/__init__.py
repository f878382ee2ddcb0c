"""Op definitions, one module per op family; importing this package registers them all."""

from hwsim.ir.opdefs import (  # noqa: F401
    activation, control, conv, dense, indexing, llm, math_ops, norm, pool, reduce, structured, tensor_ops,
)
