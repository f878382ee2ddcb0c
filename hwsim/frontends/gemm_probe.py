"""Tiny ONNX models of one GEMM, for timing a real inference engine's kernels on the host
(``hwsim calibrate`` measures the int8 rate with them: an int8 GEMM with int32 accumulation).

``matmul_model(k, n, "int8")`` is ``MatMulInteger(a: uint8 [m, k], b: int8 [k, n]) -> int32 [m, n]``:
unsigned activations (after ReLU) times signed weights, the layout x86 int8 kernels (VNNI / AVX2
``vpmaddubsw``) and ONNX Runtime's quantized operators use. ``"fp32"`` is the plain ``MatMul``.
The weight is a seeded initializer; ``m`` is left free.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_OPSET = 13


def matmul_model(k: int, n: int, dtype: str, seed: int = 0) -> bytes:
    """Serialized ONNX model of one [m, k] x [k, n] GEMM at ``dtype`` (``int8`` or ``fp32``)."""
    rng = np.random.default_rng(seed)
    if dtype == "int8":
        weight = rng.integers(-128, 128, (k, n), dtype=np.int8)
        a_type, y_type, op = TensorProto.UINT8, TensorProto.INT32, "MatMulInteger"
    elif dtype == "fp32":
        weight = rng.standard_normal((k, n)).astype(np.float32)
        a_type, y_type, op = TensorProto.FLOAT, TensorProto.FLOAT, "MatMul"
    else:
        raise ValueError(f"no GEMM probe for dtype {dtype!r} (int8, fp32)")
    graph = helper.make_graph(
        [helper.make_node(op, ["a", "b"], ["y"])], f"gemm_{dtype}",
        [helper.make_tensor_value_info("a", a_type, ["m", k])],
        [helper.make_tensor_value_info("y", y_type, ["m", n])],
        [numpy_helper.from_array(weight, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


__all__ = ["matmul_model"]
