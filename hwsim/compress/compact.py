"""Compact filters and students: depthwise-separable blocks, width and depth multipliers, a student
model, and transferred (negated) filters.

None of these is a faithful compression of a trained network: they change the architecture, and
the new network's task accuracy needs training the tool does not do. Every result says so in its
notes; where real weights exist they are carried over as well as the rewrite allows (a rank-1
fit for depthwise-separable blocks, leading slices for the width multiplier, the block-free network
for the depth multiplier) and the reconstruction error is recorded where it is defined.

* ``depthwise_separable`` (Howard et al., "MobileNets", 2017): a standard kxk conv S -> T becomes a
  kxk depthwise conv (S groups, the original stride, padding, dilation) then a 1x1 conv S -> T, so the
  MACs become exactly (1/T + 1/k^2) of the original (the pointwise conv keeps the node name and the
  bias). With real weights each input channel's [T, k*k] slice is fitted by its best rank-1 product
  (SVD), the closest depthwise-separable kernel in the Frobenius norm.
* ``width_multiplier`` (MobileNets' alpha): every channel count becomes max(1, round(alpha C)),
  rounded to a multiple of any group count that constrains it. Channels are grouped into classes that
  must stay equal (residual additions and multiplications join their operands' classes, depthwise
  convs, batchnorms, activations and pools carry their input's class) so residuals stay consistent;
  concatenations just sum their (scaled) inputs. Channels of the graph inputs and outputs, and of any
  tensor an op without a known channel rule touches (reshape, matmul, split...), are not scaled.
  Changed weight tensors are renamed (``<tensor>@w<alpha>``) and, if materialized, sliced to their
  leading entries.
* ``depth_multiplier``: drops identity-residual blocks (y = x + f(x) with f's output the shape of x,
  f used nowhere else), which the network can lose without any shape change. Consecutive such blocks
  form a run (ResNet's identity blocks of one stage, MobileNetV2's repeated inverted residuals); of a
  run of n blocks the first round(depth n) (halves rounded up) are kept and the rest removed. Nets
  without identity-residual blocks (VGG, AlexNet) are left unchanged, with a note.
* ``student``: the whole model is replaced by a user-given student model file (knowledge
  distillation's student); its input and output shapes must match the teacher's. Loading a file needs
  the frontends, which this package may not import: the caller installs the loader with
  :func:`set_model_loader` (``hwsim.pipeline`` / the CLI do so with ``hwsim.frontends.load_model``).
* ``transferred_filters`` (the CReLU observation, Shang et al., ICML 2016: low-level filters come in
  negated pairs): only the first half of a conv's filters is stored, the second half is its negation.
  The weight tensor gets encoding ``negated_half`` (:class:`NegatedHalfPayload`): stored bytes halve,
  the MACs do not change. With real weights the stored half is h_i = (W_i - W_{i+T/2}) / 2, the least
  squares choice for that pairing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from hwsim.compress._encoded import stored_as
from hwsim.compress._splice import (
    dense, materialized, node_weight_bytes, one_blas_thread, rel_error, splice, unique_name,
)
from hwsim.compress.base import LayerChange, PassParams, PassResult, register_pass, select_layers
from hwsim.compress.lowrank import conv_node
from hwsim.errors import CompressionError, HwsimError
from hwsim.ir.graph import Node, OpGraph
from hwsim.ir.ops import OpGroup
from hwsim.ir.tensor import TensorSpec

TRAINING_NOTE = ("task accuracy of the rewritten architecture requires training (or fine-tuning) that the tool "
                 "does not do: accuracy unknown")


# --- depthwise separable -------------------------------------------------------------------------
class DepthwiseSeparableParams(PassParams):
    pass


def rank1_depthwise(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best depthwise-separable fit of W [T, S, kh, kw]: depthwise D [S, 1, kh, kw], pointwise
    P [T, S, 1, 1], and the approximation P[t, s] D[s] (rank-1 SVD of each [T, kh kw] slice)."""
    t_out, s_in, kh, kw = w.shape
    d = np.zeros((s_in, 1, kh, kw))
    pw = np.zeros((t_out, s_in, 1, 1))
    for s in range(s_in):
        u, sv, vt = np.linalg.svd(w[:, s].reshape(t_out, kh * kw), full_matrices=False)
        root = math.sqrt(sv[0])
        d[s, 0] = (root * vt[0]).reshape(kh, kw)
        pw[:, s, 0, 0] = root * u[:, 0]
    approx = pw[:, :, 0, 0][:, :, None, None] * d[:, 0][None]
    return d, pw, approx


