"""Convolution algorithms: ``conv_algorithm`` marks each eligible conv2d with the algorithm it runs
(``direct``, ``im2col``, ``winograd_f2x2_3x3``, ``winograd_f4x4_3x3``, ``fft``, or ``auto``: the eligible
one with the fewest multiplies).

The op's own counting (``hwsim.ir.opdefs.conv``) turns the ``algorithm`` attribute into multiplies
and transform arithmetic (Lavin & Gray, CVPR 2016: F(m x m, 3 x 3) needs (m + 2)^2 multiplies per
m x m output tile per channel pair instead of 9 m^2, so 2.25x fewer for F(2x2, 3x3) and 4x fewer
for F(4x4, 3x3) when the output is a multiple of the tile). This pass also records the buffers each
algorithm needs, in the conv's weight tensor meta, for cost models (element counts; multiply by the
activation or weight dtype's bytes):

``conv_algorithm``
    the algorithm (same as the node attribute).
``conv_transformed_filter_elems``
    elements of the pre-transformed filter buffer kept for the layer: Winograd U, (m + r - 1)^2 per
    (output, input/groups) channel pair; FFT, the filters' spectra, 2 reals per frequency bin of the
    padded (H + kh - 1) x (W + kw - 1) grid (Hermitian half); 0 for direct and im2col (they use W).
``conv_workspace_elems``
    per-inference temporary buffer (the graph's batch): im2col's lowered matrix N Ho Wo (C/groups) kh
    kw x groups; Winograd's transformed input tiles V (tiles x C x (m + r - 1)^2) plus the products M
    (tiles x K x (m + r - 1)^2); FFT's input and output spectra (2 reals per bin per N C and N K map);
    0 for direct.
``conv_tile_output`` / ``conv_tile_input``
    Winograd output tile side m and input tile side m + r - 1 (absent for the others).

Eligibility: Winograd needs a 3x3 kernel, stride 1, dilation 1 and (unless ``allow_grouped``)
groups 1; FFT needs stride 1, dilation 1, groups 1 and a kernel larger than 1x1. An ineligible conv gets ``fallback``
(``keep`` leaves it as it is).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from hwsim.compress._splice import node_weight_bytes, splice
from hwsim.compress.base import LayerChange, PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.ir.counting import count_node
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.opdefs.conv import WINOGRAD
from hwsim.ir.ops import CountInput
from hwsim.ir.tensor import TensorSpec

Algorithm = Literal["direct", "im2col", "winograd_f2x2_3x3", "winograd_f4x4_3x3", "fft"]
_CANDIDATES: tuple[str, ...] = ("direct", "winograd_f2x2_3x3", "winograd_f4x4_3x3", "fft")


class ConvAlgorithmParams(PassParams):
    algorithm: Literal["direct", "im2col", "winograd_f2x2_3x3", "winograd_f4x4_3x3", "fft", "auto"] = \
        "winograd_f2x2_3x3"
    fallback: Literal["keep", "direct", "im2col"] = "keep"
    allow_grouped: bool = Field(default=False, description="let Winograd run grouped/depthwise 3x3 convs")


def ineligible(algorithm: str, attrs: dict[str, Any], allow_grouped: bool = False) -> str | None:
    """Why ``algorithm`` cannot run a conv with these (normalized) attributes, or None."""
    if algorithm in ("direct", "im2col"):
        return None
    if attrs["stride"] != [1, 1] or attrs["dilation"] != [1, 1]:
        return f"{algorithm} needs stride 1 and dilation 1"
    if algorithm in WINOGRAD:
        r = WINOGRAD[algorithm]["r"]
        if attrs["kernel"] != [r, r]:
            return f"{algorithm} needs a {r}x{r} kernel"
        if attrs["groups"] != 1 and not allow_grouped:
            return f"{algorithm} is not applied to grouped convolutions (allow_grouped: false)"
        return None
    if attrs["groups"] != 1:
        return "fft is not applied to grouped convolutions"
    if attrs["kernel"] == [1, 1]:
        return "fft gains nothing on a 1x1 kernel"
    return None


def buffer_meta(algorithm: str, attrs: dict[str, Any], in_shape: tuple[int, ...],
                out_shape: tuple[int, ...]) -> dict[str, Any]:
    """The buffer sizes (elements) ``algorithm`` needs for a conv (keys documented in the module doc)."""
    n, c_in, h, w = in_shape
    _, c_out, ho, wo = out_shape
    kh, kw = attrs["kernel"]
    g = attrs["groups"]
    meta: dict[str, Any] = {"conv_algorithm": algorithm, "conv_transformed_filter_elems": 0,
                            "conv_workspace_elems": 0}
    if algorithm == "im2col":
        meta["conv_workspace_elems"] = n * ho * wo * c_in * kh * kw
    elif algorithm in WINOGRAD:
        m, r = WINOGRAD[algorithm]["m"], WINOGRAD[algorithm]["r"]
        a = m + r - 1
        tiles = n * math.ceil(ho / m) * math.ceil(wo / m)
        meta["conv_transformed_filter_elems"] = a * a * c_out * (c_in // g)
        meta["conv_workspace_elems"] = tiles * c_in * a * a + tiles * c_out * a * a
        meta["conv_tile_output"] = m
        meta["conv_tile_input"] = a
    elif algorithm == "fft":
        pads = attrs["padding"]
        fh, fw = h + pads[0] + pads[2] + kh - 1, w + pads[1] + pads[3] + kw - 1
        bins = fh * (fw // 2 + 1)
        meta["conv_transformed_filter_elems"] = 2 * bins * c_out * (c_in // g)
        meta["conv_workspace_elems"] = 2 * bins * (n * c_in + n * c_out)
    return meta


def _with_algorithm(node: Node, algorithm: str) -> Node:
    return Node(node.name, node.op, node.inputs, node.outputs, {**node.attrs, "algorithm": algorithm}, node.params)


def multiplies(graph: OpGraph, node: Node, algorithm: str) -> int:
    """MACs the op's counting rule gives for ``node`` run with ``algorithm``."""
    in_shapes = [graph.tensor(t).shape for t in node.inputs]
    attrs = node.opdef.normalize({**node.attrs, "algorithm": algorithm}, in_shapes)
    ci = CountInput(attrs, in_shapes, [graph.tensor(t).shape for t in node.outputs],
                    {slot: graph.tensor(t).shape for slot, t in node.params.items()})
    return node.opdef.count(ci).macs


