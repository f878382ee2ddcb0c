"""Max, average and global-average pooling over NCHW windows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, register_op
from hwsim.ir.opdefs._attrs import need_rank, numel, only, pads4, pair, window_out

Shape = tuple[int, ...]
_ATTRS = {"kernel", "stride", "padding", "ceil_mode", "count_include_pad"}


def normalize_pool(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, _ATTRS, "pool")
    need_rank(in_shapes[0], 4, "pool")
    from hwsim.errors import ShapeError

    if "kernel" not in attrs:
        raise ShapeError("pool needs attribute 'kernel'")
    kernel = pair(attrs["kernel"], "pool kernel")
    stride = pair(attrs.get("stride", list(kernel)), "pool stride")
    pads = pads4(attrs.get("padding", 0), (in_shapes[0][2], in_shapes[0][3]), kernel, stride, (1, 1))
    return {"kernel": list(kernel), "stride": list(stride), "padding": list(pads),
            "ceil_mode": bool(attrs.get("ceil_mode", False)),
            "count_include_pad": bool(attrs.get("count_include_pad", True))}


def infer_pool(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    n, c, h, w = in_shapes[0]
    (kh, kw), (sh, sw), (t, l, b, r) = attrs["kernel"], attrs["stride"], attrs["padding"]
    cm = attrs["ceil_mode"]
    return [(n, c, window_out(h, kh, sh, t, b, 1, cm), window_out(w, kw, sw, l, r, 1, cm))]


def _window(c: CountInput) -> tuple[int, int]:
    kh, kw = c.attrs["kernel"]
    return numel(c.out_shapes[0]), kh * kw


def count_max(c: CountInput) -> OpCounts:
    out, k = _window(c)
    return OpCounts(arith={"cmp": out * (k - 1)})


def count_avg(c: CountInput) -> OpCounts:
    out, k = _window(c)
    return OpCounts(arith={"add": out * (k - 1), "mul": out})


def normalize_gap(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, set(), "global_avgpool")
    need_rank(in_shapes[0], 4, "global_avgpool")
    return {}


def infer_gap(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    n, c, _, _ = in_shapes[0]
    return [(n, c, 1, 1)]


def count_gap(c: CountInput) -> OpCounts:
    n, ch, h, w = c.in_shapes[0]
    return OpCounts(arith={"add": n * ch * (h * w - 1), "mul": n * ch})


register_op(OpDef(name="maxpool", group=OpGroup.POOL, doc="max over kh x kw windows",
                  infer=infer_pool, count=count_max, normalize=normalize_pool, attr_names=frozenset(_ATTRS)))
register_op(OpDef(name="avgpool", group=OpGroup.POOL, doc="mean over kh x kw windows",
                  infer=infer_pool, count=count_avg, normalize=normalize_pool, attr_names=frozenset(_ATTRS)))
register_op(OpDef(name="global_avgpool", group=OpGroup.POOL, doc="mean over H x W -> N x C x 1 x 1",
                  infer=infer_gap, count=count_gap, normalize=normalize_gap))
