"""Shared attribute normalization: ints or pairs, paddings, axis handling. Errors are ShapeErrors
(the graph builder adds the file and node name)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hwsim.errors import ShapeError

Shape = tuple[int, ...]


def broadcast_shapes(*shapes: Sequence[int]) -> Shape:
    """The shape NumPy's broadcasting rule gives ``shapes`` (aligned from the right; per axis every size
    is 1 or the same one), computed without NumPy: shape inference runs on every model read, and
    importing NumPy is a large share of a ``hwsim stats`` call. Raises ValueError, as
    ``np.broadcast_shapes`` does, when they do not broadcast."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[int] = []
    for axis in range(-rank, 0):
        sizes = {int(s[axis]) for s in shapes if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {[list(s) for s in shapes]} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def pair(value: Any, what: str) -> tuple[int, int]:
    """A positive int or a 2-sequence of positive ints -> (h, w) (kernels, strides, dilations: 0 or a
    negative value would divide by zero or give nonsense shapes)."""
    if isinstance(value, bool):
        raise ShapeError(f"{what} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, int):
        out = (value, value)
    elif (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        out = (int(value[0]), int(value[1]))
    else:
        raise ShapeError(f"{what} must be an int or a pair of ints, got {value!r}")
    if min(out) < 1:
        raise ShapeError(f"{what} must be >= 1, got {value!r}")
    return out


def positive(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ShapeError(f"{what} must be a positive integer, got {value!r}")
    return value


def pads4(value: Any, in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
          dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right); accepts int, (h, w), (t, l, b, r), 'same', 'valid'."""
    if value in (None, "valid"):
        return (0, 0, 0, 0)
    if value in ("same", "same_upper", "same_lower"):
        pads = []
        for i in range(2):
            eff = (kernel[i] - 1) * dilation[i] + 1
            out = math.ceil(in_hw[i] / stride[i])
            total = max(0, (out - 1) * stride[i] + eff - in_hw[i])
            lo = total // 2 if value != "same_lower" else total - total // 2
            pads.append((lo, total - lo))
        return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
    out: tuple[int, int, int, int] | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        out = (value, value, value, value)
    elif (isinstance(value, Sequence) and not isinstance(value, str)
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        if len(value) == 2:
            out = (value[0], value[1], value[0], value[1])
        elif len(value) == 4:
            out = (value[0], value[1], value[2], value[3])
    if out is not None:
        if min(out) < 0:
            raise ShapeError(f"padding must be >= 0, got {value!r}")
        return out
    raise ShapeError(f"padding must be an int, (h, w), (top, left, bottom, right), 'same' or 'valid'; got {value!r}")


def window_out(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int = 1,
               ceil_mode: bool = False) -> int:
    eff = (kernel - 1) * dilation + 1
    span = size + pad_lo + pad_hi - eff
    if span < 0:
        raise ShapeError(f"window {kernel} (dilation {dilation}) larger than padded input {size + pad_lo + pad_hi}")
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad_lo:  # last window must start inside the input (PyTorch rule)
            out -= 1
        return out
    return span // stride + 1


def need_rank(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise ShapeError(f"{what} expects a rank-{rank} input, got shape {list(shape)}")


def norm_axis(axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{what}: axis {axis} out of range for rank {rank}")
    return axis % rank


def only(attrs: Mapping[str, Any], allowed: set[str], what: str) -> None:
    extra = set(attrs) - allowed
    if extra:
        raise ShapeError(f"{what}: unknown attribute(s) {sorted(extra)}; allowed: {sorted(allowed)}")


def numel(shape: Shape) -> int:
    return math.prod(shape)
