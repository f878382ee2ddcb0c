"""Read an ONNX model (default domain, opset 13 or newer, float) into an OpGraph.

Steps: load and sanity-check the file -> fix a symbolic batch dimension to 1 -> ONNX shape inference
-> fold constants (initializers, Constant nodes, static shape arithmetic) -> fuse multi-op patterns (GELU,
SiLU, channel shuffle) -> convert each node (``onnx_ops.CONVERTERS``) -> fold constant add/mul operands
into the weights of their producers -> ``OpGraph.build`` -> check every tensor's shape against ONNX's.

Tensor names are kept: activations keep their ONNX names, and weights are named after the initializers
they come from, so ``graph.weight("fc.weight")`` returns that initializer's values in hwsim's layout
(a MatMul or Gemm weight is stored transposed to linear's [out, in]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from hwsim.errors import ModelFormatError, ShapeError
from hwsim.frontends.onnx_fold import decode_node, fold_constants, fuse_patterns
from hwsim.frontends.onnx_constants import resolve_constant_operands
from hwsim.frontends.onnx_context import ReadContext
from hwsim.frontends import onnx_ops_generic  # noqa: F401  (registers the generic converters)
from hwsim.frontends.onnx_ops import CONVERTERS, FUSED, supported_ops
from hwsim.ir.dtypes import FP32, DType, dtype
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec
from hwsim.ir.weights import WeightStore

MIN_OPSET = 13
_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}

#: integer graph inputs (token ids) and the hwsim dtype that holds them
_INT_TYPES = {onnx.TensorProto.INT64: "int64", onnx.TensorProto.INT32: "int32"}

Shape = tuple[int, ...]


def load_onnx(path: str | Path) -> OpGraph:
    """Read ``path`` into a validated, shape-inferred OpGraph; every problem is a ModelFormatError
    (or ShapeError) naming the file and the node."""
    path = Path(path)
    source = str(path)
    model = _read(path)
    opset = _opset(model, source)
    initializers = {i.name: i for i in model.graph.initializer}
    _fix_batch(model, initializers, source)
    shapes = _infer_shapes(model, source)
    consts: dict[str, np.ndarray] = {name: numpy_helper.to_array(t) for name, t in initializers.items()}
    graph_inputs = [i for i in model.graph.input if i.name not in initializers]
    outputs = [o.name for o in model.graph.output]
    nodes = [decode_node(n, i) for i, n in enumerate(model.graph.node)]
    nodes = fold_constants(nodes, consts, shapes)
    nodes = fuse_patterns(nodes, consts, shapes, outputs)
    if not nodes:
        raise ModelFormatError("the ONNX graph has no operator nodes (after constant folding)", source=source)

    all_names = {t for n in model.graph.node for t in (*n.input, *n.output)} | set(initializers) | \
        {i.name for i in model.graph.input}
    ctx = ReadContext(source, consts, shapes, frozenset(i.name for i in graph_inputs), outputs,
                      tensor_names=set(all_names))
    used = {t for n in nodes for t in n.inputs} | set(outputs)
    for node in nodes:
        if node.domain:
            raise _unsupported(ctx, node)
        convert = FUSED.get(node.op_type) or (CONVERTERS.get(node.op_type) if node.op_type in CONVERTERS else None)
        if convert is None:
            raise _unsupported(ctx, node)
        extra = [t for t in node.outputs[1:] if t and t in used]
        if extra and node.op_type != "Split":
            raise ctx.error(node, f"outputs {extra} are used, but hwsim reads only the first output of "
                                  f"{node.op_type} (inference mode)")
        convert(ctx, node)
    resolve_constant_operands(ctx)

    for out in outputs:
        if out in consts and out not in ctx.graph_inputs:
            raise ModelFormatError(f"graph output {out!r} is a constant; hwsim models compute their outputs",
                                   source=source, where="graph.output")
    inputs = [TensorSpec(i.name, _input_shape(i, source), _input_dtype(i), "input") for i in graph_inputs]
    hw_nodes = [Node(p.name, p.op, tuple(p.inputs), tuple(p.outputs), p.attrs, p.params) for p in ctx.nodes]
    meta = {"source_format": "onnx", "opset": opset, "seed": 0}
    if model.producer_name:
        meta["producer"] = f"{model.producer_name} {model.producer_version}".strip()
    graph = OpGraph.build(model.graph.name or path.stem, inputs, hw_nodes, outputs,
                          WeightStore(seed=0, arrays=ctx.weights), meta=meta, source=source)
    _check_shapes(graph, shapes, source)
    return graph


def _read(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise ModelFormatError("file does not exist", source=str(path))
    try:
        model = onnx.load(str(path))
    except Exception as e:  # noqa: BLE001 - any parse failure of untrusted bytes means "not an ONNX model"
        raise ModelFormatError(f"not a readable ONNX model ({type(e).__name__}: {str(e)[:200] or 'parse failed'})",
                               source=str(path)) from None
    if model.ir_version <= 0 or not model.opset_import or not model.HasField("graph"):
        raise ModelFormatError("not an ONNX model (no IR version, opset or graph in the file)", source=str(path))
    return model


def _opset(model: onnx.ModelProto, source: str) -> int:
    versions = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    opset = versions.get("ai.onnx")
    if opset is None:
        raise ModelFormatError("the model imports no default-domain (ai.onnx) opset", source=source)
    if opset < MIN_OPSET:
        raise ModelFormatError(f"opset {opset} is older than {MIN_OPSET}; convert it first with "
                               f"onnx.version_converter.convert_version(model, {MIN_OPSET})", source=source,
                               where="opset_import")
    return int(opset)


def _fix_batch(model: onnx.ModelProto, initializers: dict, source: str) -> None:
    """hwsim shapes are static: a symbolic first (batch) dimension becomes 1; any other is an error."""
    for inp in model.graph.input:
        if inp.name in initializers:
            continue
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type"):
            raise ModelFormatError(f"input {inp.name!r} is not a tensor", source=source, where="graph.input")
        if tt.elem_type not in _FLOAT_TYPES and tt.elem_type not in _INT_TYPES:
            name = (onnx.TensorProto.DataType.Name(tt.elem_type) if tt.elem_type in onnx.TensorProto.DataType.values()
                    else str(tt.elem_type))
            raise ModelFormatError(f"input {inp.name!r} has element type {name}; hwsim reads float inputs and "
                                   "integer ones (token ids)", source=source, where="graph.input")
        if not tt.HasField("shape"):
            raise ModelFormatError(f"input {inp.name!r} has no shape", source=source, where="graph.input")
        for axis, dim in enumerate(tt.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                continue
            if axis == 0:
                dim.Clear()
                dim.dim_value = 1
                continue
            label = dim.dim_param or "?"
            raise ModelFormatError(f"input {inp.name!r} has a symbolic dimension {label!r} at axis {axis}; hwsim "
                                   "needs static shapes (fix them, e.g. with onnx.tools.update_model_dims)",
                                   source=source, where="graph.input")


def _infer_shapes(model: onnx.ModelProto, source: str) -> dict[str, Shape]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as e:  # noqa: BLE001 - onnx raises several types for malformed graphs
        raise ModelFormatError(f"ONNX shape inference failed: {str(e)[:300]}", source=source) from None
    shapes: dict[str, Shape] = {}
    g = inferred.graph
    for vi in (*g.input, *g.value_info, *g.output):
        tt = vi.type.tensor_type
        if vi.type.HasField("tensor_type") and tt.HasField("shape"):
            dims = tt.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                shapes[vi.name] = tuple(int(d.dim_value) for d in dims)
    for init in g.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    return shapes


def _input_shape(inp: onnx.ValueInfoProto, source: str) -> Shape:
    return tuple(int(d.dim_value) for d in inp.type.tensor_type.shape.dim)


def _input_dtype(inp: onnx.ValueInfoProto) -> DType:
    name = _INT_TYPES.get(inp.type.tensor_type.elem_type)
    return dtype(name) if name else FP32


def _unsupported(ctx: ReadContext, node) -> ModelFormatError:  # type: ignore[no-untyped-def]
    domain = f" (domain {node.domain!r})" if node.domain else ""
    return ctx.error(node, f"unsupported ONNX op {node.op_type!r}{domain}; supported: {', '.join(supported_ops())} "
                           "(plus the GELU erf pattern, x * Sigmoid(x) and the channel-shuffle pattern)")


def _check_shapes(graph: OpGraph, onnx_shapes: dict[str, Shape], source: str) -> None:
    """hwsim's shape rules and onnx.shape_inference must agree on every tensor both know."""
    for name, spec in graph.tensors.items():
        if spec.is_weight or name not in onnx_shapes:
            continue
        if tuple(spec.shape) != onnx_shapes[name]:
            producer = graph.producer(name)
            where = f"node {producer.name!r} ({producer.op})" if producer else f"tensor {name!r}"
            raise ShapeError(f"hwsim infers shape {list(spec.shape)} for {name!r} but ONNX shape inference gives "
                             f"{list(onnx_shapes[name])}: this use of the op is not supported", source=source,
                             where=where)


__all__ = ["load_onnx", "supported_ops"]