def _fewest_multiplies(graph: OpGraph, node: Node, allow_grouped: bool) -> str:
    best, best_macs = "direct", None
    for alg in _CANDIDATES:
        if ineligible(alg, dict(node.attrs), allow_grouped):
            continue
        macs = multiplies(graph, node, alg)
        if best_macs is None or macs < best_macs:
            best, best_macs = alg, macs
    return best


@register_pass("conv_algorithm", ConvAlgorithmParams, family="conv_algorithm")
def conv_algorithm(graph: OpGraph, params: ConvAlgorithmParams) -> PassResult:
    """Mark convs with the algorithm they run (direct, im2col, Winograd F(2x2,3x3) / F(4x4,3x3), FFT):
    changes multiply counts, transform arithmetic and buffer sizes; the function computed is the same up
    to floating-point rounding (Winograd F(4x4,3x3) and FFT round differently: not bit-exact)."""
    replacements: dict[str, list[Node]] = {}
    chosen: dict[str, tuple[str, str | None]] = {}
    for node in select_layers(graph, params, ("conv2d",), "conv_algorithm"):
        p = layer_params(params, node.name)
        assert isinstance(p, ConvAlgorithmParams)
        if p.algorithm == "auto":
            alg, why = _fewest_multiplies(graph, node, p.allow_grouped), None
        else:
            why = ineligible(p.algorithm, dict(node.attrs), p.allow_grouped)
            alg = p.algorithm if why is None else (node.attrs["algorithm"] if p.fallback == "keep" else p.fallback)
        chosen[node.name] = (alg, why)
        if alg != node.attrs["algorithm"]:
            replacements[node.name] = [_with_algorithm(node, alg)]
    new = splice(graph, replacements) if replacements else graph
    specs: dict[str, TensorSpec] = {}
    changes = []
    for name, (alg, why) in chosen.items():
        old_node, node = graph.node(name), new.node(name)
        wname = node.params["weight"]
        spec = new.tensor(wname)
        meta = buffer_meta(alg, dict(node.attrs), new.tensor(node.inputs[0]).shape, new.tensor(node.outputs[0]).shape)
        specs[wname] = spec.with_(meta={**spec.meta_dict(), **meta})
        before, after = count_node(graph, old_node), count_node(new, node)
        details = {"algorithm": alg, "previous": old_node.attrs["algorithm"], "macs_before": before.macs,
                   "macs_after": after.macs, "arith_after": dict(after.arith),
                   "mult_reduction": before.macs / after.macs if after.macs else None,
                   **{k: v for k, v in meta.items() if k != "conv_algorithm"}}
        if why:
            details["reason"] = why
        b = node_weight_bytes(graph, [old_node])
        changes.append(LayerChange(name, "algorithm" if alg != old_node.attrs["algorithm"] else "kept", b, b, details))
    if not chosen:
        return PassResult(graph, False, (), ("conv_algorithm: no conv2d selected",))
    if not replacements:  # no layer changed its algorithm: the graph is returned as it was, changed=False
        return PassResult(graph, False, tuple(changes), _kept_note(chosen))
    return PassResult(new.with_specs(specs), True, tuple(changes), _kept_note(chosen))


def _kept_note(chosen: dict[str, tuple[str, str | None]]) -> tuple[str, ...]:
    """Say how many convs could not run the requested algorithm and why (a model without 3x3 stride-1
    convs gets Winograd nowhere: the reader must see that, not an unexplained 1.0x)."""
    why: dict[str, int] = {}
    for _, reason in chosen.values():
        if reason:
            why[reason] = why.get(reason, 0) + 1
    if not why:
        return ()
    n = sum(why.values())
    head = ("no conv2d can run the requested algorithm" if n == len(chosen)
            else f"{n} of {len(chosen)} conv2d layers kept their algorithm")
    return (f"conv_algorithm: {head}: " + "; ".join(f"{r} ({k})" for r, k in sorted(why.items())),)
