"""Quantization: ``quantize`` (fp16, bf16, int of any width; weights and activations) and
``mixed_precision`` (per-layer weight bit widths, given or allocated for a size budget).

* Integers are uniform: symmetric (signed, zero point 0) or asymmetric (unsigned, zero point chosen
  so that 0 is exact), with one scale per tensor or per output channel; rounding to nearest or
  stochastic (Gupta et al., ICML 2015: round up with probability equal to the fraction; seeded).
* Weights already encoded keep their structure: a pruned tensor in CSR stays CSR, its values become
  integers. Codebook weights lose their codebook (quantizing a shared-weight table is not supported).
* Activations (``activations: true``) are annotated int<b> with encoding ``quantized_int`` and their
  scale / zero point in the meta, from ranges given by a calibrator (``hwsim.compress.calibrate``;
  default ``moments``: seeded Gaussian inputs, a model of activations, not data).
* ``mixed_precision`` with a budget follows Lin, Talathi and Annapureddy (ICML 2016, "Fixed point
  quantization of deep convolutional networks"): the network's output noise-to-signal ratio is the
  sum of the layers' (1/SQNR_total = sum_i 1/SQNR_i), so the allocator greedily buys the bit that
  lowers that sum most per stored bit (after a Lagrangian sweep; see ``allocate_bits``), using each
  layer's *measured* SQNR at every candidate width: real quantization of the real weights, on up to
  2^18 of them per layer (whole output channels, seeded choice, scales from the full tensor); the
  ~6 dB/bit model when weights are not materialized. The size budget is never exceeded.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from hwsim.compress._encoded import (
    sqnr_db,
    FORMULA_NOTE, WEIGHTED_OPS, ValueRepr, carry_meta, change, formula_spec, is_materialized, real_spec,
    split_encodable, structure_of, structure_options,
)
from hwsim.compress.base import PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.compress.calibrate import CALIBRATORS
from hwsim.errors import CompressionError
from hwsim.formats import encode, quantize_array
from hwsim.formats.dense import QuantizedIntPayload, encode_dense
from hwsim.formats.values import SCALE_BITS
from hwsim.ir.dtypes import BF16, FP16, int_dtype
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.tensor import TensorSpec

ACCURACY_NOTE = ("task accuracy after quantization is not measured here (see `hwsim verify` for output "
                 "fidelity); low bit widths usually need quantization-aware fine-tuning")


class QuantizeParams(PassParams):
    format: Literal["int", "fp16", "bf16"] = "int"
    bits: int = Field(default=8, ge=1, le=32, description="integer width (format int)")
    symmetric: bool = True
    granularity: Literal["tensor", "channel", "group"] = "channel"
    group_size: int = Field(default=128, ge=2, description="values per scale (granularity group): 32 / 64 / 128")
    scale_bits: Literal[16, 32] = Field(default=32, description="stored width of each scale (16: fp16, as GGUF, "
                                                                 "GPTQ and AWQ store them)")
    weights: bool = True
    activations: bool = False
    act_bits: int | None = Field(default=None, ge=1, le=32, description="default: bits")
    act_symmetric: bool = False
    rounding: Literal["nearest", "stochastic"] = "nearest"
    seed: int = 0
    calibration: str = "moments"
    calibration_samples: int = Field(default=256, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "QuantizeParams":
        if self.format == "int" and self.symmetric and self.bits < 2:
            raise ValueError("symmetric integer quantization needs bits >= 2 (use symmetric: false, or binarize)")
        if self.granularity == "group" and self.format != "int":
            raise ValueError("granularity group applies to format int only")
        return self


def _float_source(graph: OpGraph, t: str, what: str) -> tuple[np.ndarray, str, dict[str, Any]]:
    """Float values of a stored weight, and the structure to store the result in."""
    value = graph.weight(t)
    structure = structure_of(value)
    if structure not in ("dense", "csr", "csc", "coo", "bitmap", "relative_index"):
        raise CompressionError(f"{what}: weights stored as {structure!r} cannot be quantized element-wise")
    return graph.dense_weight(t).astype(np.float32, copy=False), structure, structure_options(value)


def quantize_weight(graph: OpGraph, node: Node, p: Any, bits: int, layer_rng: np.random.Generator | None,
                    what: str) -> tuple[TensorSpec, Any | None, dict[str, Any]]:
    """(new spec, new stored value or None when formula-only, details) for one layer's weight."""
    t = node.params["weight"]
    spec = graph.tensor(t)
    keep = carry_meta(spec)
    per_channel = p.granularity == "channel"
    if p.format in ("fp16", "bf16"):
        dt = FP16 if p.format == "fp16" else BF16
        if not is_materialized(graph, [t]):
            rep = ValueRepr("float", 16, 0, {"value_dtype": p.format})
            structure = spec.meta_dict().get("structure", "dense") if spec.encoding != "dense" else "dense"
            return formula_spec(spec, structure, rep, dtype=dt, extra_meta=keep), None, {"format": p.format, "bits": 16}
        w, structure, opts = _float_source(graph, t, what)
        dense = encode_dense(w, p.format)
        new = dense if structure == "dense" else encode(structure, dense, **opts)
        err = sqnr_db(w, new.decode())
        return real_spec(spec, new, keep), new, {"format": p.format, "bits": 16, "sqnr_db": err}
    if p.granularity == "group":
        return _quantize_groups(graph, node, p, bits, layer_rng, what, keep)
    if not is_materialized(graph, [t]):
        count = spec.shape[0] if per_channel else 1
        rep = ValueRepr("quantized_int", bits, count * (SCALE_BITS + (0 if p.symmetric else bits)),
                        {"signed": p.symmetric, "symmetric": p.symmetric,
                         "scale_granularity": p.granularity, "scale_count": count, "scale_bits": SCALE_BITS})
        structure = spec.meta_dict().get("structure", "dense") if spec.encoding != "dense" else "dense"
        opts = {"index_bits": spec.meta_dict()["index_bits"]} if structure == "relative_index" else {}
        return (formula_spec(spec, structure, rep, extra_meta=keep, **opts), None,
                {"format": "int", "bits": bits, "sqnr_db": None})
    w, structure, opts = _float_source(graph, t, what)
    q = quantize_array(w, bits, p.symmetric, per_channel, p.rounding, layer_rng)
    new = q if structure == "dense" else encode(structure, q, **opts)
    return real_spec(spec, new, keep), new, {"format": "int", "bits": bits, "granularity": p.granularity,
                                             "sqnr_db": sqnr_db(w, q.decode())}