def _dw_eligible(node: Node) -> str | None:
    if node.attrs["groups"] != 1:
        return "grouped/depthwise convolution"
    if node.attrs["kernel"] == [1, 1]:
        return "1x1 kernel"
    return None


@register_pass("depthwise_separable", DepthwiseSeparableParams, family="compact")
def depthwise_separable(graph: OpGraph, params: DepthwiseSeparableParams) -> PassResult:
    """Replace standard kxk convs by a kxk depthwise conv then a 1x1 pointwise conv (MobileNet):
    MACs become exactly 1/N + 1/Dk^2 of the original."""
    taken: set[str] = set()
    replacements: dict[str, list[Node]] = {}
    weights: dict[str, Any] = {}
    plans: list[tuple[Node, list[Node] | None, dict[str, Any]]] = []
    for node in select_layers(graph, params, ("conv2d",), "depthwise_separable"):
        why = _dw_eligible(node)
        if why:
            plans.append((node, None, {"reason": why}))
            continue
        t_out, s_in, kh, kw = graph.tensor(node.params["weight"]).shape
        a = node.attrs
        dw = unique_name(graph, f"{node.name}.dw", taken)
        pw = unique_name(graph, f"{node.name}.pw", taken)
        last_params = {"weight": f"{pw}.weight", **({"bias": node.params["bias"]} if "bias" in node.params else {})}
        nodes = [conv_node(dw, node.inputs[0], dw, s_in, a["kernel"], stride=a["stride"], padding=a["padding"],
                       dilation=a["dilation"], groups=s_in),
                 conv_node(node.name, dw, node.outputs[0], t_out, (1, 1), bias=a["bias"], params=last_params)]
        details: dict[str, Any] = {"into": [dw, node.name], "mac_ratio": 1 / t_out + 1 / (kh * kw),
                                   "materialized": materialized(graph, node)}
        if details["materialized"]:
            w = dense(graph, node)
            with one_blas_thread():
                d, p, approx = rank1_depthwise(w)
            weights[f"{dw}.weight"] = d.astype(np.float32)
            weights[f"{pw}.weight"] = p.astype(np.float32)
            details["reconstruction_error"] = rel_error(w, approx)
        else:
            details["reconstruction_error"] = None
        replacements[node.name] = nodes
        plans.append((node, nodes, details))
    if not replacements:
        return PassResult(graph, False, tuple(_skipped(graph, n, d) for n, _, d in plans),
                          ("depthwise_separable: no standard kxk conv to replace",))
    new = splice(graph, replacements, weights=weights)
    changes = []
    for node, nodes, details in plans:
        if nodes is None:
            changes.append(_skipped(graph, node, details))
        else:
            changes.append(LayerChange(node.name, "replaced", node_weight_bytes(graph, [node]),
                                       node_weight_bytes(new, [new.node(n.name) for n in nodes]), details))
    return PassResult(new, True, tuple(changes), (TRAINING_NOTE,))


def _skipped(graph: OpGraph, node: Node, details: dict[str, Any]) -> LayerChange:
    b = node_weight_bytes(graph, [node])
    return LayerChange(node.name, "skipped", b, b, details)


# --- width multiplier ----------------------------------------------------------------------------
class WidthMultiplierParams(PassParams):
    alpha: float = Field(default=0.5, gt=0.0, le=1.0)


Chan = int | tuple[int, ...] | None  # a class, a derived count (depends on these classes), unknown


