"""ONNX op -> hwsim node converters for the generic ops: unary math, reductions, indexing (Gather, Slice,
Expand, Tile), Where and Einsum written as a matrix product. Registered into ``onnx_ops.CONVERTERS``.

Index and shape operands (Slice starts/ends, Expand's shape, Gather indices on an activation) must be
constants after folding: hwsim shapes are static.
"""

from __future__ import annotations

import math
import re

import numpy as np

from hwsim.frontends.onnx_context import ReadContext
from hwsim.frontends.onnx_fold import OnnxNode
from hwsim.frontends.onnx_ops import _converter

_UNARY = {"Sqrt": "sqrt", "Reciprocal": "reciprocal", "Exp": "exp", "Log": "log", "Erf": "erf", "Neg": "neg",
          "Abs": "abs", "Floor": "floor"}


@_converter(*_UNARY)
def _unary(ctx: ReadContext, node: OnnxNode) -> None:
    ctx.emit(node, _UNARY[node.op_type], [ctx.act(node, 0)], [node.outputs[0]])


@_converter("HardSigmoid")
def _hardsigmoid(ctx: ReadContext, node: OnnxNode) -> None:
    ctx.emit(node, "hardsigmoid", [ctx.act(node, 0)], [node.outputs[0]],
             {"alpha": float(node.attr("alpha", 0.2)), "beta": float(node.attr("beta", 0.5))})


# --- reductions ------------------------------------------------------------------------------------

_REDUCE = {"ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max",
           "ReduceMin": "reduce_min", "ReduceL1": "reduce_l1", "ReduceL2": "reduce_l2",
           "ReduceSumSquare": "reduce_sum_square"}


@_converter(*_REDUCE)
def _reduce(ctx: ReadContext, node: OnnxNode) -> None:
    """Axes from the attribute (opset < 18; ReduceSum from 13 takes an input) or the second input.
    ReduceMean over H and W of NCHW is global average pooling (the op pooling passes and cost rules
    know; without keepdims followed by a flatten)."""
    x = ctx.act(node, 0)
    rank = len(ctx.shape(node, x))
    raw = ctx.need_values(node, 1, f"the {node.op_type} axes") if node.input(1) else node.attr("axes")
    keep = bool(node.attr("keepdims", 1))
    if raw is None or np.asarray(raw).size == 0:
        if node.attr("noop_with_empty_axes", 0):
            ctx.emit(node, "identity", [x], [node.outputs[0]])
            return
        axes = list(range(rank))
    else:
        axes = sorted({int(a) % rank for a in np.asarray(raw).reshape(-1)})
    if node.op_type == "ReduceMean" and rank == 4 and axes == [2, 3]:
        if keep:
            ctx.emit(node, "global_avgpool", [x], [node.outputs[0]])
            return
        pooled = ctx.tmp(f"{node.outputs[0]}/pooled")
        ctx.emit(node, "global_avgpool", [x], [pooled])
        ctx.emit(node, "flatten", [pooled], [node.outputs[0]], {"axis": 1}, name=ctx.node_name(node, "/flatten"))
        return
    ctx.emit(node, _REDUCE[node.op_type], [x], [node.outputs[0]], {"axes": axes, "keepdims": keep})


@_converter("ArgMax")
def _argmax(ctx: ReadContext, node: OnnxNode) -> None:
    if node.attr("select_last_index", 0):
        raise ctx.error(node, "ArgMax with select_last_index=1 is not supported (hwsim takes the first maximum)")
    ctx.emit(node, "argmax", [ctx.act(node, 0)], [node.outputs[0]],
             {"axis": int(node.attr("axis", 0)), "keepdims": bool(node.attr("keepdims", 1))})


# --- indexing --------------------------------------------------------------------------------------

@_converter("Gather")
def _gather(ctx: ReadContext, node: OnnxNode) -> None:
    """A constant table indexed by activations along axis 0 is an embedding lookup; an activation indexed
    by constant (0-d or 1-d) indices is a gather."""
    data, idx = node.input(0), node.input(1)
    axis = int(node.attr("axis", 0))
    if ctx.is_const(data) and not ctx.is_const(idx):
        table = ctx.float_array(node, ctx.consts[data], "the Gather table")
        if table.ndim != 2 or axis != 0:
            raise ctx.error(node, f"Gather from a constant of shape {list(table.shape)} along axis {axis}: hwsim's "
                                  "embedding looks up rows (axis 0) of a matrix")
        name = ctx.node_name(node)
        weight = ctx.weight(data, f"{name}.weight", table)
        ctx.emit(node, "embedding", [ctx.act(node, 1)], [node.outputs[0]],
                 {"num_embeddings": int(table.shape[0]), "embedding_dim": int(table.shape[1])},
                 {"weight": weight}, name=name)
        return
    indices = ctx.need_values(node, 1, "the Gather indices")
    if indices.ndim > 1:
        raise ctx.error(node, f"Gather with {indices.ndim}-d indices is not supported (0-d or 1-d)")
    value = int(indices) if indices.ndim == 0 else [int(i) for i in indices]
    ctx.emit(node, "gather", [ctx.act(node, 0)], [node.outputs[0]], {"axis": axis, "indices": value})


def _clamp_int(v: int) -> int:
    """ONNX writes 'to the end' as INT64_MAX; any bound beyond 2**31 is clamped by the shape rule anyway."""
    return int(max(min(v, 2**31), -(2**31)))