def _quantize_groups(graph: OpGraph, node: Node, p: Any, bits: int, layer_rng: np.random.Generator | None,
                     what: str, keep: dict[str, Any]) -> tuple[TensorSpec, Any | None, dict[str, Any]]:
    """Group-wise weight-only integers: one scale (and, asymmetric, one b-bit zero point) per group of
    ``group_size`` consecutive values of a row (llama.cpp Q8_0 / Q4_0 blocks: symmetric, fp16 scale,
    32 values; GPTQ / AWQ storage: asymmetric, fp16 scale, 4-bit zero, 128 values)."""
    t = node.params["weight"]
    spec = graph.tensor(t)
    g = p.group_size
    row = spec.numel // spec.shape[0]
    if spec.encoding != "dense" or row % g:
        raise CompressionError(f"{what}: group-wise quantization needs a dense weight whose rows ({row} values) "
                               f"are a whole number of groups of {g}")
    count = spec.numel // g
    details = {"format": "int", "bits": bits, "granularity": "group", "group_size": g, "scale_bits": p.scale_bits}
    if not is_materialized(graph, [t]):
        rep = ValueRepr("quantized_int", bits, count * (p.scale_bits + (0 if p.symmetric else bits)),
                        {"signed": p.symmetric, "symmetric": p.symmetric, "scale_granularity": "group",
                         "group_size": g, "scale_count": count, "scale_bits": p.scale_bits})
        return formula_spec(spec, "dense", rep, extra_meta=keep), None, {**details, "sqnr_db": None}
    w, _, _ = _float_source(graph, t, what)
    groups = w.reshape(count, g)
    first = quantize_array(groups, bits, p.symmetric, True, p.rounding, layer_rng)
    scale = first.scale
    if p.scale_bits == 16:  # the stored scale is an fp16 number: quantize against that one
        scale = np.where(scale > 0, scale.astype(np.float16).astype(np.float32), np.float32(1.0))
        scale = np.maximum(scale, np.float32(np.finfo(np.float16).tiny))
    zp = None
    if not p.symmetric:
        lo = np.minimum(groups.min(axis=1), 0)
        zp = np.clip(np.rint(-lo / scale), 0, 2**bits - 1).astype(np.int32)
    q = quantize_array(groups, bits, p.symmetric, True, p.rounding,
                       None if layer_rng is None else np.random.default_rng(layer_rng.integers(2**63)),
                       scale=scale, zero_point=zp)
    values = replace(q.values, scale_bits=p.scale_bits, group_size=g)
    new = QuantizedIntPayload(tuple(spec.shape), values)
    return real_spec(spec, new, keep), new, {**details, "sqnr_db": sqnr_db(w, new.decode())}


