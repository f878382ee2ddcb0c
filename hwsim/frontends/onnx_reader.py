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

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hwsim.errors import ModelFormatError, ShapeError
from hwsim.frontends.onnx_fold import decode_node, fold_constants, fuse_patterns
from hwsim.frontends.onnx_constants import resolve_constant_operands
from hwsim.frontends.onnx_file import ExternalDataError, RawLocation, read_model
from hwsim.frontends.onnx_context import ReadContext
from hwsim.frontends import onnx_ops_generic  # noqa: F401  (registers the generic converters)
from hwsim.frontends.onnx_ops import CONVERTERS, FUSED, supported_ops
from hwsim.frontends.onnx_tensors import check_tensor, tensor_array
from hwsim.ir.dtypes import FP32, DType, dtype
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec
from hwsim.ir.weights import LazyArray, WeightStore

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
    model, lazy = _read(path)
    opset = _opset(model, source)
    initializers = {i.name: i for i in model.graph.initializer}
    _fix_batch(model, initializers, source)
    shapes = _infer_shapes(_weightless(model, model.graph.node, initializers, {}), source)
    consts: dict[str, np.ndarray] = {}
    for name, t in initializers.items():
        try:
            consts[name] = _initializer(t, f"initializer {name!r}", lazy.get(name))
        except ModelFormatError as e:
            raise e.located(source=source, where="graph.initializer") from None
    graph_inputs = [i for i in model.graph.input if i.name not in initializers]
    outputs = [o.name for o in model.graph.output]
    try:
        nodes = [decode_node(n, i) for i, n in enumerate(model.graph.node)]
        nodes = fold_constants(nodes, consts, shapes)
        for _ in range(_MAX_REFOLDS):
            if not any(t and t not in shapes and t not in consts for n in nodes for t in n.outputs):
                break
            # shape arithmetic ONNX's data propagation could not follow is constant now: infer again, and
            # fold what the new shapes make constant (Swin's window partitioning takes a few rounds)
            kept = [model.graph.node[n.index] for n in nodes]
            shapes = {**_infer_shapes(_weightless(model, kept, initializers, consts), source), **shapes}
            before = len(nodes)
            nodes = fold_constants(nodes, consts, shapes)
            if len(nodes) == before:
                break
    except ModelFormatError as e:
        raise e.located(source=source) from None
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
        try:
            convert(ctx, node)
        except (ValueError, TypeError, IndexError, KeyError, OverflowError) as e:
            # values of an untrusted file that a converter could not use (e.g. a non-numeric attribute)
            raise ctx.error(node, f"cannot read this node ({type(e).__name__}: {str(e)[:200]})") from None
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
    _check_weight_shapes(graph, ctx.weights, source)
    return graph


def _read(path: Path) -> tuple[onnx.ModelProto, dict[str, RawLocation]]:
    if not path.is_file():
        raise ModelFormatError("file does not exist", source=str(path))
    try:
        model, lazy = read_model(path)
    except ExternalDataError as e:
        raise ModelFormatError(str(e), source=str(path), where="graph.initializer") from None
    except Exception as e:  # noqa: BLE001 - any parse failure of untrusted bytes means "not an ONNX model"
        raise ModelFormatError(f"not a readable ONNX model ({type(e).__name__}: {str(e)[:200] or 'parse failed'})",
                               source=str(path)) from None
    if model.ir_version <= 0 or not model.opset_import or not model.HasField("graph"):
        raise ModelFormatError("not an ONNX model (no IR version, opset or graph in the file)", source=str(path))
    return model, lazy


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
            if dim.HasField("dim_value"):
                raise ModelFormatError(f"input {inp.name!r} has dimension {dim.dim_value} at axis {axis}; dimensions "
                                       "must be positive", source=source, where="graph.input")
            label = dim.dim_param or "?"
            raise ModelFormatError(f"input {inp.name!r} has a symbolic dimension {label!r} at axis {axis}; hwsim "
                                   "needs static shapes (fix them, e.g. with onnx.tools.update_model_dims)",
                                   source=source, where="graph.input")