@_converter("Slice")
def _slice(ctx: ReadContext, node: OnnxNode) -> None:
    starts = [_clamp_int(v) for v in ctx.need_values(node, 1, "the Slice starts").reshape(-1)]
    ends = [_clamp_int(v) for v in ctx.need_values(node, 2, "the Slice ends").reshape(-1)]
    attrs: dict[str, object] = {"starts": starts, "ends": ends}
    if node.input(3):
        attrs["axes"] = [int(a) for a in ctx.need_values(node, 3, "the Slice axes").reshape(-1)]
    if node.input(4):
        attrs["steps"] = [_clamp_int(v) for v in ctx.need_values(node, 4, "the Slice steps").reshape(-1)]
    ctx.emit(node, "slice", [ctx.act(node, 0)], [node.outputs[0]], attrs)


@_converter("Expand")
def _expand(ctx: ReadContext, node: OnnxNode) -> None:
    shape = [int(d) for d in ctx.need_values(node, 1, "the Expand shape").reshape(-1)]
    ctx.emit(node, "expand", [ctx.operand(node, 0)], [node.outputs[0]], {"shape": shape})


@_converter("Tile")
def _tile(ctx: ReadContext, node: OnnxNode) -> None:
    reps = [int(d) for d in ctx.need_values(node, 1, "the Tile repeats").reshape(-1)]
    ctx.emit(node, "tile", [ctx.operand(node, 0)], [node.outputs[0]], {"repeats": reps})


@_converter("Where")
def _where(ctx: ReadContext, node: OnnxNode) -> None:
    if all(ctx.is_const(t) for t in node.inputs):
        raise ctx.error(node, "every operand of Where is constant but it was not folded")
    ctx.emit(node, "where", [ctx.operand(node, i) for i in range(3)], [node.outputs[0]])


# --- einsum ----------------------------------------------------------------------------------------

@_converter("Einsum")
def _einsum(ctx: ReadContext, node: OnnxNode) -> None:
    """A two-operand Einsum that is a (batched) matrix product: each index is a batch index (in both
    operands and the output), a contracted one (in both, not the output) or a free index of one operand.
    Written as transpose -> reshape -> matmul -> reshape -> transpose."""
    eq = str(node.attr("equation", "")).replace(" ", "")
    m = re.fullmatch(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]*)", eq)
    if m is None or len(node.inputs) != 2:
        raise ctx.error(node, f"Einsum {eq!r}: only two-operand equations with an explicit output "
                              "('ab,bc->ac') are supported")
    a_ix, b_ix, out_ix = m.groups()
    if any(len(set(s)) != len(s) for s in (a_ix, b_ix, out_ix)) or set(out_ix) - set(a_ix + b_ix):
        raise ctx.error(node, f"Einsum {eq!r}: repeated (diagonal) or unknown output indices are not a matmul")
    batch = [c for c in out_ix if c in a_ix and c in b_ix]
    contract = [c for c in a_ix if c in b_ix and c not in out_ix]
    free_a = [c for c in a_ix if c not in b_ix]
    free_b = [c for c in b_ix if c not in a_ix]
    if any(c not in out_ix for c in free_a + free_b):
        raise ctx.error(node, f"Einsum {eq!r} sums over an index of one operand only: not a matmul")
    a, b = ctx.operand(node, 0), ctx.operand(node, 1)
    sa = dict(zip(a_ix, _operand_shape(ctx, node, 0)))
    sb = dict(zip(b_ix, _operand_shape(ctx, node, 1)))
    if any(sa[c] != sb[c] for c in batch + contract):
        raise ctx.error(node, f"Einsum {eq!r}: shared indices differ in size ({sa} vs {sb})")
    name = ctx.node_name(node)
    size = {**sa, **sb}

    def arrange(t: str, ix: str, order: list[str], shape: list[int], tag: str) -> str:
        perm = [ix.index(c) for c in order]
        if perm != list(range(len(ix))):
            t2 = ctx.tmp(f"{name}/{tag}_t")
            ctx.emit(node, "transpose", [t], [t2], {"perm": perm}, name=ctx.node_name(node, f"/{tag}_transpose"))
            t = t2
        if [size[c] for c in order] != shape:
            t2 = ctx.tmp(f"{name}/{tag}_r")
            ctx.emit(node, "reshape", [t], [t2], {"shape": shape}, name=ctx.node_name(node, f"/{tag}_reshape"))
            t = t2
        return t

    bsz = [size[c] for c in batch]
    m_, k_, n_ = (math.prod(size[c] for c in free_a), math.prod(size[c] for c in contract),
                  math.prod(size[c] for c in free_b))
    lhs = arrange(a, a_ix, batch + free_a + contract, bsz + [m_, k_], "a")
    rhs = arrange(b, b_ix, batch + contract + free_b, bsz + [k_, n_], "b")
    prod_ix = batch + free_a + free_b
    want = [size[c] for c in prod_ix]
    direct = [c for c in out_ix] == prod_ix and bsz + [m_, n_] == want
    prod = node.outputs[0] if direct else ctx.tmp(f"{name}/product")
    ctx.emit(node, "matmul", [lhs, rhs], [prod], name=name)
    if direct:
        return
    shaped = prod
    if bsz + [m_, n_] != want:
        shaped = ctx.tmp(f"{name}/unflat") if prod_ix != list(out_ix) else node.outputs[0]
        ctx.emit(node, "reshape", [prod], [shaped], {"shape": want}, name=ctx.node_name(node, "/out_reshape"))
    if prod_ix != list(out_ix):
        ctx.emit(node, "transpose", [shaped], [node.outputs[0]], {"perm": [prod_ix.index(c) for c in out_ix]},
                 name=ctx.node_name(node, "/out_transpose"))


def _operand_shape(ctx: ReadContext, node: OnnxNode, i: int) -> tuple[int, ...]:
    t = node.input(i)
    return tuple(ctx.consts[t].shape) if ctx.is_const(t) else ctx.shape(node, t)

