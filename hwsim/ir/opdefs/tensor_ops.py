"""Elementwise binary ops with broadcasting, data movement (concat, split, transpose, pad, shuffle,
resize) and free views (reshape, flatten, identity, dropout). Data movement counts ``move`` elements:
no arithmetic, but bytes a device must copy."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, register_op
from hwsim.ir.opdefs._attrs import broadcast_shapes, need_rank, norm_axis, numel, only, positive

Shape = tuple[int, ...]


def _no_attrs(what: str):
    def normalize(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
        only(attrs, set(), what)
        return {}
    return normalize


# --- elementwise -----------------------------------------------------------------------------------

def broadcast_normalizer(what: str) -> Callable[[dict[str, Any], Sequence[Shape]], dict[str, Any]]:
    """Attribute normalizer of an attribute-less elementwise op: refuses operands that do not broadcast."""
    def normalize(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
        only(attrs, set(), what)
        try:
            broadcast_shapes(*in_shapes)
        except ValueError:
            raise ShapeError(f"{what}: shapes {[list(s) for s in in_shapes]} do not broadcast") from None
        return {}
    return normalize


def infer_broadcast(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [broadcast_shapes(*in_shapes)]


def _count_binary(kind: str):
    def count(c: CountInput) -> OpCounts:
        return OpCounts(arith={kind: numel(c.out_shapes[0]) * (len(c.in_shapes) - 1)})
    return count


register_op(OpDef(name="add", group=OpGroup.ELEMENTWISE, doc="elementwise sum with broadcasting (residuals)",
                  infer=infer_broadcast, count=_count_binary("add"), normalize=broadcast_normalizer("add"), arity=(2, None)))
register_op(OpDef(name="mul", group=OpGroup.ELEMENTWISE, doc="elementwise product with broadcasting (gating)",
                  infer=infer_broadcast, count=_count_binary("mul"), normalize=broadcast_normalizer("mul"), arity=(2, 2)))


# --- data movement ---------------------------------------------------------------------------------

def _moves(c: CountInput) -> OpCounts:
    return OpCounts(arith={"move": sum(numel(s) for s in c.out_shapes)})


def normalize_concat(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"axis"}, "concat")
    rank = len(in_shapes[0])
    axis = norm_axis(int(attrs.get("axis", 1)), rank, "concat")
    for s in in_shapes[1:]:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, in_shapes[0])) if i != axis):
            raise ShapeError(f"concat on axis {axis}: shapes {[list(x) for x in in_shapes]} differ off that axis")
    return {"axis": axis}


def infer_concat(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    axis = attrs["axis"]
    out = list(in_shapes[0])
    out[axis] = sum(s[axis] for s in in_shapes)
    return [tuple(out)]


def normalize_split(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"axis", "sizes"}, "split")
    axis = norm_axis(int(attrs.get("axis", 1)), len(in_shapes[0]), "split")
    sizes = attrs.get("sizes")
    if not isinstance(sizes, list) or not sizes or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ShapeError("split needs 'sizes', a non-empty list of positive ints")
    if sum(sizes) != in_shapes[0][axis]:
        raise ShapeError(f"split sizes {sizes} sum to {sum(sizes)}, but axis {axis} has {in_shapes[0][axis]}")
    return {"axis": axis, "sizes": [int(s) for s in sizes]}


def infer_split(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    outs = []
    for size in attrs["sizes"]:
        s = list(in_shapes[0])
        s[attrs["axis"]] = size
        outs.append(tuple(s))
    return outs


def normalize_transpose(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"perm"}, "transpose")
    rank = len(in_shapes[0])
    perm = attrs.get("perm", list(reversed(range(rank))))
    if sorted(perm) != list(range(rank)):
        raise ShapeError(f"transpose perm {perm} is not a permutation of 0..{rank - 1}")
    return {"perm": [int(p) for p in perm]}


def infer_transpose(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(in_shapes[0][p] for p in attrs["perm"])]


def normalize_pad(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"pads", "mode", "value"}, "pad")
    rank = len(in_shapes[0])
    pads = attrs.get("pads")
    if not isinstance(pads, list) or len(pads) != 2 * rank or not all(isinstance(p, int) and p >= 0 for p in pads):
        raise ShapeError(f"pad needs 'pads': {2 * rank} non-negative ints (all begins, then all ends)")
    mode = attrs.get("mode", "constant")
    if mode not in ("constant", "reflect", "edge"):
        raise ShapeError(f"pad mode {mode!r} unknown; known: constant, reflect, edge")
    return {"pads": pads, "mode": mode, "value": float(attrs.get("value", 0.0))}


def infer_pad(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    rank = len(in_shapes[0])
    p = attrs["pads"]
    return [tuple(d + p[i] + p[i + rank] for i, d in enumerate(in_shapes[0]))]


def normalize_resize(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"scales", "sizes", "mode"}, "resize")
    need_rank(in_shapes[0], 4, "resize")
    mode = attrs.get("mode", "nearest")
    if mode not in ("nearest", "linear"):
        raise ShapeError(f"resize mode {mode!r} unknown; known: nearest, linear")
    _, _, h, w = in_shapes[0]
    if "sizes" in attrs:
        sizes = attrs["sizes"]
        if not (isinstance(sizes, list) and len(sizes) == 2 and all(isinstance(s, int) and s > 0 for s in sizes)):
            raise ShapeError("resize 'sizes' must be [out_h, out_w] positive ints")
        return {"sizes": sizes, "mode": mode}
    scales = attrs.get("scales")
    if not (isinstance(scales, list) and len(scales) == 2 and all(float(s) > 0 for s in scales)):
        raise ShapeError("resize needs 'scales' [sh, sw] > 0 or 'sizes' [out_h, out_w]")
    return {"sizes": [int(math.floor(h * float(scales[0]))), int(math.floor(w * float(scales[1])))], "mode": mode}


def infer_resize(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    n, c, _, _ = in_shapes[0]
    return [(n, c, attrs["sizes"][0], attrs["sizes"][1])]


def count_resize(c: CountInput) -> OpCounts:
    n = numel(c.out_shapes[0])
    if c.attrs["mode"] == "linear":
        return OpCounts(arith={"mul": 4 * n, "add": 3 * n})
    return OpCounts(arith={"move": n})


def normalize_shuffle(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"groups"}, "channel_shuffle")
    need_rank(in_shapes[0], 4, "channel_shuffle")
    g = positive(attrs.get("groups", 2), "channel_shuffle groups")
    if in_shapes[0][1] % g:
        raise ShapeError(f"channel_shuffle groups={g} must divide channels {in_shapes[0][1]}")
    return {"groups": g}


def _same(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(in_shapes[0])]


register_op(OpDef(name="concat", group=OpGroup.DATA, doc="join tensors along an axis",
                  infer=infer_concat, count=_moves, normalize=normalize_concat, arity=(1, None),
                  attr_names=frozenset({"axis"})))
register_op(OpDef(name="split", group=OpGroup.DATA, doc="cut a tensor along an axis into given sizes",
                  infer=infer_split, count=_moves, normalize=normalize_split, attr_names=frozenset({"axis", "sizes"})))
register_op(OpDef(name="transpose", group=OpGroup.DATA, doc="permute axes (a real copy)",
                  infer=infer_transpose, count=_moves, normalize=normalize_transpose, attr_names=frozenset({"perm"})))
register_op(OpDef(name="pad", group=OpGroup.DATA, doc="pad every axis: pads = begins then ends",
                  infer=infer_pad, count=_moves, normalize=normalize_pad,
                  attr_names=frozenset({"pads", "mode", "value"})))
register_op(OpDef(name="resize", group=OpGroup.DATA, doc="nearest or bilinear resize of H x W",
                  infer=infer_resize, count=count_resize, normalize=normalize_resize,
                  attr_names=frozenset({"scales", "sizes", "mode"})))
register_op(OpDef(name="channel_shuffle", group=OpGroup.DATA, doc="ShuffleNet channel shuffle (groups)",
                  infer=_same, count=_moves, normalize=normalize_shuffle, attr_names=frozenset({"groups"})))


# --- views -----------------------------------------------------------------------------------------

def _free(c: CountInput) -> OpCounts:
    return OpCounts()


def normalize_flatten(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"axis"}, "flatten")
    return {"axis": norm_axis(int(attrs.get("axis", 1)), len(in_shapes[0]) + 1, "flatten")}


def infer_flatten(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    s, a = in_shapes[0], attrs["axis"]
    return [(math.prod(s[:a]), math.prod(s[a:]))]


def normalize_reshape(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"shape"}, "reshape")
    shape = attrs.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= -1 for d in shape):
        raise ShapeError("reshape needs 'shape', a list of ints (0 copies the input dim, -1 infers one dim)")
    src = in_shapes[0]
    out = [src[i] if d == 0 else d for i, d in enumerate(shape)]
    if out.count(-1) > 1:
        raise ShapeError(f"reshape shape {shape} has more than one -1")
    known = math.prod(d for d in out if d != -1)
    total = math.prod(src)
    if -1 in out:
        if known == 0 or total % known:
            raise ShapeError(f"reshape {list(src)} -> {shape}: {total} elements do not divide evenly")
        out[out.index(-1)] = total // known
    if math.prod(out) != total:
        raise ShapeError(f"reshape {list(src)} ({total} elements) -> {out} ({math.prod(out)} elements)")
    return {"shape": out}


def infer_reshape(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(attrs["shape"])]


def normalize_dropout(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, {"p"}, "dropout")
    return {"p": float(attrs.get("p", 0.5))}


register_op(OpDef(name="flatten", group=OpGroup.VIEW, doc="collapse axes [axis:] into one (a view)",
                  infer=infer_flatten, count=_free, normalize=normalize_flatten, attr_names=frozenset({"axis"})))
register_op(OpDef(name="reshape", group=OpGroup.VIEW, doc="reinterpret the shape (a view)",
                  infer=infer_reshape, count=_free, normalize=normalize_reshape, attr_names=frozenset({"shape"})))
register_op(OpDef(name="identity", group=OpGroup.VIEW, doc="pass-through", infer=_same, count=_free,
                  normalize=_no_attrs("identity")))
register_op(OpDef(name="dropout", group=OpGroup.VIEW, doc="identity at inference", infer=_same, count=_free,
                  normalize=normalize_dropout, attr_names=frozenset({"p"})))