class _Classes:
    """Union-find over channel classes: original size, fixed (never scaled), required divisors.

    A tensor's channels are a class (an int), derived from classes (a tuple: a concatenation, an even
    split, a flatten; fixing it fixes its constituents), or unknown (None)."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int] = []
        self.fixed: list[bool] = []
        self.divisor: list[int] = []

    def new(self, size: int, fixed: bool = False) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        self.fixed.append(fixed)
        self.divisor.append(1)
        return len(self.parent) - 1

    def find(self, c: int) -> int:
        while self.parent[c] != c:
            self.parent[c] = self.parent[self.parent[c]]
            c = self.parent[c]
        return c

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            self.fixed[ra] = self.fixed[ra] or self.fixed[rb]
            self.divisor[ra] = math.lcm(self.divisor[ra], self.divisor[rb])
        return ra

    def fix(self, c: Chan) -> None:
        for x in _members(c):
            self.fixed[self.find(x)] = True

    def need_divisor(self, c: Chan, d: int) -> None:
        """Sums and even parts of multiples of d are multiples of d: constrain every constituent."""
        for x in _members(c):
            r = self.find(x)
            self.divisor[r] = math.lcm(self.divisor[r], d)

    def scaled(self, c: int, alpha: float) -> int:
        r = self.find(c)
        if self.fixed[r]:
            return self.size[r]
        d = self.divisor[r]
        n = max(1, round(alpha * self.size[r]))
        return max(d, int(round(n / d)) * d)


def _members(c: Chan) -> tuple[int, ...]:
    if c is None:
        return ()
    return (c,) if isinstance(c, int) else c


_PASS_THROUGH_GROUPS = {OpGroup.NORM, OpGroup.ACTIVATION, OpGroup.POOL, OpGroup.CONTROL}
_PASS_THROUGH_OPS = {"identity", "dropout", "resize"}


def _channel_axis(shape: tuple[int, ...]) -> int:
    return 1 if len(shape) == 4 else len(shape) - 1


def _passes_channels(op: str, group: OpGroup, in_shapes: list[tuple[int, ...]],
                     out_shapes: list[tuple[int, ...]]) -> bool:
    """Ops whose single output has its input's channels (and channel count)."""
    if not (group in _PASS_THROUGH_GROUPS or op in _PASS_THROUGH_OPS) or len(out_shapes) != 1 or not in_shapes:
        return False
    a, b = in_shapes[0], out_shapes[0]
    return len(a) == len(b) >= 2 and a[_channel_axis(a)] == b[_channel_axis(b)]


def _even_channel_split(node: Node, in_shape: tuple[int, ...]) -> bool:
    sizes = node.attrs["sizes"]
    return node.attrs["axis"] == _channel_axis(in_shape) and len(set(sizes)) == 1


def channel_classes(graph: OpGraph) -> tuple[_Classes, dict[str, Chan]]:
    """The channel class of every tensor (see :class:`_Classes`)."""
    uf = _Classes()
    cls: dict[str, Chan] = {}
    for t in graph.inputs:
        shape = graph.tensor(t).shape
        cls[t] = uf.new(shape[_channel_axis(shape)], fixed=True) if len(shape) >= 2 else None
    for node in graph.nodes:
        ins = [cls.get(t) for t in node.inputs]
        in_shapes = [graph.tensor(t).shape for t in node.inputs]
        out_shapes = [graph.tensor(t).shape for t in node.outputs]
        outs: list[Chan]
        if node.op == "conv2d":
            g, c_in, c_out = node.attrs["groups"], in_shapes[0][1], node.attrs["out_channels"]
            if g > 1 and g == c_in == c_out:
                outs = [ins[0]]
            elif g > 1 and g == c_in:  # depthwise with a channel multiplier
                uf.fix(ins[0])
                outs = [uf.new(c_out, fixed=True)]
            else:
                outs = [uf.new(c_out)]
                if g > 1:
                    uf.need_divisor(ins[0], g)
                    uf.need_divisor(outs[0], g)
        elif node.op == "linear":
            if len(in_shapes[0]) == 4:
                uf.fix(ins[0])
            outs = [uf.new(node.attrs["out_features"])]
        elif node.op == "flatten":
            shape = in_shapes[0]
            passes = node.attrs.get("axis", 1) == 1 and len(shape) >= 2 and math.prod(shape[2:]) == 1
            outs = [ins[0] if passes else _members(ins[0])]
        elif node.op == "channel_shuffle":
            uf.need_divisor(ins[0], node.attrs["groups"])
            outs = [ins[0]]
        elif node.op in ("add", "mul"):
            out_shape = out_shapes[0]
            same = [c for c, s in zip(ins, in_shapes)
                    if len(s) == len(out_shape) and s[_channel_axis(s)] == out_shape[_channel_axis(out_shape)]]
            if all(isinstance(c, int) for c in same) and same:
                root = same[0]
                for c in same[1:]:
                    root = uf.union(root, c)  # type: ignore[arg-type]
                outs = [root]
            else:  # derived or unknown operands cannot be unified: keep them all
                for c in same:
                    uf.fix(c)
                outs = [same[0] if same else None]
        elif node.op == "concat":
            if node.attrs["axis"] == _channel_axis(out_shapes[0]):
                outs = [tuple(x for c in ins for x in _members(c))]
            else:
                for c in ins:
                    uf.fix(c)
                outs = [ins[0]]
        elif node.op == "split" and _even_channel_split(node, in_shapes[0]):
            uf.need_divisor(ins[0], len(node.attrs["sizes"]))
            outs = [_members(ins[0])] * len(node.outputs)
        elif _passes_channels(node.op, node.opdef.group, in_shapes, out_shapes):
            outs = [ins[0]]
        else:  # no known channel rule: freeze everything it touches
            for c in ins:
                uf.fix(c)
            outs = [uf.new(s[_channel_axis(s)], fixed=True) if len(s) >= 2 else None for s in out_shapes]
        for t, c in zip(node.outputs, outs):
            cls[t] = c
    for t in graph.outputs:
        uf.fix(cls.get(t))
    return uf, cls


