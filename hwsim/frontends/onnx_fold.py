"""ONNX-level rewrites before conversion: constant folding and pattern fusion.

Exporters spell shape arithmetic as small subgraphs (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) and
some hwsim ops as several ONNX ops (GELU as Div/Erf/Add/Mul/Mul, SiLU as Sigmoid/Mul, channel shuffle as
Reshape/Transpose/Reshape). Folding evaluates every node whose inputs are all known constants (shapes
are static once the batch is fixed); fusion replaces the multi-op spellings with one node the converters
know (``Gelu``, ``fused.Silu``, ``fused.ChannelShuffle``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import AttributeProto, helper

from hwsim.errors import ModelFormatError
from hwsim.frontends.onnx_tensors import tensor_array

Shape = tuple[int, ...]


@dataclass(frozen=True)
class OnnxNode:
    """A decoded ONNX node: attributes as Python values (strings decoded, tensors as arrays)."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    domain: str = ""
    index: int = -1  # position in the file's node list (errors name unnamed nodes by it)

    @property
    def label(self) -> str:
        """How messages name the node: its name, or its index and op type when it has none."""
        return f"node {self.name!r} ({self.op_type})" if self.name else f"node #{self.index} ({self.op_type}, unnamed)"

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def input(self, i: int) -> str:
        """Input ``i`` or '' when absent (ONNX marks skipped optional inputs with '')."""
        return self.inputs[i] if i < len(self.inputs) else ""


def _f32(value: float) -> float:
    """A float32 attribute as the shortest decimal that reads back to it (1e-05, not 9.99999974e-06)."""
    return float(str(np.float32(value)))


def _label(proto: Any, index: int) -> str:
    return f"node {proto.name!r} ({proto.op_type})" if proto.name else f"node #{index} ({proto.op_type}, unnamed)"


def decode_node(proto: Any, index: int) -> OnnxNode:
    attrs: dict[str, Any] = {}
    for a in proto.attribute:
        v = helper.get_attribute_value(a)
        if a.type == AttributeProto.FLOAT:
            v = _f32(v)
        elif a.type == AttributeProto.FLOATS:
            v = [_f32(x) for x in v]
        elif isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf-8", "replace") for x in v]
        elif hasattr(v, "data_type") and hasattr(v, "dims"):
            v = tensor_array(v, f"the {a.name!r} tensor of {_label(proto, index)}")
        attrs[a.name] = v
    return OnnxNode(proto.name or "", proto.op_type, tuple(proto.input), tuple(proto.output), attrs,
                    proto.domain if proto.domain not in ("ai.onnx",) else "", index)


# --- constant folding ------------------------------------------------------------------------------

Folder = Callable[[OnnxNode, list[Any]], list[np.ndarray]]


def _raw_axes(node: OnnxNode, vals: list[Any]) -> list[int] | None:
    raw = vals[1] if len(vals) > 1 and vals[1] is not None else node.attr("axes")
    return None if raw is None else [int(a) for a in np.asarray(raw).reshape(-1)]