def _rng(p: Any, node: Node) -> np.random.Generator | None:
    if p.rounding != "stochastic":
        return None
    return np.random.default_rng([p.seed, zlib.crc32(node.name.encode())])


def _activation_specs(graph: OpGraph, params: QuantizeParams, nodes: list[Node]) -> tuple[dict[str, TensorSpec],
                                                                                            list[str]]:
    """int<b> annotations for the activations the selected nodes read and write."""
    bits = params.act_bits or params.bits
    if params.format != "int":
        dt = FP16 if params.format == "fp16" else BF16
        tensors = {t for n in nodes for t in (*n.inputs, *n.outputs) if t not in graph.inputs}
        return {t: graph.tensor(t).with_(dtype=dt) for t in sorted(tensors)}, []
    if params.act_symmetric and bits < 2:
        raise CompressionError("pass 'quantize': symmetric activations need act_bits >= 2")
    tensors = sorted({t for n in nodes for t in (*n.inputs, *n.outputs) if t not in graph.inputs})
    weights = [t for n in graph.nodes for t in n.params.values()]
    notes: list[str] = []
    ranges: dict[str, tuple[float, float]] = {}
    if is_materialized(graph, weights):
        ranges = CALIBRATORS.get(params.calibration)(graph, params.calibration_samples, params.seed)
        if params.calibration == "moments":
            notes.append("activation ranges are modelled from seeded N(0,1) inputs (moments calibrator), not "
                         "measured on data")
    else:
        notes.append("weights not materialized: activation scales unknown (ranges need the weights)")
    dt = int_dtype(bits, params.act_symmetric)
    specs = {}
    for t in tensors:
        spec = graph.tensor(t)
        meta: dict[str, Any] = {"value_format": "quantized_int", "value_bits": bits, "signed": params.act_symmetric,
                                "symmetric": params.act_symmetric, "scale_granularity": "tensor",
                                "calibration": params.calibration}
        if t in ranges:
            lo, hi = ranges[t]
            if params.act_symmetric:
                amax = max(abs(lo), abs(hi))
                scale, zp = (amax / (2 ** (bits - 1) - 1) if amax > 0 else 1.0), 0
            else:
                lo, hi = min(lo, 0.0), max(hi, 0.0)
                scale = (hi - lo) / (2**bits - 1) if hi > lo else 1.0
                zp = int(np.clip(round(-lo / scale), 0, 2**bits - 1))
            meta.update(range_min=round(float(lo), 6), range_max=round(float(hi), 6), scale=float(np.float32(scale)),
                        zero_point=zp)
        else:
            meta.update(scale=None, zero_point=None)
        specs[t] = spec.with_(dtype=dt, encoding="quantized_int", meta=meta)
    return specs, notes


