"""Binary and ternary networks: ``binarize`` (BinaryConnect, XNOR-Net, BNN) and ``ternarize`` (TWN).

How the result reads downstream (no cost model needs to know which pass ran):

* the weight tensor of a conv2d / linear gets dtype ``binary`` (1 bit) or ``ternary`` (2 bits) and a
  real bit-packed payload (:mod:`hwsim.compress.lowbit_payloads`) whose ``stored_bits`` include the
  fp32 scales; the scales are also listed in the tensor meta (``scales``, ``scale_granularity``);
* binarized activations are a ``sign`` op inserted before the layer, whose output is annotated
  ``binary``. The sign reads the *pre-activation*: when the layer's input is a ReLU's output, the
  sign reads the ReLU's input instead (XNOR-Net: BN -> sign -> binary conv; BNN: sign of the
  batch-normed pre-activation), and the ReLU is dropped when nothing else reads it. sign(ReLU(x)) is
  +1 everywhere (a constant input: the network stays at chance), so a ReLU is never binarized.
  A conv/linear whose weight dtype and input dtype are both binary is an XNOR-popcount op;
  binary weights on real inputs accumulate with add/subtract only; ternary weights are
  ternary-accumulate (add / subtract / skip). The layer's output keeps its real dtype and carries
  meta ``accumulation`` (xnor_popcount, binary_accumulate, ternary_accumulate).

Modes (Rastegari et al., "XNOR-Net", ECCV 2016; Courbariaux et al., "BinaryConnect", NIPS 2015;
Hubara et al., "Binarized Neural Networks", NIPS 2016; Li et al., "Ternary Weight Networks", 2016):

* ``binaryconnect``: weights sign(W); no scale by default (``scale: layer`` gives alpha = mean|W|);
* ``xnor``: weights sign(W) with alpha_c = mean|W_c| per output channel, activations sign(x).
  XNOR-Net's activation scale K (mean |x| per window) is not modelled: it costs one small
  convolution per layer and changes no storage;
* ``bnn``: weights and activations sign(.), no scales.

First and last weighted layers are kept at full precision by default (all three papers do so);
``keep_first_last: false`` binarizes them too; ``keep_input_precision: true`` leaves the network's input
(the image) unbinarized where a layer reads it, as BNN's and FINN's W1A1 first layers read fixed-point pixels.

TWN: Delta = 0.7 mean|W| (``threshold_factor``), W_t = sign(W) where |W| > Delta else 0, one scale
per layer alpha = mean of |W| over |W| > Delta.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from hwsim.compress._splice import dense, materialized, node_weight_bytes, rel_error, splice, unique_name
from hwsim.compress.base import LayerChange, PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.compress.lowbit_payloads import BinaryPayload, TernaryPayload, formula_bits, lowbit_meta
from hwsim.ir.dtypes import BINARY, TERNARY, DType
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec

WEIGHTED_OPS = ("conv2d", "linear")
Scale = Literal["none", "layer", "channel"]


class BinarizeParams(PassParams):
    mode: Literal["binaryconnect", "xnor", "bnn"] = "xnor"
    scale: Scale | None = Field(default=None, description="default: none (binaryconnect, bnn), channel (xnor)")
    keep_first_last: bool = True
    #: a layer that reads the network's input (the image) keeps real activations there: BNN's first layer
    #: takes fixed-point pixels (Hubara et al. 2016, section 2.6), as FINN's W1A1 networks take 8-bit ones
    keep_input_precision: bool = False


class TernarizeParams(PassParams):
    threshold_factor: float = Field(default=0.7, gt=0.0, le=1.5, description="Delta = factor * mean|W| (TWN: 0.7)")
    scale: Literal["layer", "channel"] = "layer"
    keep_first_last: bool = True


_DEFAULT_SCALE: dict[str, Scale] = {"binaryconnect": "none", "xnor": "channel", "bnn": "none"}
_BINARY_ACTS = {"binaryconnect": False, "xnor": True, "bnn": True}


@dataclass(frozen=True)
class _Encoded:
    spec: TensorSpec
    payload: Any | None
    details: dict[str, Any]


def first_last_layers(graph: OpGraph) -> set[str]:
    """Names of the first and the last conv/linear in topological order (kept at high precision)."""
    weighted = [n.name for n in graph.nodes if n.op in WEIGHTED_OPS]
    return {weighted[0], weighted[-1]} if weighted else set()


def _targets(graph: OpGraph, params: PassParams, keep_first_last: bool, name: str) -> list[Node]:
    nodes = select_layers(graph, params, WEIGHTED_OPS, name)
    keep = first_last_layers(graph) if keep_first_last else set()
    return [n for n in nodes if n.name not in keep]


def _kept_note(graph: OpGraph, keep_first_last: bool) -> tuple[str, ...]:
    kept = sorted(first_last_layers(graph)) if keep_first_last else []
    return (f"kept at full precision (keep_first_last): {', '.join(kept)}",) if kept else ()


def _scales(w: np.ndarray, how: str, mask: np.ndarray | None = None) -> np.ndarray | None:
    """alpha = mean |W| over the tensor (layer) or each output channel; over ``mask`` only if given."""
    if how == "none":
        return None
    axes = tuple(range(1, w.ndim)) if how == "channel" else tuple(range(w.ndim))
    a = np.abs(w)  # one temporary of the weight's own dtype; sums accumulate in float64
    if mask is None:
        num = a.sum(axis=axes, dtype=np.float64)
        cnt = np.full(np.shape(num), a.size // max(np.size(num), 1))
    else:
        a[~mask] = 0
        num = a.sum(axis=axes, dtype=np.float64)
        cnt = mask.sum(axis=axes)
    out = np.where(cnt > 0, num / np.maximum(cnt, 1), 0.0)
    return np.atleast_1d(out).astype(np.float32)


def _n_scales(how: str, shape: tuple[int, ...]) -> int:
    return {"none": 0, "layer": 1, "channel": shape[0]}[how]


def _encode_binary(graph: OpGraph, node: Node, how: str) -> _Encoded:
    tname = node.params["weight"]
    spec = graph.tensor(tname)
    n_scales = _n_scales(how, spec.shape)
    meta = {**spec.meta_dict(), **lowbit_meta("binary", 1, n_scales)}
    if not materialized(graph, node):
        bits = formula_bits(spec.numel, 1, n_scales)
        meta["scales"] = None
        return _Encoded(spec.with_(dtype=BINARY, encoding="dense", density=1.0, stored_bits=bits, meta=meta), None,
                        {"materialized": False, "weight_error": None})
    w = np.asarray(graph.dense_weight(node.params["weight"]), np.float32)  # no float64 copy
    scales = _scales(w, how)
    payload = BinaryPayload.encode(w, scales)
    meta["scales"] = None if scales is None else [float(s) for s in scales]
    err = rel_error(w, payload.decode())
    return _Encoded(spec.with_(dtype=BINARY, encoding="dense", density=1.0, stored_bits=payload.stored_bits,
                               meta=meta), payload, {"materialized": True, "weight_error": err})


def pre_activation(graph: OpGraph, src: str) -> str:
    """The tensor a binarized activation takes the sign of: the input of the ReLU producing ``src``
    (its pre-activation), else ``src`` itself."""
    producer = graph.producer(src)
    return producer.inputs[0] if producer is not None and producer.op == "relu" else src


def dropped_relus(graph: OpGraph, binarized_inputs: dict[str, set[str]]) -> set[str]:
    """ReLUs whose output only binarized-activation layers read (their signs now read the ReLU's input):
    nothing reads them any more."""
    drop = set()
    for t in binarized_inputs:
        producer = graph.producer(t)
        if producer is None or producer.op != "relu" or t in graph.outputs:
            continue
        if all(c.name in binarized_inputs[t] for c in graph.consumers(t)):
            drop.add(producer.name)
    return drop


def _binarize_layer(graph: OpGraph, node: Node, p: BinarizeParams, taken: set[str],
                    sign_of: dict[str, str], new_nodes: dict[str, list[Node]], specs: dict[str, TensorSpec],
                    weights: dict[str, Any], readers: dict[str, set[str]]) -> LayerChange:
    how = p.scale or _DEFAULT_SCALE[p.mode]
    enc = _encode_binary(graph, node, how)
    tname = node.params["weight"]
    specs[tname] = enc.spec
    if enc.payload is not None:
        weights[tname] = enc.payload
    before = node_weight_bytes(graph, [node])
    after = before - graph.tensor(tname).size_bytes + enc.spec.size_bytes
    binary_acts = _BINARY_ACTS[p.mode]
    src = node.inputs[0]
    act_dtype: DType = graph.tensor(src).dtype
    if binary_acts and act_dtype != BINARY and not (p.keep_input_precision and src in graph.inputs):
        readers.setdefault(src, set()).add(node.name)
        pre = pre_activation(graph, src)
        if pre not in sign_of:
            sname = unique_name(graph, f"{node.name}.binact", taken)
            sign_of[pre] = sname
            new_nodes.setdefault(node.name, []).append(Node(sname, "sign", (pre,), (sname,)))
            specs[sname] = TensorSpec(sname, (), BINARY, "activation", meta=(("binarized_from", pre),))
        node = Node(node.name, node.op, (sign_of[pre], *node.inputs[1:]), node.outputs, node.attrs, node.params)
        act_dtype = BINARY
    new_nodes.setdefault(node.name, []).append(node)
    accumulation = "xnor_popcount" if act_dtype == BINARY else "binary_accumulate"
    out = graph.tensor(node.outputs[0])
    specs[out.name] = out.with_(meta={**out.meta_dict(), "accumulation": accumulation})
    details = {"mode": p.mode, "scale": how, "weight_dtype": "binary", "act_dtype": act_dtype.name,
               "accumulation": accumulation, "bits": 1, **enc.details}
    return LayerChange(node.name, "binarized", before, after, details)


@register_pass("binarize", BinarizeParams, family="binary")
def binarize(graph: OpGraph, params: BinarizeParams) -> PassResult:
    """Binarize conv/linear weights (BinaryConnect, XNOR-Net, BNN); XNOR and BNN also binarize the
    layers' input activations with an inserted ``sign`` op. Weights are bit-packed with their scales."""
    targets = _targets(graph, params, params.keep_first_last, "binarize")
    taken: set[str] = set()
    sign_of: dict[str, str] = {}
    replacements: dict[str, list[Node]] = {}
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    readers: dict[str, set[str]] = {}  # input tensor -> layers that now take the sign of its pre-activation
    changes = []
    for node in targets:
        p = layer_params(params, node.name)
        assert isinstance(p, BinarizeParams)
        changes.append(_binarize_layer(graph, node, p, taken, sign_of, replacements, specs, weights, readers))
    if not changes:
        return PassResult(graph, False, (), ("no layer to binarize",))
    drop = dropped_relus(graph, readers)
    # the sign outputs' annotations carry no shape (inferred on rebuild): they only set the dtype
    new = splice(graph, replacements, weights=weights, annotations=specs, drop=drop)
    dropped = (f"binarized activations take the sign of the pre-activation; ReLU dropped (only signs read it): "
               f"{', '.join(sorted(drop))}",) if drop else ()
    notes = ("binary networks need training (or fine-tuning) for task accuracy: the tool does not train; "
             "accuracy unknown", *_kept_note(graph, params.keep_first_last), *dropped)
    return PassResult(new, True, tuple(changes), notes)


def ternarize_array(w: np.ndarray, factor: float, how: str) -> tuple[np.ndarray, np.ndarray, float]:
    """TWN: (ternary values, scales, Delta). Delta = factor * mean|W|; alpha = mean |W| over |W| > Delta."""
    delta = float(factor * np.abs(w).mean(dtype=np.float64))
    t = (w > delta).astype(np.int8)  # int8 from the start: no int64 temporaries of a large layer
    t[w < -delta] = -1
    scales = _scales(w, how, mask=t != 0)
    assert scales is not None
    return t, scales, delta


@register_pass("ternarize", TernarizeParams, family="binary")
def ternarize(graph: OpGraph, params: TernarizeParams) -> PassResult:
    """Ternary Weight Networks: weights in {-alpha, 0, +alpha} with Delta = 0.7 mean|W|, 2-bit packed."""
    targets = _targets(graph, params, params.keep_first_last, "ternarize")
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    changes = []
    for node in targets:
        p = layer_params(params, node.name)
        assert isinstance(p, TernarizeParams)
        tname = node.params["weight"]
        spec = graph.tensor(tname)
        n_scales = 1 if p.scale == "layer" else spec.shape[0]
        meta: dict[str, Any] = {**spec.meta_dict(), **lowbit_meta("ternary", 2, n_scales),
                                "threshold_factor": p.threshold_factor}
        details: dict[str, Any] = {"threshold_factor": p.threshold_factor, "scale": p.scale, "bits": 2,
                                   "weight_dtype": "ternary", "accumulation": "ternary_accumulate"}
        if materialized(graph, node):
            w = np.asarray(graph.dense_weight(node.params["weight"]), np.float32)  # no float64 copy
            t, scales, delta = ternarize_array(w, p.threshold_factor, p.scale)
            payload = TernaryPayload.encode(t, scales)
            density = float(np.count_nonzero(t)) / t.size
            meta.update(scales=[float(s) for s in scales], delta=delta)
            new_spec = spec.with_(dtype=TERNARY, encoding="dense", density=density, stored_bits=payload.stored_bits,
                                  meta=meta)
            weights[tname] = payload
            details.update(materialized=True, delta=delta, sparsity=1.0 - density,
                           weight_error=rel_error(w, payload.decode()))
        else:
            bits = formula_bits(spec.numel, 2, n_scales)
            meta.update(scales=None, delta=None)
            new_spec = spec.with_(dtype=TERNARY, encoding="dense", stored_bits=bits, meta=meta)
            details.update(materialized=False, delta=None, sparsity=None, weight_error=None)
        specs[tname] = new_spec
        out = graph.tensor(node.outputs[0])
        specs[out.name] = out.with_(meta={**out.meta_dict(), "accumulation": "ternary_accumulate"})
        before = node_weight_bytes(graph, [node])
        changes.append(LayerChange(node.name, "ternarized", before, before - spec.size_bytes + new_spec.size_bytes,
                                   details))
    if not changes:
        return PassResult(graph, False, (), ("no layer to ternarize",))
    new = graph.with_specs(specs, weights)
    notes = ("ternary weights need training (TWN) for task accuracy: the tool does not train; accuracy unknown",
             *_kept_note(graph, params.keep_first_last))
    return PassResult(new, True, tuple(changes), notes)