def _unsqueeze(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
    x = np.asarray(vals[0])
    raw = _raw_axes(node, vals) or []
    for a in sorted(a % (x.ndim + len(raw)) for a in raw):
        x = np.expand_dims(x, a)
    return [x]


def _squeeze(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
    x = np.asarray(vals[0])
    raw = _raw_axes(node, vals)
    return [np.squeeze(x, axis=tuple(a % x.ndim for a in raw)) if raw is not None else np.squeeze(x)]


def _slice(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
    x = np.asarray(vals[0])
    starts, ends = np.asarray(vals[1]).reshape(-1), np.asarray(vals[2]).reshape(-1)
    axes = np.asarray(vals[3]).reshape(-1) if len(vals) > 3 and vals[3] is not None else np.arange(len(starts))
    steps = np.asarray(vals[4]).reshape(-1) if len(vals) > 4 and vals[4] is not None else np.ones(len(starts), int)
    index: list[Any] = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        dim = x.shape[int(a)]
        s, e = int(np.clip(s, -dim - 1, dim + 1)), int(np.clip(e, -dim - 1, dim + 1))
        index[int(a) % x.ndim] = slice(s, e, int(st))
    return [x[tuple(index)]]


def _reshape(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
    x, shape = np.asarray(vals[0]), [int(d) for d in np.asarray(vals[1]).reshape(-1)]
    if not node.attr("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x.reshape(shape)]


def _div(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
    a, b = np.asarray(vals[0]), np.asarray(vals[1])
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        return [np.trunc(a / b).astype(np.result_type(a, b))]
    return [np.asarray(a / b, dtype=np.result_type(a, b))]


def _cast(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
    return [np.asarray(vals[0]).astype(helper.tensor_dtype_to_np_dtype(int(node.attr("to"))))]


def _constant_of_shape(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
    value = node.attr("value")
    fill = np.asarray(value).reshape(-1) if value is not None else np.zeros(1, np.float32)
    return [np.full([int(d) for d in np.asarray(vals[0]).reshape(-1)], fill[0], dtype=fill.dtype)]


def _scatter_nd(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
    """ScatterND without reduction: a copy of data with updates written at the index tuples."""
    if node.attr("reduction", "none") != "none":
        raise ValueError("ScatterND with a reduction is not folded")
    out = np.array(vals[0], copy=True)
    idx = np.asarray(vals[1]).astype(np.int64)
    updates = np.asarray(vals[2])
    flat_idx = idx.reshape(-1, idx.shape[-1])
    flat_upd = updates.reshape((flat_idx.shape[0],) + out.shape[idx.shape[-1]:])
    for i, where in enumerate(flat_idx):
        out[tuple(where)] = flat_upd[i]
    return [out]


def _clip(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
    """Bounds from the inputs (opset >= 11; an absent one is '') or the attributes (older opsets)."""
    x = np.asarray(vals[0])
    lo = np.asarray(vals[1]) if len(vals) > 1 and vals[1] is not None else node.attr("min")
    hi = np.asarray(vals[2]) if len(vals) > 2 and vals[2] is not None else node.attr("max")
    return [np.clip(x, lo, hi).astype(x.dtype, copy=False)]


def _binary(fn: Callable[[Any, Any], Any]) -> Folder:
    def fold(node: OnnxNode, vals: list[Any]) -> list[np.ndarray]:
        a, b = np.asarray(vals[0]), np.asarray(vals[1])
        return [np.asarray(fn(a, b)).astype(np.result_type(a, b), copy=False)]
    return fold


def _unary(fn: Callable[[Any], Any]) -> Folder:
    return lambda node, vals: [np.asarray(fn(np.asarray(vals[0])))]


FOLDERS: dict[str, Folder] = {
    "Identity": lambda n, v: [np.asarray(v[0])],
    "Cast": _cast,
    "Gather": lambda n, v: [np.take(np.asarray(v[0]), np.asarray(v[1]).astype(np.int64), axis=int(n.attr("axis", 0)))],
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda n, v: [np.concatenate([np.atleast_1d(np.asarray(x)) for x in v], axis=int(n.attr("axis")))],
    "Slice": _slice,
    "Reshape": _reshape,
    "Transpose": lambda n, v: [np.transpose(np.asarray(v[0]), n.attr("perm"))],
    "ConstantOfShape": _constant_of_shape,
    "Add": _binary(np.add), "Sub": _binary(np.subtract), "Mul": _binary(np.multiply), "Div": _div,
    "Pow": _binary(np.power), "Min": _binary(np.minimum), "Max": _binary(np.maximum),
    "Equal": lambda n, v: [np.equal(np.asarray(v[0]), np.asarray(v[1]))],
    "Less": lambda n, v: [np.less(np.asarray(v[0]), np.asarray(v[1]))],
    "Greater": lambda n, v: [np.greater(np.asarray(v[0]), np.asarray(v[1]))],
    "Where": lambda n, v: [np.where(np.asarray(v[0]), np.asarray(v[1]), np.asarray(v[2]))],
    "Mod": lambda n, v: [np.fmod(np.asarray(v[0]), np.asarray(v[1])) if n.attr("fmod", 0)
                         else np.mod(np.asarray(v[0]), np.asarray(v[1]))],
    "And": _binary(np.logical_and), "Or": _binary(np.logical_or),
    "LessOrEqual": lambda n, v: [np.less_equal(np.asarray(v[0]), np.asarray(v[1]))],
    "GreaterOrEqual": lambda n, v: [np.greater_equal(np.asarray(v[0]), np.asarray(v[1]))],
    "Sign": _unary(np.sign), "Exp": _unary(np.exp), "Log": _unary(np.log),
    "Tile": lambda n, v: [np.tile(np.asarray(v[0]), [int(r) for r in np.asarray(v[1]).reshape(-1)])],
    "ScatterND": _scatter_nd,
    "Neg": _unary(np.negative), "Sqrt": _unary(np.sqrt), "Floor": _unary(np.floor), "Ceil": _unary(np.ceil),
    "Abs": _unary(np.abs), "Not": _unary(np.logical_not), "Reciprocal": _unary(np.reciprocal),
    "Range": lambda n, v: [np.arange(np.asarray(v[0]), np.asarray(v[1]), np.asarray(v[2]))],
    "ReduceProd": lambda n, v: [np.prod(np.asarray(v[0]), keepdims=bool(n.attr("keepdims", 1)))],
    "Clip": _clip,
    "Relu": _unary(lambda x: np.maximum(x, 0).astype(x.dtype, copy=False)),
    "Sigmoid": _unary(lambda x: (1 / (1 + np.exp(-x))).astype(x.dtype, copy=False)),
    "Tanh": _unary(np.tanh),
    "MatMul": _binary(np.matmul),
    "Expand": lambda n, v: [np.asarray(v[0]) * np.ones([int(d) for d in np.asarray(v[1]).reshape(-1)],
                                                       dtype=np.asarray(v[0]).dtype)],
}


def _constant_value(node: OnnxNode) -> np.ndarray:
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in node.attrs:
            v = node.attrs[key]
            dtype = np.float32 if key.startswith("value_float") else (np.int64 if key.startswith("value_int") else None)
            return np.asarray(v, dtype=dtype) if dtype else np.asarray(v)
    raise ValueError(f"Constant node {node.name!r} has no supported value attribute ({sorted(node.attrs)})")


#: the largest constant folding may create (2**24 elements, 64 MB of float32): shape arithmetic and masks
#: are far smaller; a file declaring more (ConstantOfShape of [100000, 100000]) is refused before allocating
MAX_FOLDED_ELEMENTS = 1 << 24


def _declared_elements(node: OnnxNode, vals: list[Any]) -> int:
    """How many elements folding ``node`` would allocate, computed from its inputs without allocating."""
    def dims(v: Any) -> list[int]:
        return [int(d) for d in np.asarray(v).reshape(-1)]

    op = node.op_type
    if op == "ConstantOfShape":
        return math.prod(max(d, 0) for d in dims(vals[0]))
    if op == "Expand":
        src, tgt = list(np.shape(vals[0])), dims(vals[1])
        rank = max(len(src), len(tgt))
        src, tgt = [1] * (rank - len(src)) + src, [1] * (rank - len(tgt)) + tgt
        return math.prod(max(a, b, 0) for a, b in zip(src, tgt))
    if op == "Tile":
        return math.prod(np.shape(vals[0])) * math.prod(max(r, 0) for r in dims(vals[1]))
    if op == "Range":
        start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in vals[:3])
        return 0 if delta == 0 else max(0, math.ceil((limit - start) / delta))
    if op in ("Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Equal", "Less", "Greater", "Where", "And", "Or",
              "Mod", "LessOrEqual", "GreaterOrEqual"):
        shapes = [list(np.shape(v)) for v in vals if v is not None]
        rank = max(len(s) for s in shapes)
        padded = [[1] * (rank - len(s)) + s for s in shapes]
        return math.prod(max(col) for col in zip(*padded)) if rank else 1
    if op == "MatMul":
        a, b = list(np.shape(vals[0])), list(np.shape(vals[1]))
        m = a[-2] if len(a) >= 2 else 1
        n = b[-1] if len(b) >= 2 else 1
        batch_a, batch_b = a[:-2], b[:-2]
        rank = max(len(batch_a), len(batch_b))
        batch = [max(x, y) for x, y in zip([1] * (rank - len(batch_a)) + batch_a, [1] * (rank - len(batch_b)) + batch_b)]
        return math.prod(batch) * m * n
    return 0


def fold_constants(nodes: Sequence[OnnxNode], consts: dict[str, np.ndarray],
                   shapes: Mapping[str, Shape]) -> list[OnnxNode]:
    """Evaluate nodes whose inputs are all constant (adding their outputs to ``consts``); return the rest.
    A fold that would allocate more than ``MAX_FOLDED_ELEMENTS`` is refused (ModelFormatError) first."""
    kept: list[OnnxNode] = []
    for node in nodes:
        if node.domain:
            kept.append(node)
            continue
        if node.op_type == "Constant":
            try:
                consts[node.outputs[0]] = _constant_value(node)
            except ValueError:
                kept.append(node)
            continue
        if node.op_type in ("Shape", "Size") and node.inputs and node.inputs[0] in shapes:
            shape = shapes[node.inputs[0]]
            if node.op_type == "Size":
                consts[node.outputs[0]] = np.asarray(math.prod(shape), np.int64)
            else:
                start, end = node.attr("start", 0), node.attr("end", None)
                consts[node.outputs[0]] = np.asarray(shape[start:end], np.int64)
            continue
        present = [t for t in node.inputs if t]
        if node.op_type in FOLDERS and present and all(t in consts for t in present) and len(node.outputs) == 1:
            vals = [consts[t] if t else None for t in node.inputs]
            try:
                size = _declared_elements(node, vals)
            except (ValueError, TypeError, IndexError, OverflowError):
                size = 0
            if size > MAX_FOLDED_ELEMENTS:
                raise ModelFormatError(f"folding this node would create a constant of {size:,} elements (limit "
                                       f"{MAX_FOLDED_ELEMENTS:,}); refused before allocating", where=node.label)
            try:
                with np.errstate(all="ignore"):
                    value = FOLDERS[node.op_type](node, vals)[0]
            except (ValueError, TypeError, IndexError, OverflowError, MemoryError):
                kept.append(node)  # leave it to the converter, which reports what is wrong
                continue
            if np.asarray(value).size > MAX_FOLDED_ELEMENTS:
                raise ModelFormatError(f"folding this node created a constant of {np.asarray(value).size:,} elements "
                                       f"(limit {MAX_FOLDED_ELEMENTS:,})", where=node.label)
            consts[node.outputs[0]] = value
            continue
        kept.append(node)
    return kept


# --- pattern fusion --------------------------------------------------------------------------------

class _Index:
    """Producer and consumers of each tensor among the remaining nodes."""

    def __init__(self, nodes: Sequence[OnnxNode], graph_outputs: Sequence[str]) -> None:
        self.producer = {t: n for n in nodes for t in n.outputs}
        self.consumers: dict[str, list[OnnxNode]] = {}
        for n in nodes:
            for t in n.inputs:
                if t:
                    self.consumers.setdefault(t, []).append(n)
        self.outputs = set(graph_outputs)

    def only_consumer(self, tensor: str) -> OnnxNode | None:
        users = self.consumers.get(tensor, [])
        return users[0] if len(users) == 1 and tensor not in self.outputs else None


def _const_near(consts: Mapping[str, np.ndarray], name: str, value: float) -> bool:
    c = consts.get(name)
    return c is not None and c.size == 1 and bool(np.isclose(float(c.reshape(-1)[0]), value, rtol=1e-4))


def _other(node: OnnxNode, tensor: str) -> str | None:
    if len(node.inputs) != 2 or tensor not in node.inputs:
        return None
    return node.inputs[1] if node.inputs[0] == tensor else node.inputs[0]


def _match_gelu(erf: OnnxNode, ix: _Index, consts: Mapping[str, np.ndarray]) -> tuple[str, str, list[OnnxNode]] | None:
    """x * 0.5 * (1 + erf(x / sqrt 2)) in any association of the two products -> (x, out, nodes)."""
    pre = ix.producer.get(erf.inputs[0])
    if pre is None or ix.only_consumer(erf.inputs[0]) is not erf:
        return None
    if pre.op_type == "Div" and _const_near(consts, pre.inputs[1], math.sqrt(2.0)):
        x = pre.inputs[0]
    elif pre.op_type == "Mul" and len(pre.inputs) == 2 and any(
            _const_near(consts, t, 1 / math.sqrt(2.0)) for t in pre.inputs):
        x = pre.inputs[0] if _const_near(consts, pre.inputs[1], 1 / math.sqrt(2.0)) else pre.inputs[1]
    else:
        return None
    add = ix.only_consumer(erf.outputs[0])
    if add is None or add.op_type != "Add" or not _const_near(consts, _other(add, erf.outputs[0]) or "", 1.0):
        return None
    m1 = ix.only_consumer(add.outputs[0])
    if m1 is None or m1.op_type != "Mul":
        return None
    partner = _other(m1, add.outputs[0])
    if partner == x:  # (x * (1 + erf)) * 0.5
        m2 = ix.only_consumer(m1.outputs[0])
        if m2 is not None and m2.op_type == "Mul" and _const_near(consts, _other(m2, m1.outputs[0]) or "", 0.5):
            return x, m2.outputs[0], [pre, erf, add, m1, m2]
        return None
    if partner is not None and _const_near(consts, partner, 0.5):  # x * ((1 + erf) * 0.5)
        m2 = ix.only_consumer(m1.outputs[0])
        if m2 is not None and m2.op_type == "Mul" and _other(m2, m1.outputs[0]) == x:
            return x, m2.outputs[0], [pre, erf, add, m1, m2]
        return None
    half = ix.producer.get(partner or "")  # (x * 0.5) * (1 + erf)
    if half is not None and half.op_type == "Mul" and ix.only_consumer(half.outputs[0]) is m1:
        if _other(half, x) is not None and _const_near(consts, _other(half, x) or "", 0.5):
            return x, m1.outputs[0], [pre, erf, add, half, m1]
    return None


def _match_silu(sig: OnnxNode, ix: _Index) -> tuple[str, str, list[OnnxNode]] | None:
    mul = ix.only_consumer(sig.outputs[0])
    if mul is not None and mul.op_type == "Mul" and _other(mul, sig.outputs[0]) == sig.inputs[0]:
        return sig.inputs[0], mul.outputs[0], [sig, mul]
    return None


def _match_shuffle(r1: OnnxNode, ix: _Index, shapes: Mapping[str, Shape]) -> tuple[str, str, list[OnnxNode], int] | None:
    """Reshape [N,C,H,W] -> [N,g,C/g,H,W], Transpose (0,2,1,3,4), Reshape back -> channel shuffle of g groups."""
    src, mid = shapes.get(r1.inputs[0]), shapes.get(r1.outputs[0])
    if src is None or mid is None or len(src) != 4 or len(mid) != 5:
        return None
    n, c, h, w = src
    g = mid[1]
    if mid != (n, g, c // g, h, w) or g * (c // g) != c:
        return None
    tr = ix.only_consumer(r1.outputs[0])
    if tr is None or tr.op_type != "Transpose" or list(tr.attr("perm", [])) != [0, 2, 1, 3, 4]:
        return None
    r2 = ix.only_consumer(tr.outputs[0])
    if r2 is None or r2.op_type != "Reshape" or shapes.get(r2.outputs[0]) != src:
        return None
    return r1.inputs[0], r2.outputs[0], [r1, tr, r2], g


def fuse_patterns(nodes: Sequence[OnnxNode], consts: Mapping[str, np.ndarray], shapes: Mapping[str, Shape],
                  graph_outputs: Sequence[str]) -> list[OnnxNode]:
    """Replace multi-op spellings of GELU, SiLU and channel shuffle by single nodes (placed at the last
    replaced node, so the list stays topologically ordered)."""
    ix = _Index(nodes, graph_outputs)
    position = {id(n): i for i, n in enumerate(nodes)}
    replace_at: dict[int, OnnxNode] = {}
    dropped: set[int] = set()
    for node in nodes:
        if node.domain or id(node) in dropped:
            continue
        found: tuple[str, str, list[OnnxNode], dict[str, Any], str] | None = None
        if node.op_type == "Erf" and (m := _match_gelu(node, ix, consts)):
            found = (m[0], m[1], m[2], {}, "Gelu")
        elif node.op_type == "Sigmoid" and (s := _match_silu(node, ix)):
            found = (s[0], s[1], s[2], {}, "fused.Silu")
        elif node.op_type == "Reshape" and (c := _match_shuffle(node, ix, shapes)):
            found = (c[0], c[1], c[2], {"groups": c[3]}, "fused.ChannelShuffle")
        if found is None or any(id(p) in dropped for p in found[2]):
            continue
        x, out, parts, attrs, op = found
        last = max(parts, key=lambda p: position[id(p)])
        name = next((p.name for p in reversed(parts) if p.name), "")
        replace_at[id(last)] = OnnxNode(name, op, (x,), (out,), attrs, index=last.index)
        dropped.update(id(p) for p in parts)
    out_nodes = []
    for node in nodes:
        if id(node) in replace_at:
            out_nodes.append(replace_at[id(node)])
        elif id(node) not in dropped:
            out_nodes.append(node)
    return out_nodes
