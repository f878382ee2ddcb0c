"""Fold "add / multiply by a constant" into the weights of the op that produces the other operand.

An optimization, not a requirement: real exports add biases as separate ops (MatMul + Add), scale
attention queries by 1/sqrt(d), normalize with Sub/Div; where the other operand comes from a conv,
linear or batchnorm (a scalar scale also through reshapes and transposes), the constant becomes its
bias or scale. What cannot be folded (a constant added to a graph input, a per-position bias, an operand
shared with other consumers, a scale on a matmul of two activations) stays an elementwise op whose
constant operand is a ``constant`` node.
"""

from __future__ import annotations

import numpy as np

from hwsim.frontends.onnx_context import ADD_CONST, MUL_CONST, ProtoNode, ReadContext, Shape

#: ops a scalar scale passes through unchanged (views and pure data movement)
_SCALE_TRANSPARENT = {"reshape", "flatten", "transpose", "identity", "dropout"}


def _per_channel(value: np.ndarray, out_shape: Shape, axis: int) -> np.ndarray | None:
    """The constant as a vector over ``axis`` of ``out_shape``, if it varies only along that axis and
    broadcasting it does not enlarge the tensor."""
    rank = len(out_shape)
    if value.ndim > rank:
        return None
    padded = value.reshape((1,) * (rank - value.ndim) + value.shape)
    if any(d != 1 for i, d in enumerate(padded.shape) if i != axis) or padded.shape[axis] not in (1, out_shape[axis]):
        return None
    return np.broadcast_to(padded.reshape(-1), (out_shape[axis],)).astype(np.float32)


def resolve_constant_operands(ctx: ReadContext) -> None:
    """Fold every pending add/mul-by-constant into the conv / linear / batchnorm that produces its input,
    then remove it (its input's producer now writes its output tensor)."""
    producer = {t: pn for pn in ctx.nodes for t in pn.outputs}
    uses: dict[str, int] = {}
    for pn in ctx.nodes:
        for t in pn.inputs:
            uses[t] = uses.get(t, 0) + 1
    for t in ctx.graph_outputs:
        uses[t] = uses.get(t, 0) + 1
    for pn in [p for p in ctx.nodes if p.op in (ADD_CONST, MUL_CONST)]:
        x, out = pn.inputs[0], pn.outputs[0]
        value: np.ndarray = pn.attrs["value"]
        kind = "add" if pn.op == ADD_CONST else "mul"
        try:
            _fold(ctx, pn, producer, uses, value, kind)
        except _NotFoldable:
            neutral = np.all(value == (0.0 if kind == "add" else 1.0)) and ctx.shapes.get(out) == ctx.shapes.get(x)
            if not neutral:  # stays an elementwise op with a constant operand
                _keep_as_op(ctx, pn)
                continue
            # x + 0 or x * 1 where nothing can absorb it: drop it (or keep an identity below)
        last = producer.get(x)
        if last is None or uses.get(x, 0) != 1:  # a neutral constant on a graph input or shared tensor
            pn.op, pn.attrs = "identity", {}
            continue
        last.outputs[last.outputs.index(x)] = out
        producer[out] = last
        del producer[x]
        ctx.nodes.remove(pn)


class _NotFoldable(Exception):
    """The constant cannot be absorbed by the producer of the other operand (the reason is the message)."""


def _keep_as_op(ctx: ReadContext, pn: ProtoNode) -> None:
    """The pending node becomes its elementwise op, the constant a ``constant`` node operand."""
    const_out = ctx.constant(pn.origin, pn.attrs["const"])
    inputs = [pn.inputs[0], const_out] if pn.attrs["const_index"] == 1 else [const_out, pn.inputs[0]]
    pn.op, pn.inputs, pn.attrs = pn.attrs["generic"], inputs, {}


def _fold(ctx: ReadContext, pn: ProtoNode, producer: dict[str, ProtoNode], uses: dict[str, int],
          value: np.ndarray, kind: str) -> None:
    c_name = pn.attrs["const"]

    def fail(reason: str) -> _NotFoldable:
        return _NotFoldable(reason)

    t = pn.inputs[0]
    node = producer.get(t)
    if node is None:
        raise fail(f"the other operand {t!r} is a graph input")
    if uses.get(t, 0) != 1:
        raise fail(f"the other operand {t!r} is also used elsewhere")
    scalar = value.size == 1
    # a scalar scale passes through views (attention's q * 1/sqrt(d) after a reshape/transpose of q)
    while kind == "mul" and scalar and node.op in _SCALE_TRANSPARENT:
        t = node.inputs[0]
        if uses.get(t, 0) != 1 or t not in producer:
            break
        node = producer[t]
    if node.op not in ("conv2d", "linear", "batchnorm"):
        raise fail(f"the other operand comes from a {node.op} node ({node.name!r})")
    out_shape = ctx.shapes.get(node.outputs[0])
    if out_shape is None:
        raise fail(f"the shape of {node.outputs[0]!r} is unknown")
    axis = len(out_shape) - 1 if node.op == "linear" else 1
    if scalar:
        vec: np.ndarray | None = np.full(out_shape[axis], float(value.reshape(-1)[0]), np.float32)
    else:
        same = ctx.shapes.get(pn.outputs[0]) == out_shape
        vec = _per_channel(value, out_shape, axis) if same else None
    if vec is None:
        raise fail(f"its shape {list(value.shape)} is not one value per channel of {node.op} {node.name!r} "
                   f"(output {list(out_shape)})")
    w = ctx.weights
    if kind == "add":
        slot = "beta" if node.op == "batchnorm" else "bias"
        if slot in node.params:
            w[node.params[slot]] = w[node.params[slot]] + vec
        else:
            named = c_name if ctx.consts[c_name].size == vec.size else ""
            node.params[slot] = ctx.weight(named, f"{node.name}.{slot}", vec)
            node.attrs["bias"] = True
        return
    if node.op == "batchnorm":
        for slot in ("gamma", "beta"):
            w[node.params[slot]] = w[node.params[slot]] * vec
        return
    wname = node.params["weight"]
    w[wname] = w[wname] * vec.reshape((-1,) + (1,) * (w[wname].ndim - 1))
    if "bias" in node.params:
        w[node.params["bias"]] = w[node.params["bias"]] * vec
