"""Control ops: ``exit``, the decision at the end of an early-exit branch (BranchyNet, Teerapittayanon et
al. 2016). It passes its input logits through and decides, per sample, whether inference stops there:
softmax over the last axis, the top probability compared against ``threshold``. ``probability`` is the
fraction of all inputs expected to leave at this exit (a design assumption the user states, since it
depends on data the tool does not see); the early-exit pass records it in graph meta so that analysis
can report the expected and the worst-case cost.

Counting per row of K logits: softmax (max: K - 1 cmp, subtract and sum: 2K add, K exp, K div), the
top probability (K - 1 cmp) and one comparison against the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, register_op
from hwsim.ir.opdefs._attrs import numel, only

Shape = tuple[int, ...]
_ATTRS = {"probability", "threshold", "index"}


def normalize_exit(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, _ATTRS, "exit")
    if len(in_shapes[0]) < 2:
        raise ShapeError(f"exit needs logits of rank >= 2 (N, classes), got {list(in_shapes[0])}")
    p = attrs.get("probability", 0.0)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise ShapeError(f"exit probability must be a number in [0, 1], got {p!r}")
    thr = attrs.get("threshold")
    if thr is not None and (isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0.0 <= thr <= 1.0):
        raise ShapeError(f"exit threshold must be a number in [0, 1] or null, got {thr!r}")
    index = attrs.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ShapeError(f"exit index must be a non-negative integer, got {index!r}")
    return {"probability": float(p), "threshold": None if thr is None else float(thr), "index": index}


def infer_exit(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(in_shapes[0])]


def count_exit(c: CountInput) -> OpCounts:
    k = c.in_shapes[0][-1]
    rows = numel(c.in_shapes[0]) // k
    return OpCounts(arith={"cmp": rows * (2 * (k - 1) + 1), "add": rows * 2 * k, "exp": rows * k,
                           "div": rows * k})


register_op(OpDef(
    name="exit", group=OpGroup.CONTROL,
    doc="early-exit decision: passes logits through; stops inference for a sample when its top softmax "
        "probability reaches threshold (expected exit fraction: probability)",
    infer=infer_exit, count=count_exit, normalize=normalize_exit, attr_names=frozenset(_ATTRS),
))