def _slice(arr: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(arr)[tuple(slice(0, n) for n in shape)])


@register_pass("width_multiplier", WidthMultiplierParams, family="compact")
def width_multiplier(graph: OpGraph, params: WidthMultiplierParams) -> PassResult:
    """Thin every layer by alpha (MobileNet width multiplier), consistently across residuals and concats;
    graph input and output channels are kept."""
    selected = {n.name for n in select_layers(graph, params, ("conv2d", "linear"), "width_multiplier")}
    uf, cls = channel_classes(graph)
    alpha = params.alpha
    # layers not selected keep their output width
    for node in graph.nodes:
        if node.op in ("conv2d", "linear") and node.name not in selected:
            uf.fix(cls[node.outputs[0]])
    shapes: dict[str, tuple[int, ...]] = {t: graph.tensor(t).shape for t in graph.inputs}
    new_nodes: list[Node] = []
    weights: dict[str, Any] = {}
    changes: list[LayerChange] = []
    renamed: dict[str, str] = {}
    taken: set[str] = set()
    for node in graph.nodes:
        attrs = dict(node.attrs)
        in_shapes = [shapes[t] for t in node.inputs]
        if node.op == "conv2d":
            c_in_old = graph.tensor(node.inputs[0]).shape[1]
            g_old = attrs["groups"]
            if g_old > 1 and g_old == c_in_old == attrs["out_channels"]:
                attrs["groups"] = attrs["out_channels"] = in_shapes[0][1]
            elif g_old > 1 and g_old == c_in_old:
                attrs["groups"] = in_shapes[0][1]
                attrs["out_channels"] = in_shapes[0][1] * (attrs["out_channels"] // c_in_old)
            else:
                attrs["out_channels"] = uf.scaled(cls[node.outputs[0]], alpha)  # type: ignore[arg-type]
        elif node.op == "linear":
            attrs["out_features"] = uf.scaled(cls[node.outputs[0]], alpha)  # type: ignore[arg-type]
        elif node.op == "split" and _even_channel_split(node, graph.tensor(node.inputs[0]).shape):
            k = len(attrs["sizes"])
            attrs["sizes"] = [in_shapes[0][attrs["axis"]] // k] * k
        opdef = node.opdef
        try:
            norm = opdef.normalize(dict(attrs), in_shapes)
            outs = opdef.infer(norm, in_shapes)
            pshapes = opdef.param_shapes(norm, in_shapes)
        except HwsimError as e:
            raise CompressionError(f"pass 'width_multiplier': alpha={alpha} cannot be propagated through "
                                   f"{node.op} node: {e.message}", where=f"node {node.name!r}") from None
        for t, s in zip(node.outputs, outs):
            shapes[t] = tuple(int(d) for d in s)
        new_params = dict(node.params)
        is_mat = materialized(graph, node)
        for slot, tname in node.params.items():
            old = graph.tensor(tname).shape
            if tuple(pshapes[slot]) != tuple(old):
                new_name = unique_name(graph, f"{tname}@w{alpha:g}", taken)
                new_params[slot] = new_name
                renamed[tname] = new_name
                if is_mat:
                    weights[new_name] = _slice(graph.weight(tname) if not hasattr(graph.weight(tname), "decode")
                                               else graph.dense_weight(tname), pshapes[slot])
        new_nodes.append(Node(node.name, node.op, node.inputs, node.outputs, attrs, new_params))
    # annotations of kept tensors must not pin their old shapes (shapes are re-inferred)
    annotations = {n: s.with_(shape=()) for n, s in graph.annotations().items() if n not in renamed}
    for old, new_name in renamed.items():
        spec = graph.tensor(old)
        if spec.encoding != "dense" or spec.stored_bits is not None:
            raise CompressionError(f"pass 'width_multiplier': weight {old!r} is already encoded ({stored_as(spec)}); "
                                   "apply width_multiplier before encoding passes")
        if spec.dtype.name != "fp32" or spec.meta:
            annotations[new_name] = TensorSpec(new_name, (), spec.dtype, "weight", meta=spec.meta)
    try:
        new = graph.rebuild(new_nodes, weights=weights, annotations=annotations)
    except HwsimError as e:
        raise CompressionError(f"pass 'width_multiplier': alpha={alpha} gives an inconsistent graph: {e}") from None
    for node in graph.nodes:
        if any(t in renamed for t in node.params.values()):
            nn = new.node(node.name)
            c_old = graph.tensor(node.outputs[0]).shape
            c_new = new.tensor(node.outputs[0]).shape
            changes.append(LayerChange(node.name, "thinned", node_weight_bytes(graph, [node]),
                                       node_weight_bytes(new, [nn]),
                                       {"alpha": alpha, "out_shape_before": list(c_old), "out_shape_after": list(c_new),
                                        "materialized": materialized(graph, node)}))
    if not changes:
        return PassResult(graph, False, (), ("width_multiplier: no channel could be scaled",))
    notes = (TRAINING_NOTE, "weights of thinned layers are leading slices of the original ones (no selection "
             "criterion); use filter pruning for importance-based channel removal")
    return PassResult(new, True, tuple(changes), notes)


# --- depth multiplier ----------------------------------------------------------------------------
class DepthMultiplierParams(PassParams):
    depth: float = Field(default=0.5, gt=0.0, le=1.0)


@dataclass(frozen=True)
class ResidualBlock:
    add: str  # the add node
    x: str  # the skip tensor (block input)
    body: tuple[str, ...]  # nodes of f, topological order
    out: str  # the add's output


def _ancestors(graph: OpGraph, node: str) -> set[str]:
    seen: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        for p in graph.predecessors(n):
            if p.name not in seen:
                seen.add(p.name)
                stack.append(p.name)
    return seen


def _descendants_of_tensor(graph: OpGraph, tensor: str) -> set[str]:
    seen: set[str] = set()
    stack = [n.name for n in graph.consumers(tensor)]
    seen.update(stack)
    while stack:
        n = stack.pop()
        for s in graph.successors(n):
            if s.name not in seen:
                seen.add(s.name)
                stack.append(s.name)
    return seen


def identity_blocks(graph: OpGraph) -> list[ResidualBlock]:
    """Every y = x + f(x) whose f can be removed without changing any shape (see module doc)."""
    blocks = []
    outputs = set(graph.outputs)
    for node in graph.nodes:
        if node.op != "add" or len(node.inputs) != 2:
            continue
        out = node.outputs[0]
        for x, y in (node.inputs, node.inputs[::-1]):
            prod = graph.producer(y)
            if prod is None or graph.tensor(x).shape != graph.tensor(out).shape:
                continue
            body = (_ancestors(graph, prod.name) | {prod.name}) & _descendants_of_tensor(graph, x)
            if not body or node.name in body:
                continue
            produced = {t for b in body for t in graph.node(b).outputs}
            ok = all(t in produced or t == x for b in body for t in graph.node(b).inputs)
            ok = ok and all(c.name in body or c.name == node.name
                            for t in produced for c in graph.consumers(t)) and not (produced & outputs)
            ok = ok and all(graph.node(b).op != "exit" for b in body)
            if ok:
                order = [n.name for n in graph.nodes if n.name in body]
                blocks.append(ResidualBlock(node.name, x, tuple(order), out))
                break
    return blocks


def _after_block(graph: OpGraph, block: ResidualBlock) -> str:
    """The block's output after any chain of single-consumer pointwise activations (ResNet's post-add ReLU)."""
    t = block.out
    while True:
        cons = graph.consumers(t)
        if len(cons) != 1 or cons[0].opdef.group != OpGroup.ACTIVATION or len(cons[0].inputs) != 1:
            return t
        t = cons[0].outputs[0]


def residual_runs(graph: OpGraph) -> list[list[ResidualBlock]]:
    """Identity blocks grouped into runs of consecutive blocks (one block's output feeds the next)."""
    blocks = identity_blocks(graph)
    by_x = {b.x: b for b in blocks}
    starts = set(b.add for b in blocks)
    for b in blocks:
        nxt = by_x.get(_after_block(graph, b)) or by_x.get(b.out)
        if nxt is not None:
            starts.discard(nxt.add)
    runs = []
    for b in blocks:
        if b.add not in starts:
            continue
        run = [b]
        while True:
            nxt = by_x.get(_after_block(graph, run[-1])) or by_x.get(run[-1].out)
            if nxt is None or nxt in run:
                break
            run.append(nxt)
        runs.append(run)
    return runs


def _kept(depth: float, n: int) -> int:
    return int(math.floor(depth * n + 0.5))


@register_pass("depth_multiplier", DepthMultiplierParams, family="compact")
def depth_multiplier(graph: OpGraph, params: DepthMultiplierParams) -> PassResult:
    """Drop the trailing identity-residual blocks of each run of repeated blocks, keeping round(depth n)."""
    allowed = {n.name for n in select_layers(graph, params, None, "depth_multiplier")}
    runs = residual_runs(graph)
    drop: set[str] = set()
    rename: dict[str, str] = {}
    changes = []
    for run in runs:
        keep = _kept(params.depth, len(run))
        for b in run[keep:]:
            if not all(n in allowed for n in (*b.body, b.add)):
                continue
            drop.update(b.body)
            drop.add(b.add)
            rename[b.out] = b.x
            nodes = [graph.node(n) for n in b.body]
            changes.append(LayerChange(b.add, "removed_block", node_weight_bytes(graph, nodes), 0,
                                       {"removed_nodes": list(b.body) + [b.add], "run_length": len(run),
                                        "kept_in_run": keep}))
    if not drop:
        note = "no identity-residual block found" if not runs else f"depth={params.depth} keeps every block"
        return PassResult(graph, False, (), (f"depth_multiplier: {note}; graph unchanged",))
    # resolve chains of removed blocks (x of one is the out of the previous)
    for k in list(rename):
        v = rename[k]
        while v in rename:
            v = rename[v]
        rename[k] = v
    new = splice(graph, {}, drop=drop, rename=rename)
    return PassResult(new, True, tuple(changes), (TRAINING_NOTE,))


# --- student -------------------------------------------------------------------------------------
ModelLoader = Callable[[str], OpGraph]
_loader: list[ModelLoader] = []


def set_model_loader(loader: ModelLoader | None) -> None:
    """Install the function the ``student`` pass uses to read a model file (frontends' ``load_model``)."""
    _loader.clear()
    if loader is not None:
        _loader.append(loader)


class StudentParams(PassParams):
    model: str = Field(min_length=1, description="path of the student model file (.json / .onnx)")


@register_pass("student", StudentParams, family="compact")
def student(graph: OpGraph, params: StudentParams) -> PassResult:
    """Replace the whole model by a student model file (knowledge distillation's student network)."""
    if not _loader:
        raise CompressionError("pass 'student': no model loader installed (hwsim.compress.compact.set_model_loader)",
                               source=params.model)
    stud = _loader[0](params.model)
    t_in = [list(graph.tensor(t).shape) for t in graph.inputs]
    s_in = [list(stud.tensor(t).shape) for t in stud.inputs]
    if t_in != s_in:
        raise CompressionError(f"pass 'student': the student's input shape(s) {s_in} differ from the model's {t_in}",
                               source=params.model, where="inputs")
    t_out = [list(graph.tensor(t).shape) for t in graph.outputs]
    s_out = [list(stud.tensor(t).shape) for t in stud.outputs]
    if t_out != s_out:
        raise CompressionError(f"pass 'student': the student's output shape(s) {s_out} differ from the model's "
                               f"{t_out}", source=params.model, where="outputs")
    before = node_weight_bytes(graph, graph.nodes)
    after = node_weight_bytes(stud, stud.nodes)
    new = stud.with_meta(student_of=graph.name, student_file=params.model)
    change = LayerChange(graph.name, "replaced_model", before, after,
                         {"student": stud.name, "file": params.model, "nodes_before": len(graph),
                          "nodes_after": len(stud), "task_accuracy": None})
    notes = ("the student's task accuracy requires distillation training that the tool does not do: unknown",)
    return PassResult(new, True, (change,), notes)


# --- transferred filters -------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class NegatedHalfPayload:
    """A weight tensor whose second half of output channels (axis 0) is the negation of the first:
    only ``half`` is stored. Follows ``hwsim.formats``' payload contract (format ``negated_half``)."""

    half: np.ndarray

    @property
    def format(self) -> str:
        return "negated_half"

    @property
    def shape(self) -> tuple[int, ...]:
        return (2 * self.half.shape[0], *self.half.shape[1:])

    @property
    def nnz(self) -> int:
        return 2 * int(np.count_nonzero(self.half))

    def decode(self) -> np.ndarray:
        return np.concatenate([self.half, -self.half], axis=0).astype(np.float32)

    @property
    def stored_bits(self) -> int:
        return int(self.half.size) * 8 * self.half.dtype.itemsize

    def meta(self) -> dict[str, Any]:
        return negated_half_meta(self.half.shape[0], 8 * self.half.dtype.itemsize)

    def int_streams(self) -> dict[str, Any]:
        return {}

    def with_streams(self, streams: Any) -> "NegatedHalfPayload":
        return self


def negated_half_meta(stored_filters: int, value_bits: int) -> dict[str, Any]:
    return {"structure": "dense", "value_format": "float", "value_bits": value_bits,
            "stored_filters": stored_filters, "derived": "negation"}


class TransferredFiltersParams(PassParams):
    pass


@register_pass("transferred_filters", TransferredFiltersParams, family="compact")
def transferred_filters(graph: OpGraph, params: TransferredFiltersParams) -> PassResult:
    """Store half of a conv's filters and derive the other half by negation (CReLU): weight bytes
    halve, MACs stay."""
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    changes = []
    for node in select_layers(graph, params, ("conv2d",), "transferred_filters"):
        tname = node.params["weight"]
        spec = graph.tensor(tname)
        t_out = spec.shape[0]
        why = None
        if t_out % 2:
            why = f"odd number of filters ({t_out})"
        elif node.attrs["groups"] != 1:
            why = "grouped/depthwise convolution"
        elif spec.encoding != "dense" or spec.dtype.is_low_bit or spec.stored_bits is not None:
            why = f"weight already encoded ({spec.dtype.name}, {spec.encoding})"
        if why:
            changes.append(_skipped(graph, node, {"reason": why}))
            continue
        bits = (spec.numel // 2) * spec.dtype.bits
        meta = {**spec.meta_dict(), **negated_half_meta(t_out // 2, spec.dtype.bits)}
        details: dict[str, Any] = {"stored_filters": t_out // 2, "filters": t_out,
                                   "materialized": materialized(graph, node)}
        if details["materialized"]:
            w = dense(graph, node)
            half = ((w[: t_out // 2] - w[t_out // 2:]) / 2).astype(spec.dtype.numpy_dtype)
            payload = NegatedHalfPayload(half)
            weights[tname] = payload
            details["reconstruction_error"] = rel_error(w, payload.decode())
        else:
            details["reconstruction_error"] = None
        specs[tname] = spec.with_(encoding="negated_half", stored_bits=bits, meta=meta)
        before = node_weight_bytes(graph, [node])
        changes.append(LayerChange(node.name, "transferred", before, before - spec.size_bytes + specs[tname].size_bytes,
                                   details))
    if not specs:
        return PassResult(graph, False, tuple(changes), ("transferred_filters: no eligible conv",))
    return PassResult(graph.with_specs(specs, weights), True, tuple(changes), (TRAINING_NOTE,))