#: rounds of "infer shapes again, fold again" after the first folding
_MAX_REFOLDS = 200
#: initializers up to this many elements keep their values for shape inference (shape arithmetic reads them)
#: and are read at once; larger ones (weights) are read lazily, when a functional run first needs them
_SMALL_CONST = 4096


def _initializer(t: onnx.TensorProto, what: str, location: RawLocation | None) -> Any:
    """A checked initializer: small ones as arrays; weights left in the file (``location``) or large ones
    as LazyArrays read on first use (``stats`` never reads them)."""
    dims = tuple(int(d) for d in t.dims)
    if location is not None:
        check_tensor(t, what, stored_bytes=location.length)
        return LazyArray(dims, location.dtype, lambda: location.read(dims))
    check_tensor(t, what)
    if math.prod(dims) <= _SMALL_CONST:
        return tensor_array(t, what)
    return LazyArray(dims, helper.tensor_dtype_to_np_dtype(t.data_type), lambda: tensor_array(t, what))



def _weightless(model: onnx.ModelProto, nodes: Sequence[onnx.NodeProto], initializers: Mapping[str, onnx.TensorProto],
                folded: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """The model for shape inference: ``nodes``, with large initializers as typed graph inputs (shape and
    element type only, no data: inference never copies the weights) and small ones, and the ``folded``
    constants the nodes read, as values."""
    m = onnx.ModelProto()
    m.ir_version = model.ir_version
    m.opset_import.extend(model.opset_import)
    g = m.graph
    g.node.extend(nodes)
    g.input.extend(i for i in model.graph.input if i.name not in initializers)
    g.output.extend(model.graph.output)
    read = {t for n in nodes for t in n.input}
    for name, t in initializers.items():
        if name not in read:
            continue
        if math.prod(t.dims) <= _SMALL_CONST and (t.HasField("raw_data") or t.data_location != t.EXTERNAL
                                                   and not _stored_elsewhere(t)):
            g.initializer.append(t)
        else:
            g.input.append(helper.make_tensor_value_info(name, t.data_type, list(t.dims)))
    for name, value in folded.items():
        if name in read and name not in initializers and np.dtype(getattr(value, "dtype", object)).kind in "biuf":
            if value.size <= _SMALL_CONST:
                g.initializer.append(numpy_helper.from_array(np.asarray(value), name))
            else:  # a large folded constant (an attention mask): its type and shape suffice
                g.input.append(helper.make_tensor_value_info(
                    name, helper.np_dtype_to_tensor_dtype(np.dtype(value.dtype)), list(np.shape(value))))
    return m


def _stored_elsewhere(t: onnx.TensorProto) -> bool:
    """A tensor whose values were left in the file by ``onnx_file.read_model`` (no data fields at all)."""
    return math.prod(t.dims) > 0 and not (t.raw_data or t.float_data or t.int32_data or t.int64_data
                                          or t.double_data or t.uint64_data or t.string_data)


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


def _check_weight_shapes(graph: OpGraph, weights: Mapping[str, np.ndarray], source: str) -> None:
    """Every initializer the reader turned into a weight has the shape its op needs for the input it gets
    (a Conv weight for another channel count is refused, as onnxruntime refuses it)."""
    for node in graph.nodes:
        for slot, tname in node.params.items():
            arr = weights.get(tname)
            if arr is not None and tuple(arr.shape) != tuple(graph.tensor(tname).shape):
                raise ShapeError(f"{slot} {tname!r} has shape {list(arr.shape)}, but for its input "
                                 f"{[list(graph.tensor(t).shape) for t in node.inputs]} the op needs "
                                 f"{list(graph.tensor(tname).shape)}", source=source, where=f"node {node.name!r} ({node.op})")


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
