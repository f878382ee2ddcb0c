"""Ops of decoder-only language models: RMSNorm, rotary position embedding, the in-place KV-cache
append and the causal mask of prefill attention (the token embedding lookup is ``embedding`` in
``hwsim.ir.opdefs.indexing``).

Attention itself is built from the generic ops (``matmul``, ``softmax``, ``reshape``, ``transpose``):
grouped-query attention reshapes the query heads of one KV group onto the row axis, so one batched
matmul per KV head covers the whole group (no copy of K or V per query head). The KV cache is a graph
input (a state tensor); ``kv_append`` joins the new token's K or V to it *in place*: the producer of
the new row writes it straight into the cache's next slot, so the op itself moves nothing (a view).
K is cached transposed ([B, H, d, L]) so that Q x K^T reads it as the right-hand operand directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, ParamSlot, register_op
from hwsim.ir.opdefs._attrs import need_rank, norm_axis, numel, only, positive

if TYPE_CHECKING:
    import numpy as np

Shape = tuple[int, ...]


def _same(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(in_shapes[0])]


def rope_tables(positions: np.ndarray, rotary_dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin [n, rotary_dim] for the given positions (frequencies base^(-2i/rotary_dim), repeated):
    the definition of ``rope``'s angles, shared by its kernel and the ONNX writer."""
    import numpy as np  # values only: shape inference and counting of these ops never import numpy

    inv = base ** (-np.arange(0, rotary_dim, 2, dtype=np.float64) / rotary_dim)
    ang = positions.astype(np.float64)[:, None] * inv[None, :]
    ang = np.concatenate([ang, ang], axis=-1)
    return np.cos(ang), np.sin(ang)


# --- rmsnorm ---------------------------------------------------------------------------------------

def normalize_rms(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"eps"}, "rmsnorm")
    return {"eps": float(attrs.get("eps", 1e-6))}


def rms_params(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Shape]:
    return {"gamma": (in_shapes[0][-1],)}


def count_rms(c: CountInput) -> OpCounts:
    n = numel(c.out_shapes[0])
    rows = n // c.out_shapes[0][-1]
    # square (mul), sum (add), normalize (mul), scale (mul); one mean (div) and rsqrt per row
    return OpCounts(arith={"mul": 3 * n, "add": n, "div": rows, "sqrt": rows})


# --- rotary position embedding ---------------------------------------------------------------------

def normalize_rope(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"rotary_dim", "base", "offset"}, "rope")
    need_rank(in_shapes[0], 4, "rope ([batch, heads, tokens, head_dim])")
    d = in_shapes[0][-1]
    rot = int(attrs.get("rotary_dim", d))
    if rot < 2 or rot > d or rot % 2:
        raise ShapeError(f"rope rotary_dim must be even and in [2, {d}], got {rot}")
    offset = int(attrs.get("offset", 0))
    if offset < 0:
        raise ShapeError(f"rope offset (past tokens) must be >= 0, got {offset}")
    return {"rotary_dim": rot, "base": float(attrs.get("base", 10000.0)), "offset": offset}


def count_rope(c: CountInput) -> OpCounts:
    rows = numel(c.out_shapes[0]) // c.out_shapes[0][-1]
    rot = rows * c.attrs["rotary_dim"]
    # x * cos + rotate_half(x) * sin on the rotated part (cos/sin from a table: one read each)
    return OpCounts(arith={"mul": 2 * rot, "add": rot})


# --- KV-cache append -------------------------------------------------------------------------------

def normalize_kv_append(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"axis"}, "kv_append")
    cache, new = in_shapes
    if len(cache) != len(new):
        raise ShapeError(f"kv_append: cache {list(cache)} and new entries {list(new)} differ in rank")
    axis = norm_axis(int(attrs.get("axis", -2)), len(cache), "kv_append")
    for i, (a, b) in enumerate(zip(cache, new)):
        if i != axis and a != b:
            raise ShapeError(f"kv_append: cache {list(cache)} and new entries {list(new)} differ off axis {axis}")
    return {"axis": axis}


def infer_kv_append(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    cache, new = in_shapes
    ax = attrs["axis"]
    return [tuple(cache[:ax]) + (cache[ax] + new[ax],) + tuple(cache[ax + 1:])]


def count_nothing(c: CountInput) -> OpCounts:
    return OpCounts()


# --- causal mask -----------------------------------------------------------------------------------

def normalize_mask(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"queries", "offset"}, "causal_mask")
    rows, cols = in_shapes[0][-2], in_shapes[0][-1]
    q = positive(int(attrs.get("queries", rows)), "causal_mask queries")
    if rows % q:
        raise ShapeError(f"causal_mask: {rows} score rows are not a whole number of groups of {q} queries")
    offset = int(attrs.get("offset", cols - q))
    if offset < 0 or offset + q != cols:
        raise ShapeError(f"causal_mask: {q} queries after {offset} past tokens need {offset + q} key columns, "
                         f"the scores have {cols}")
    return {"queries": q, "offset": offset}


def count_mask(c: CountInput) -> OpCounts:
    return OpCounts(arith={"cmp": numel(c.out_shapes[0])})


register_op(OpDef(
    name="rmsnorm", group=OpGroup.NORM, doc="root-mean-square normalization over the last axis, scaled by gamma",
    infer=_same, count=count_rms, normalize=normalize_rms, param_shapes=rms_params,
    params=(ParamSlot("gamma", "ones"),), attr_names=frozenset({"eps"}),
))
register_op(OpDef(
    name="rope", group=OpGroup.ELEMENTWISE,
    doc="rotary position embedding (rotate-half form) of the first rotary_dim features of [B, H, n, d], "
        "positions offset..offset+n-1",
    infer=_same, count=count_rope, normalize=normalize_rope, attr_names=frozenset({"rotary_dim", "base", "offset"}),
))
register_op(OpDef(
    name="kv_append", group=OpGroup.VIEW,
    doc="the KV cache with the new entries appended along axis, in place (the new rows are written into the "
        "cache's free slots by their producer: no copy of the cache)",
    infer=infer_kv_append, count=count_nothing, normalize=normalize_kv_append, arity=(2, 2),
    attr_names=frozenset({"axis"}),
))
register_op(OpDef(
    name="causal_mask", group=OpGroup.ACTIVATION,
    doc="attention scores with future keys set to -inf: row r (query r mod queries) sees columns <= offset + r "
        "mod queries",
    infer=_same, count=count_mask, normalize=normalize_mask, attr_names=frozenset({"queries", "offset"}),
))