@register_pass("quantize", QuantizeParams, family="quantize")
def quantize(graph: OpGraph, params: QuantizeParams) -> PassResult:
    """fp16 / bf16 / int<b> quantization of weights (per tensor or channel) and optionally activations."""
    nodes, skipped = split_encodable(graph, select_layers(graph, params, WEIGHTED_OPS, "quantize"), "quantize")
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    notes = [ACCURACY_NOTE, *skipped]
    formula = False
    if params.weights:
        if params.granularity == "group":  # group-wise formats (GGUF, GPTQ, AWQ) are defined for linear layers
            kept = [n.name for n in nodes if n.op != "linear"]
            nodes = [n for n in nodes if n.op == "linear"]
            if kept:
                notes.append(f"group-wise formats apply to linear layers: {len(kept)} other weighted layers kept "
                             "as they were")

            def whole_groups(n: Node) -> bool:
                spec = graph.tensor(n.params["weight"])
                return (spec.numel // spec.shape[0]) % layer_params(params, n.name).group_size == 0

            partial = [n.name for n in nodes if not whole_groups(n)]
            nodes = [n for n in nodes if whole_groups(n)]
            if partial:
                notes.append(f"kept as they were: {len(partial)} layer(s) whose rows are not whole groups of "
                             f"{params.group_size} ({', '.join(partial[:6])}{' ...' if len(partial) > 6 else ''})")
        for node in nodes:
            p = layer_params(params, node.name)
            if p.format == "int" and p.symmetric and p.bits < 2:
                raise CompressionError("symmetric integer quantization needs bits >= 2", where=f"layer {node.name!r}")
            spec, value, det = quantize_weight(graph, node, p, p.bits, _rng(p, node),
                                               f"pass 'quantize', layer {node.name!r}")
            specs[node.params["weight"]] = spec
            if value is None:
                formula = True
            else:
                weights[node.params["weight"]] = value
            details[node.name] = {**det, "symmetric": p.symmetric}
    if params.activations:
        all_nodes = select_layers(graph, params, None, "quantize")
        act_specs, act_notes = _activation_specs(graph, params, all_nodes)
        specs.update(act_specs)
        notes += act_notes
        for node in nodes:
            details.setdefault(node.name, {})["act_bits"] = params.act_bits or params.bits
    if formula:
        notes.append(FORMULA_NOTE)
    out = graph.with_specs(specs, weights)
    changes = tuple(change(graph, out, n, "quantized", **details.get(n.name, {})) for n in nodes)
    return PassResult(out, bool(specs), changes, tuple(notes))


# --- mixed precision ---------------------------------------------------------------------------------

class MixedPrecisionParams(PassParams):
    bits: dict[str, int] = Field(default_factory=dict, description="layer name or glob -> weight bits")
    budget_bits_per_weight: float | None = Field(default=None, gt=0, description="average bits per weight")
    budget_ratio: float | None = Field(default=None, gt=0, le=1, description="fraction of the fp32 weight size")
    budget_bytes: int | None = Field(default=None, gt=0)
    candidate_bits: list[int] = Field(default_factory=lambda: [2, 3, 4, 5, 6, 8])
    default_bits: int = Field(default=8, ge=2, le=32)
    symmetric: bool = True
    granularity: Literal["tensor", "channel"] = "channel"
    format: Literal["int"] = "int"
    rounding: Literal["nearest"] = "nearest"
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> "MixedPrecisionParams":
        budgets = [b for b in (self.budget_bits_per_weight, self.budget_ratio, self.budget_bytes) if b is not None]
        if len(budgets) > 1:
            raise ValueError("give at most one of budget_bits_per_weight, budget_ratio, budget_bytes")
        if not self.candidate_bits or min(self.candidate_bits) < 2 or max(self.candidate_bits) > 32:
            raise ValueError("candidate_bits must be widths in 2..32 (symmetric integers)")
        for k, v in self.bits.items():
            if not 2 <= v <= 32:
                raise ValueError(f"bits for {k!r} must be in 2..32, got {v}")
        return self


def _layer_bits_cost(spec: TensorSpec, bits: int, per_channel: bool) -> int:
    return spec.numel * bits + (spec.shape[0] if per_channel else 1) * SCALE_BITS


SQNR_SAMPLE = 1 << 18  # weights per layer the allocator quantizes to measure SQNR (whole output channels)


def _sqnr_sample(w: np.ndarray, per_channel: bool, layer: str) -> tuple[np.ndarray, Any]:
    """Whole output channels of ``w`` (seeded choice, at most ``SQNR_SAMPLE`` weights) and the scale each
    width would use on the *full* tensor, so the sampled SQNR is that of the real quantizer."""
    rows = w.shape[0] if w.ndim > 1 else 1
    flat = w.reshape(rows, -1)
    keep = max(1, min(rows, SQNR_SAMPLE // max(flat.shape[1], 1)))
    if keep < rows:
        idx = np.sort(np.random.default_rng(zlib.crc32(layer.encode())).choice(rows, keep, replace=False))
        sample = flat[idx]
    else:
        sample = flat
    amax = float(np.abs(w).max()) if w.size else 0.0

    def scale_of(bits: int) -> np.ndarray | None:
        if per_channel:
            return None  # per-channel scales of the sampled rows are the full quantizer's
        return np.array([amax / (2 ** (bits - 1) - 1) if amax > 0 else 1.0], np.float32)

    return sample, scale_of


def allocate_bits(graph: OpGraph, nodes: list[Node], candidates: list[int], budget_bits: int, per_channel: bool,
                  fixed: dict[str, int]) -> tuple[dict[str, int], dict[str, dict[int, float]]]:
    """SQNR allocation (Lin et al. 2016): minimize sum_i 1/SQNR_i (the output noise-to-signal ratio)
    subject to the stored size. A Lagrangian sweep (each layer independently minimizes
    1/SQNR_i + lambda x bits_i; lambda bisected to meet the budget) finds the best allocation on the
    convex hull, a greedy pass spends what is left, and the result is kept only if it beats every
    uniform width that fits. Returns bits per layer and the measured SQNR table (dB)."""
    cands = sorted(set(candidates))
    sqnr: dict[str, dict[int, float]] = {}
    for node in nodes:
        t = node.params["weight"]
        if is_materialized(graph, [t]):
            w = graph.dense_weight(t).astype(np.float32)
            sample, scale_of = _sqnr_sample(w, per_channel, node.name)
            sqnr[node.name] = {b: sqnr_db(sample, quantize_array(sample, b, True, per_channel,
                                                                  scale=scale_of(b)).decode()) or 0.0
                               for b in sorted(set(cands) | ({fixed[node.name]} if node.name in fixed else set()))}
        else:
            sqnr[node.name] = {b: 6.02 * b - 7.27 for b in cands}  # uniform quantizer on Gaussian weights
            if node.name in fixed:
                sqnr[node.name][fixed[node.name]] = 6.02 * fixed[node.name] - 7.27
    specs = {n.name: graph.tensor(n.params["weight"]) for n in nodes}

    def nsr(name: str, b: int) -> float:
        db = sqnr[name][b]
        return 0.0 if math.isinf(db) else 10 ** (-db / 10)

    def cost(name: str, b: int) -> int:
        return _layer_bits_cost(specs[name], b, per_channel)

    def total(choice: dict[str, int]) -> int:
        return sum(cost(n, b) for n, b in choice.items())

    def objective(choice: dict[str, int]) -> float:
        return sum(nsr(n, b) for n, b in choice.items())

    free = [n.name for n in nodes if n.name not in fixed]
    base = {n: fixed[n] for n in fixed if n in specs}

    def pick(lam: float) -> dict[str, int]:
        out = dict(base)
        for n in free:
            out[n] = min(cands, key=lambda b: (nsr(n, b) + lam * cost(n, b), b))
        return out

    smallest = {**base, **{n: cands[0] for n in free}}
    if total(smallest) > budget_bits:
        raise CompressionError(f"pass 'mixed_precision': the budget ({budget_bits} bits) is below the smallest "
                               f"allocation ({total(smallest)} bits at {cands[0]} bits per weight)")
    lo, hi = -40.0, 10.0  # log10 lambda: small lambda buys bits, large lambda saves them
    for _ in range(80):
        mid = (lo + hi) / 2
        if total(pick(10**mid)) <= budget_bits:
            hi = mid
        else:
            lo = mid
    choice = pick(10**hi)
    if total(choice) > budget_bits:
        choice = smallest
    while True:  # spend what the hull step left over
        best: tuple[float, str, int] | None = None
        for n in free:
            wider = [c for c in cands if c > choice[n]]
            if not wider:
                continue
            extra = cost(n, wider[0]) - cost(n, choice[n])
            if total(choice) + extra > budget_bits:
                continue
            gain = (nsr(n, choice[n]) - nsr(n, wider[0])) / extra
            if best is None or gain > best[0]:
                best = (gain, n, wider[0])
        if best is None or best[0] <= 0:
            break
        choice[best[1]] = best[2]
    for b in cands:
        uniform = {**base, **{n: b for n in free}}
        if total(uniform) <= budget_bits and objective(uniform) < objective(choice):
            choice = uniform
    return choice, sqnr


@register_pass("mixed_precision", MixedPrecisionParams, family="quantize")
def mixed_precision(graph: OpGraph, params: MixedPrecisionParams) -> PassResult:
    """Per-layer integer weight widths: given per layer, or allocated for a size budget by SQNR."""
    import fnmatch

    nodes, skipped = split_encodable(graph, select_layers(graph, params, WEIGHTED_OPS, "mixed_precision"),
                                     "mixed_precision")
    names = [n.name for n in graph.nodes]
    for pattern in params.bits:
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            raise CompressionError(f"pass 'mixed_precision': layer pattern {pattern!r} in 'bits' names no layer of "
                                   f"{graph.name!r}", source=graph.source)
    fixed: dict[str, int] = {}
    for node in nodes:
        for pattern, b in params.bits.items():
            if fnmatch.fnmatchcase(node.name, pattern):
                fixed[node.name] = b
    per_channel = params.granularity == "channel"
    fp32_bits = sum(graph.tensor(n.params["weight"]).numel * 32 for n in nodes)
    numel = sum(graph.tensor(n.params["weight"]).numel for n in nodes)
    budget = None
    if params.budget_bits_per_weight is not None:
        budget = int(params.budget_bits_per_weight * numel) + sum(
            (graph.tensor(n.params["weight"]).shape[0] if per_channel else 1) * SCALE_BITS for n in nodes)
    elif params.budget_ratio is not None:
        budget = int(params.budget_ratio * fp32_bits)
    elif params.budget_bytes is not None:
        budget = 8 * params.budget_bytes
    sqnr: dict[str, dict[int, float]] = {}
    if budget is not None:
        choice, sqnr = allocate_bits(graph, nodes, params.candidate_bits, budget, per_channel, fixed)
    else:
        choice = {n.name: fixed.get(n.name, params.default_bits) for n in nodes}
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    formula = False
    qp = QuantizeParams(bits=8, symmetric=params.symmetric, granularity=params.granularity)
    for node in nodes:
        spec, value, det = quantize_weight(graph, node, qp, choice[node.name], None,
                                           f"pass 'mixed_precision', layer {node.name!r}")
        specs[node.params["weight"]] = spec
        if value is None:
            formula = True
        else:
            weights[node.params["weight"]] = value
        details[node.name] = {**det, "allocated": node.name not in fixed and budget is not None}
        if node.name in sqnr:
            details[node.name]["sqnr_db_by_bits"] = {str(b): round(v, 2) for b, v in sqnr[node.name].items()}
    out = graph.with_specs(specs, weights)
    changes = tuple(change(graph, out, n, "quantized", **details[n.name]) for n in nodes)
    notes = [ACCURACY_NOTE, *skipped]
    if budget is not None:
        spent = sum(s.size_bits for s in specs.values())
        notes.append(f"bit allocation by SQNR (Lin et al. 2016) within {budget} bits: used {spent} bits")
    if formula:
        notes.append(FORMULA_NOTE)
    return PassResult(out, bool(nodes), changes, tuple(notes))


__all__ = ["QuantizeParams", "MixedPrecisionParams", "quantize", "mixed_precision", "allocate_bits",
           "quantize_weight"]
