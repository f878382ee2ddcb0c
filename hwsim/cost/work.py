"""What each op asks of any device, read once from the graph: counts, GEMM shape, dtypes, stored bytes.

``prepare(graph)`` is computed once per graph (cached) so that costing the same graph on a thousand
device configurations (sweeps) only runs the device-dependent arithmetic. Everything here comes from
tensor annotations (dtype, encoding, density, stored_bits, meta) and op kinds/attrs, never from which
compression pass ran.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hwsim.ir import OpGraph
from hwsim.ir.counting import op_counts
from hwsim.ir.ops import CountInput
from hwsim.ir.dtypes import DType
from hwsim.ir.graph import Node
from hwsim.ir.opdefs.conv import WINOGRAD
from hwsim.ir.tensor import TensorSpec


@dataclass(frozen=True)
class Gemm:
    """The op as ``batch`` independent products [m x k] x [k x n] (groups, Winograd points, heads)."""

    batch: int
    m: int
    n: int
    k: int

    @property
    def macs(self) -> int:
        return self.batch * self.m * self.n * self.k


@dataclass(frozen=True)
class WeightInfo:
    """The main weight tensor: encoding, density, its size at rest and its size at run time.

    ``stored_bytes`` is the real encoded size at rest (what "model size" shows: Huffman-coded streams
    at their Huffman size, code tables included). ``runtime_bytes`` is what kernels read on every
    inference: the same, except that Huffman stages are decoded once at model load (Deep Compression's
    and EIE's execution format: codebook indices and relative indices at their fixed widths), from the
    payload's ``fixed_width_bits``. A device with an on-the-fly Huffman decoder
    (``sparse.huffman_decode: on_the_fly``) reads ``stored_bytes`` instead.
    """

    dtype: DType
    encoding: str
    density: float
    numel: int
    nonzeros: int
    stored_bytes: int
    meta: Mapping[str, Any]
    runtime_bytes: int = -1  # -1: same as stored_bytes

    def __post_init__(self) -> None:
        if self.runtime_bytes < 0:
            object.__setattr__(self, "runtime_bytes", self.stored_bytes)

    @property
    def dense_bytes(self) -> int:
        return (self.numel * self.dtype.bits + 7) // 8

    @property
    def bytes_per_element(self) -> float:
        """Run-time bytes per dense element (indices and codebooks included, Huffman decoded)."""
        return self.runtime_bytes / max(self.numel, 1)

    @property
    def stored_bytes_per_element(self) -> float:
        """At-rest bytes per dense element (Huffman stages at their coded size)."""
        return self.stored_bytes / max(self.numel, 1)

    @property
    def huffman_coded(self) -> bool:
        return self.runtime_bytes != self.stored_bytes


@dataclass(frozen=True)
class OpWork:
    node: str
    op: str
    group: str
    macs: int
    arith: Mapping[str, int]
    gemm: Gemm | None
    act_dtype: DType
    out_dtype: DType
    weight: WeightInfo | None
    other_param_bytes: int  # bias, batchnorm statistics, ... (read once)
    in_bytes: tuple[int, ...]
    out_bytes: int
    in_numel: int
    out_numel: int
    attrs: Mapping[str, Any] = field(default_factory=dict)
    #: second operand of an activation x activation product (matmul): its dtype
    rhs_dtype: DType | None = None
    #: structural fusion: this op can run inside the kernel of node ``fuse_into`` ("batchnorm": an
    #: inference batchnorm folded into the conv / linear before it; "activation": a pointwise
    #: activation applied in its producer's epilogue). Devices decide whether they fuse (profile key
    #: ``fusion``); None when the op must run on its own.
    fuse_kind: str | None = None
    fuse_into: str | None = None
    #: a grouped conv with one input channel per group (depthwise): its own kernel class
    depthwise: bool = False
    #: per input: a state tensor kept in memory between runs (an LLM's KV cache), never found on chip
    state_inputs: tuple[bool, ...] = ()

    def input_is_state(self, i: int) -> bool:
        return i < len(self.state_inputs) and self.state_inputs[i]

    @property
    def param_bytes(self) -> int:
        """Parameter bytes read at run time (Huffman stages decoded at load; see WeightInfo)."""
        return (self.weight.runtime_bytes if self.weight else 0) + self.other_param_bytes

    @property
    def stored_param_bytes(self) -> int:
        """Parameter bytes at rest."""
        return (self.weight.stored_bytes if self.weight else 0) + self.other_param_bytes


    @property
    def act_in_bytes(self) -> int:
        return sum(self.in_bytes)


@dataclass(frozen=True)
class Workload:
    """A graph prepared for costing: one OpWork per node in schedule (topological) order, plus the
    liveness of every activation tensor (for peak memory)."""

    model: str
    ops: tuple[OpWork, ...]
    input_bytes: int
    weight_bytes: int  # at rest (what "model size" shows)
    #: tensor bytes produced by each step and freed after each step (index = step)
    live_after: tuple[int, ...]
    peak_activation_bytes: int
    peak_step: int
    runtime_weight_bytes: int = -1  # in memory while running (Huffman decoded at load); -1: weight_bytes

    def __post_init__(self) -> None:
        if self.runtime_weight_bytes < 0:
            object.__setattr__(self, "runtime_weight_bytes", self.weight_bytes)


_CACHE: "weakref.WeakKeyDictionary[OpGraph, Workload]" = weakref.WeakKeyDictionary()


def prepare(graph: OpGraph) -> Workload:
    """The graph's workload, computed once per graph object."""
    w = _CACHE.get(graph)
    if w is None:
        w = _prepare(graph)
        _CACHE[graph] = w
    return w


def _runtime_bytes(spec: TensorSpec) -> int:
    """Bytes of the tensor once Huffman stages are decoded (formats' ``fixed_width_bits``)."""
    fixed = spec.meta_dict().get("fixed_width_bits")
    return (int(fixed) + 7) // 8 if fixed is not None else spec.size_bytes


def _weight_info(spec: TensorSpec) -> WeightInfo:
    return WeightInfo(dtype=spec.dtype, encoding=spec.encoding, density=spec.density, numel=spec.numel,
                      nonzeros=spec.nonzeros, stored_bytes=spec.size_bytes, meta=spec.meta_dict(),
                      runtime_bytes=_runtime_bytes(spec))


#: Op groups whose kernel can fold a following inference batchnorm into its weights and bias.
BN_FOLD_INTO = frozenset({"conv", "dense"})
#: Op groups whose kernel can apply a following pointwise activation in its epilogue.
ACT_FUSE_INTO = frozenset({"conv", "dense", "matmul", "norm", "elementwise"})
#: Activations that are not pointwise (a reduction over an axis): never fused.
NOT_POINTWISE = frozenset({"softmax"})


def _fusion(graph: OpGraph, node: Node, group: str) -> tuple[str | None, str | None]:
    """(kind, producer) when ``node`` can run inside its producer's kernel, else (None, None).

    The tensor between them must have no other reader and not be a graph output (it is never
    written to memory when fused)."""
    if group not in ("norm", "activation") or not node.inputs:
        return None, None
    if group == "norm" and node.op != "batchnorm":
        return None, None
    if group == "activation" and node.op in NOT_POINTWISE:
        return None, None
    t = node.inputs[0]
    producer = graph.producer(t)
    if producer is None or t in graph.outputs or len(graph.consumers(t)) != 1:
        return None, None
    pgroup = producer.opdef.group.value
    if group == "norm":
        return ("batchnorm", producer.name) if pgroup in BN_FOLD_INTO else (None, None)
    return ("activation", producer.name) if pgroup in ACT_FUSE_INTO else (None, None)


def _gemm(graph: OpGraph, node: Node, group: str, macs: int, out_numel: int) -> Gemm | None:
    if macs <= 0:
        return None
    attrs = node.attrs
    if group == "matmul":
        a = graph.tensor(node.inputs[0]).shape
        b = graph.tensor(node.inputs[1]).shape
        m, k, n = a[-2], a[-1], b[-1]
        return Gemm(max(1, out_numel // max(m * n, 1)), m, n, k)
    wname = node.params.get("weight")
    if wname is None:
        return None
    wshape = graph.tensor(wname).shape
    groups = int(attrs.get("groups", 1)) if group == "conv" else 1
    algo = attrs.get("algorithm", "direct")
    if group == "conv" and algo in WINOGRAD and len(wshape) == 4:
        spec = WINOGRAD[algo]
        mt, r = spec["m"], spec["r"]
        n_b, _, ho, wo = graph.tensor(node.outputs[0]).shape
        tiles = n_b * math.ceil(ho / mt) * math.ceil(wo / mt)
        return Gemm(groups * (mt + r - 1) ** 2, tiles, wshape[0] // groups, wshape[1])
    n_total = wshape[0]
    k = math.prod(wshape[1:]) if len(wshape) > 1 else 1
    n = max(1, n_total // groups)
    m = max(1, round(macs / (groups * n * k)))
    return Gemm(groups, m, n, k)


def _count_input(graph: OpGraph, node: Node) -> CountInput:
    return CountInput(node.attrs, [graph.tensor(t).shape for t in node.inputs],
                      [graph.tensor(t).shape for t in node.outputs],
                      {slot: graph.tensor(t).shape for slot, t in node.params.items()})


def _partly_read(weight: WeightInfo, elements: int) -> WeightInfo:
    """The weight as one run reads it: ``elements`` of it (an embedding's gathered rows), run-time bytes
    in proportion; its size at rest is unchanged."""
    share = min(1.0, elements / max(weight.numel, 1))
    return replace(weight, runtime_bytes=int(math.ceil(weight.runtime_bytes * share)),
                   meta={**weight.meta, "read_elements": min(elements, weight.numel)})


def _prepare(graph: OpGraph) -> Workload:
    ops: list[OpWork] = []
    for node in graph.nodes:
        group = node.opdef.group.value
        oc = op_counts(graph, node)
        in_specs = [graph.tensor(t) for t in node.inputs]
        out_specs = [graph.tensor(t) for t in node.outputs]
        pspecs = {slot: graph.tensor(t) for slot, t in node.params.items()}
        weight = _weight_info(pspecs["weight"]) if "weight" in pspecs else None
        if weight is not None and node.opdef.weight_read is not None:  # reads part of its weight (rows)
            weight = _partly_read(weight, node.opdef.weight_read(_count_input(graph, node)))
        other = sum(s.size_bytes for slot, s in pspecs.items() if slot != "weight")
        out_numel = sum(s.numel for s in out_specs)
        fuse_kind, fuse_into = _fusion(graph, node, group)
        ops.append(OpWork(
            node=node.name, op=node.op, group=group, macs=oc.macs, arith=dict(oc.arith),
            gemm=_gemm(graph, node, group, oc.macs, out_specs[0].numel),
            act_dtype=in_specs[0].dtype if in_specs else out_specs[0].dtype, out_dtype=out_specs[0].dtype,
            weight=weight, other_param_bytes=other, in_bytes=tuple(s.size_bytes for s in in_specs),
            out_bytes=sum(s.size_bytes for s in out_specs), in_numel=sum(s.numel for s in in_specs),
            out_numel=out_numel, attrs=dict(node.attrs),
            rhs_dtype=in_specs[1].dtype if group == "matmul" and len(in_specs) > 1 else None,
            fuse_kind=fuse_kind, fuse_into=fuse_into,
            depthwise=(group == "conv" and int(node.attrs.get("groups", 1)) > 1 and "weight" in pspecs
                       and len(pspecs["weight"].shape) == 4 and pspecs["weight"].shape[1] == 1),
            state_inputs=tuple(s.meta_dict().get("state") is not None for s in in_specs),
        ))
    live, peak, peak_step = _liveness(graph)
    wspecs = [graph.tensor(t) for t in graph.weight_names()]
    return Workload(model=graph.name, ops=tuple(ops), input_bytes=sum(graph.tensor(i).size_bytes for i in graph.inputs),
                    weight_bytes=sum(s.size_bytes for s in wspecs), live_after=live, peak_activation_bytes=peak,
                    peak_step=peak_step, runtime_weight_bytes=sum(_runtime_bytes(s) for s in wspecs))


def _liveness(graph: OpGraph) -> tuple[tuple[int, ...], int, int]:
    """Peak bytes of live activations over the topological schedule.

    A tensor is live from the step that produces it (graph inputs: from the start) through the last
    step that reads it; graph outputs stay live to the end. During a step its inputs and outputs are
    live together (no in-place reuse assumed).
    """
    nodes = graph.nodes
    last_use: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for t in n.inputs:
            last_use[t] = i
    end = len(nodes)
    for t in graph.outputs:
        last_use[t] = end
    live: dict[str, int] = {t: graph.tensor(t).size_bytes for t in graph.inputs}
    current = sum(live.values())
    peak, peak_step = current, 0
    after: list[int] = []
    for i, n in enumerate(nodes):
        for t in n.outputs:
            if not n.inputs:  # a constant node: its value lives in weight memory, counted there
                continue
            b = graph.tensor(t).size_bytes
            live[t] = b
            current += b
        if current > peak:
            peak, peak_step = current, i
        for t in list(live):
            if last_use.get(t, -1) <= i and t not in graph.outputs:
                current -= live.pop(t)
        after.append(current)
    return tuple(after), peak, peak_step
