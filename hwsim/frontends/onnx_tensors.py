"""ONNX tensors (initializers and Constant-node values) as NumPy arrays, validated first: a known numeric
element type, non-negative dims, weights stored in the file, and exactly as many stored values as the
dims declare. A malformed tensor is a ModelFormatError naming it, never a NumPy traceback."""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

from hwsim.errors import ModelFormatError

#: element types hwsim reads (the numeric ones numpy_helper converts)
_NUMERIC = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16,
            onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32, onnx.TensorProto.INT64,
            onnx.TensorProto.UINT8, onnx.TensorProto.UINT16, onnx.TensorProto.UINT32, onnx.TensorProto.UINT64,
            onnx.TensorProto.BOOL}
#: the repeated field holding the values when raw_data is not used
_FIELD = {onnx.TensorProto.FLOAT: "float_data", onnx.TensorProto.DOUBLE: "double_data",
          onnx.TensorProto.INT64: "int64_data", onnx.TensorProto.UINT64: "uint64_data",
          onnx.TensorProto.UINT32: "uint64_data"}


def type_name(elem_type: int) -> str:
    return onnx.TensorProto.DataType.Name(elem_type) if elem_type in onnx.TensorProto.DataType.values() \
        else f"unknown type {elem_type}"


def check_tensor(t: onnx.TensorProto, what: str, stored_bytes: int | None = None) -> None:
    """Raise ModelFormatError (no source; the caller locates it) unless ``t`` is well formed.
    ``stored_bytes``: the size of raw values left in the file (``onnx_file``), when not in ``t``."""
    if t.data_type not in _NUMERIC:
        raise ModelFormatError(f"{what} has element type {type_name(t.data_type)}; hwsim reads numeric tensors")
    if any(d < 0 for d in t.dims):
        raise ModelFormatError(f"{what} has negative dimensions {list(t.dims)}")
    if t.data_location == onnx.TensorProto.EXTERNAL and stored_bytes is None:
        raise ModelFormatError(f"{what} keeps its values in an external data file that was not resolved")
    n = math.prod(t.dims)
    itemsize = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    if stored_bytes is not None or t.HasField("raw_data"):
        stored, need = (len(t.raw_data) if stored_bytes is None else stored_bytes), n * itemsize
        if stored != need:
            raise ModelFormatError(f"{what}: dims {list(t.dims)} declare {n} values ({need} bytes) but the tensor "
                                   f"stores {stored} bytes")
        return
    stored = len(getattr(t, _FIELD.get(t.data_type, "int32_data")))
    if stored != n:
        raise ModelFormatError(f"{what}: dims {list(t.dims)} declare {n} values but the tensor stores {stored}")


def tensor_array(t: onnx.TensorProto, what: str) -> np.ndarray:
    check_tensor(t, what)
    try:
        return numpy_helper.to_array(t)
    except (ValueError, TypeError) as e:
        raise ModelFormatError(f"{what} cannot be read: {str(e)[:200]}") from None
