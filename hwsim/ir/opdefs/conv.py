"""conv2d: grouped, dilated, strided, padded 2-D convolution (depthwise = groups == channels).

The ``algorithm`` attribute records how the conv is computed (direct, im2col, winograd_f2x2_3x3,
winograd_f4x4_3x3, fft). It changes the multiply count and the transform arithmetic, following
Lavin & Gray (CVPR 2016): F(m x m, r x r) needs (m+r-1)^2 multiplies per output tile per
(input channel, output channel) pair instead of m^2 r^2, plus data, filter and inverse transforms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, ParamSlot, register_op
from hwsim.ir.opdefs._attrs import need_rank, only, pads4, pair, positive, window_out

Shape = tuple[int, ...]

#: Winograd variants: output tile m, kernel r, and per-tile 2-D transform flop counts
#: (data, filter, inverse) from Lavin & Gray 2016, Sections 4.1 and 4.3.
WINOGRAD = {
    "winograd_f2x2_3x3": {"m": 2, "r": 3, "data": 32, "filter": 28, "inverse": 24},
    "winograd_f4x4_3x3": {"m": 4, "r": 3, "data": 156, "filter": 72, "inverse": 100},
}
ALGORITHMS = ("direct", "im2col", "fft", *WINOGRAD)
_ATTRS = {"out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias", "algorithm", "in_channels"}


def normalize_conv(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
    only(attrs, _ATTRS, "conv2d")
    need_rank(in_shapes[0], 4, "conv2d")
    _, c_in, h, w = in_shapes[0]
    if "out_channels" not in attrs or "kernel" not in attrs:
        raise ShapeError("conv2d needs attributes 'out_channels' and 'kernel'")
    out_c = positive(attrs["out_channels"], "conv2d out_channels")
    kernel = pair(attrs["kernel"], "conv2d kernel")
    stride = pair(attrs.get("stride", 1), "conv2d stride")
    dilation = pair(attrs.get("dilation", 1), "conv2d dilation")
    groups = positive(attrs.get("groups", 1), "conv2d groups")
    if "in_channels" in attrs and attrs["in_channels"] != c_in:
        raise ShapeError(f"conv2d declares in_channels={attrs['in_channels']} but its input has {c_in} channels")
    if c_in % groups or out_c % groups:
        raise ShapeError(f"conv2d groups={groups} must divide input channels {c_in} and out_channels {out_c}")
    algorithm = attrs.get("algorithm", "direct")
    if algorithm not in ALGORITHMS:
        raise ShapeError(f"conv2d algorithm {algorithm!r} unknown; known: {', '.join(ALGORITHMS)}")
    if algorithm in WINOGRAD:
        r = WINOGRAD[algorithm]["r"]
        if kernel != (r, r) or stride != (1, 1) or dilation != (1, 1):
            raise ShapeError(f"{algorithm} needs a {r}x{r} kernel with stride 1 and dilation 1, got kernel "
                             f"{list(kernel)} stride {list(stride)} dilation {list(dilation)}")
    pads = pads4(attrs.get("padding", 0), (h, w), kernel, stride, dilation)
    return {
        "out_channels": out_c,
        "kernel": list(kernel),
        "stride": list(stride),
        "padding": list(pads),
        "dilation": list(dilation),
        "groups": groups,
        "bias": bool(attrs.get("bias", False)),
        "algorithm": algorithm,
    }


def infer_conv(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    n, _, h, w = in_shapes[0]
    kh, kw = attrs["kernel"]
    sh, sw = attrs["stride"]
    t, l, b, r = attrs["padding"]
    dh, dw = attrs["dilation"]
    ho = window_out(h, kh, sh, t, b, dh)
    wo = window_out(w, kw, sw, l, r, dw)
    return [(n, attrs["out_channels"], ho, wo)]


def conv_param_shapes(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Shape]:
    c_in = in_shapes[0][1]
    kh, kw = attrs["kernel"]
    shapes: dict[str, Shape] = {"weight": (attrs["out_channels"], c_in // attrs["groups"], kh, kw)}
    if attrs.get("bias"):
        shapes["bias"] = (attrs["out_channels"],)
    return shapes


def direct_macs(c: CountInput) -> int:
    n, c_out, ho, wo = c.out_shapes[0]
    c_in = c.in_shapes[0][1]
    kh, kw = c.attrs["kernel"]
    return n * c_out * ho * wo * (c_in // c.attrs["groups"]) * kh * kw


def count_conv(c: CountInput) -> OpCounts:
    n, c_out, ho, wo = c.out_shapes[0]
    c_in = c.in_shapes[0][1]
    groups = c.attrs["groups"]
    arith: dict[str, int] = {}
    if c.attrs.get("bias"):
        arith["add"] = n * c_out * ho * wo
    algorithm = c.attrs.get("algorithm", "direct")
    if algorithm in WINOGRAD:
        spec = WINOGRAD[algorithm]
        m, r = spec["m"], spec["r"]
        tiles = n * math.ceil(ho / m) * math.ceil(wo / m)
        pairs = c_out * (c_in // groups)
        macs = tiles * pairs * (m + r - 1) ** 2
        arith["add"] = arith.get("add", 0) + tiles * c_in * spec["data"] + tiles * c_out * spec["inverse"]
        arith["transform_filter"] = pairs * spec["filter"]
        return OpCounts(macs=macs, arith=arith)
    if algorithm == "fft":
        # Pointwise complex products in the frequency domain over a padded (H+k-1) x (W+k-1) grid with
        # Hermitian symmetry; the FFTs are ~5 N log2 N real flops each (Cooley-Tukey).
        h, w = c.in_shapes[0][2], c.in_shapes[0][3]
        kh, kw = c.attrs["kernel"]
        fh, fw = h + sum(c.attrs["padding"][0::2]) + kh - 1, w + sum(c.attrs["padding"][1::2]) + kw - 1
        bins = fh * (fw // 2 + 1)
        macs = 4 * n * c_out * (c_in // groups) * bins  # one complex MAC = 4 real MACs
        fft_flops = int(5 * fh * fw * math.log2(max(fh * fw, 2)))
        arith["fft"] = (n * c_in + n * c_out + c_out * (c_in // groups)) * fft_flops
        return OpCounts(macs=macs, arith=arith)
    return OpCounts(macs=direct_macs(c), arith=arith)


register_op(
    OpDef(
        name="conv2d",
        group=OpGroup.CONV,
        doc="2-D convolution NCHW; weight [out, in/groups, kh, kw]; depthwise when groups == in == out",
        infer=infer_conv,
        count=count_conv,
        params=(ParamSlot("weight", "kaiming_normal"), ParamSlot("bias", "zeros", optional_attr="bias")),
        param_shapes=conv_param_shapes,
        normalize=normalize_conv,
        attr_names=frozenset(_ATTRS),
    )
)
