"""Run an OpGraph on NumPy arrays: nodes in topological order, each by the kernel of its (op, form).

Memory: an activation is dropped as soon as its last consumer has run (graph outputs are kept), and
the executor reports the peak it actually held. ``peak_activation_bytes`` counts distinct buffers
(a reshape or split view shares its parent's buffer, and keeps all of it alive);
``peak_tensor_bytes`` sums every live tensor's own bytes, which is what a liveness analysis over the
schedule computes when it treats views as tensors. Both are measured when a node's outputs and inputs
are alive together, i.e. before the inputs are freed. Kernel-internal workspace (im2col patches,
Winograd tiles) is not counted.

Batch: the leading axis of the inputs may differ from the graph's declared batch, the same for every
input; every kernel is batch-generic (``reshape`` maps a leading dimension equal to the declared batch).

Reduced-precision activations (an integer dtype with ``scale`` meta, fp16, bf16) are snapped to their
type when produced and held as float32 values of that type (so ``peak_activation_bytes`` counts 4
bytes per element for them: what this executor holds, not what a device would).

Weights: a model that ships weights (an npz file or ONNX initializers) must provide every weight
tensor; a missing one is an error, never silently replaced by a seeded one. A model without weight
files runs on its seeded weights (enough for fidelity, meaningless for task accuracy). Any non-finite
weight or input value is an error naming the tensor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np

import hwsim.kernels.library  # noqa: F401  (registers every kernel)
from hwsim.errors import HwsimError, VerificationError
from hwsim.ir.graph import Node, OpGraph
from hwsim.kernels.actquant import activation_quant, group_quant, snapper
from hwsim.kernels.epilogue import run_folded
from hwsim.kernels.plan import ExecutionPlan, NodeFrame, plan_for
from hwsim.kernels.program import program_for, slot_values
from hwsim.kernels.registry import KERNELS, UNSUPPORTED, KernelCall, KernelDef

NodeHook = Callable[[Node, KernelDef, KernelCall, tuple[np.ndarray, ...]], None]


@dataclass(frozen=True)
class ExecutionResult:
    """Graph outputs by tensor name, the measured activation peak, and per-node kernel times."""

    outputs: Mapping[str, np.ndarray]
    peak_activation_bytes: int
    peak_tensor_bytes: int
    per_node_seconds: Mapping[str, float]
    forms: Mapping[str, str]
    batch: int
    kept: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def output(self) -> np.ndarray:
        """The first graph output."""
        return next(iter(self.outputs.values()))

    @property
    def total_seconds(self) -> float:
        return float(sum(self.per_node_seconds.values()))


def kernel_for(op: str, form: str, where: str = "") -> KernelDef:
    """The kernel of (op, form), or a VerificationError saying why there is none."""
    if (op, form) in KERNELS:
        return KERNELS.get((op, form))
    if (op, form) in UNSUPPORTED:
        raise VerificationError(f"no kernel for op {op!r} in form {form!r}: {UNSUPPORTED.get((op, form))}",
                                where=where or None)
    known = ", ".join(f for (o, f) in KERNELS.keys() if o == op) or "none"
    raise VerificationError(f"no kernel for op {op!r} in form {form!r} (forms with kernels: {known})",
                            where=where or None)


# --- weights ---------------------------------------------------------------------------------------

def _float_arrays(value: Any) -> list[np.ndarray]:
    """The floating-point arrays inside a stored weight (a plain array or an encoded payload)."""
    if isinstance(value, np.ndarray):
        return [value] if value.dtype.kind in "fc" else []
    if is_dataclass(value) and not isinstance(value, type):
        out: list[np.ndarray] = []
        for f in fields(value):
            out += _float_arrays(getattr(value, f.name))
        return out
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _float_arrays(v)]
    if isinstance(value, (float, np.floating)):
        return [np.asarray(value)]
    return []


def model_ships_weights(graph: OpGraph) -> bool:
    """True if the model file came with weight values (npz or ONNX initializers)."""
    return bool(graph.weights.root.provided_names())


def resolve_weights(graph: OpGraph, require_provided: bool | None = None) -> dict[str, Any]:
    """Every weight value of the graph, checked: provided where the model ships weights, finite."""
    if require_provided is None:
        require_provided = model_ships_weights(graph)
    values: dict[str, Any] = {}
    missing: list[str] = []
    for node in graph.nodes:
        for tname in node.params.values():
            if require_provided and not graph.weights.provided(tname):
                missing.append(tname)
                continue
            try:
                value = graph.weight(tname)
            except HwsimError as e:
                raise VerificationError(e.message, source=e.source or graph.source, where=f"weight {tname!r}") from None
            for arr in _float_arrays(value):
                if not np.all(np.isfinite(arr)):
                    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
                    raise VerificationError(f"weight {tname!r} of node {node.name!r} holds {bad} non-finite "
                                            f"value(s) (NaN or inf)", source=graph.source)
            values[tname] = value
    if missing:
        shown = ", ".join(repr(m) for m in missing[:8]) + (f" (+{len(missing) - 8} more)" if len(missing) > 8 else "")
        raise VerificationError(f"the model ships weights but {len(missing)} weight tensor(s) have no values: "
                                f"{shown}; a functional run needs every array", source=graph.source)
    return values


# --- inputs ----------------------------------------------------------------------------------------

def check_inputs(graph: OpGraph, inputs: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], int]:
    """Validate input arrays against the graph's inputs; returns them as the kernels' dtypes and the batch."""
    unknown = set(inputs) - set(graph.inputs)
    if unknown:
        raise VerificationError(f"unknown input(s) {sorted(unknown)}; the graph's inputs are {list(graph.inputs)}",
                                source=graph.source)
    arrays: dict[str, np.ndarray] = {}
    batches: set[int] = set()  # batch sizes of the inputs that differ from their declared one
    for name in graph.inputs:
        if name not in inputs:
            raise VerificationError(f"input {name!r} is missing; the graph needs {list(graph.inputs)}",
                                    source=graph.source)
        spec = graph.tensor(name)
        arr = np.asarray(inputs[name])
        if arr.ndim != len(spec.shape) or tuple(arr.shape[1:]) != tuple(spec.shape[1:]) or arr.shape[0] < 1:
            raise VerificationError(f"input {name!r} has shape {list(arr.shape)}; the graph needs "
                                    f"{['N', *spec.shape[1:]]} (declared batch {spec.shape[0]})", source=graph.source)
        grid = activation_quant(spec)
        # float tensors and quantized ones (snapped to their grid) take floats; plain integer tensors integers
        wants_float = (spec.dtype.kind in ("float", "binary", "ternary", "fixed") or grid is not None
                       or group_quant(spec) is not None)
        snap = snapper(spec)
        ok = arr.dtype.kind == "f" or (arr.dtype.kind in "iu" and (spec.dtype.kind != "float" or grid is not None))
        if not ok or (not wants_float and arr.dtype.kind not in "iu"):
            raise VerificationError(f"input {name!r} has dtype {arr.dtype}; the graph declares {spec.dtype} "
                                    f"(pass a {'floating-point' if wants_float else 'integer'} array)",
                                    source=graph.source)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise VerificationError(f"input {name!r} holds non-finite values (NaN or inf)", source=graph.source)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        arrays[name] = snap(arr) if snap is not None else arr
        if arr.shape[0] != spec.shape[0]:
            batches.add(arr.shape[0])
    if len(batches) > 1:
        raise VerificationError(f"inputs disagree on the batch size: {sorted(batches)}", source=graph.source)
    first = graph.inputs[0]
    return arrays, int(arrays[first].shape[0])


# --- memory accounting -----------------------------------------------------------------------------

def _owner(a: np.ndarray) -> np.ndarray:
    base = a
    while isinstance(base.base, np.ndarray):
        base = base.base
    return base


class _Live:
    """Live activations: tensor -> array, with distinct-buffer and per-tensor byte totals."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._held: dict[str, tuple[list[Any], int]] = {}  # tensor -> (its owner's entry, its bytes)
        self._owners: dict[int, list[Any]] = {}  # id(owner) -> [owner, refcount]
        self.buffer_bytes = 0
        self.tensor_bytes = 0
        self.peak_buffer = 0
        self.peak_tensor = 0

    def put(self, name: str, arr: np.ndarray, own: np.ndarray | None = None) -> None:
        """Hold ``arr`` as tensor ``name``; ``own``: its owning buffer if the caller knows it."""
        self.arrays[name] = arr
        nbytes = arr.nbytes
        self.tensor_bytes += nbytes
        if own is None:
            own = _owner(arr)
        entry = self._owners.get(id(own))
        if entry is None:
            entry = self._owners[id(own)] = [own, 1]
            self.buffer_bytes += own.nbytes
        else:
            entry[1] += 1
        self._held[name] = (entry, nbytes)

    def drop(self, name: str) -> None:
        del self.arrays[name]
        entry, nbytes = self._held.pop(name)
        self.tensor_bytes -= nbytes
        entry[1] -= 1
        if entry[1] == 0:
            own = entry[0]
            del self._owners[id(own)]
            self.buffer_bytes -= own.nbytes

    def mark(self) -> None:
        if self.buffer_bytes > self.peak_buffer:
            self.peak_buffer = self.buffer_bytes
        if self.tensor_bytes > self.peak_tensor:
            self.peak_tensor = self.tensor_bytes


# --- the run ---------------------------------------------------------------------------------------

def node_call(graph: OpGraph, node: Node, form: str, inputs: tuple[np.ndarray, ...],
              weights: Mapping[str, Any], frame: NodeFrame | None = None) -> KernelCall:
    """The KernelCall of ``node``: dense forms see decoded arrays; compressed forms see their main
    weight exactly as stored (the encoded payload) and other slots decoded. ``frame``: the node's
    specs as the plan looked them up (else looked up here)."""
    slots = slot_values(node, form, weights)
    if frame is None:
        return KernelCall(node, inputs, slots, graph.param_specs(node),
                          tuple(graph.tensor(t) for t in node.inputs), tuple(graph.tensor(t) for t in node.outputs))
    return KernelCall(node, inputs, slots, frame.param_specs, frame.in_specs, frame.out_specs)


def execute(graph: OpGraph, inputs: Mapping[str, Any], *, keep: tuple[str, ...] = (),
            on_node: NodeHook | None = None, weights: Mapping[str, Any] | None = None,
            require_provided: bool | None = None, fuse: bool = True) -> ExecutionResult:
    """Run ``graph`` on ``inputs`` (tensor name -> array). ``keep`` names intermediate tensors to return
    in ``kept``; ``on_node`` sees every node's kernel, call and outputs (verification uses it).

    The plan (forms, kernels, fused epilogues: ``hwsim.kernels.plan``) is built once per graph. With
    ``fuse`` (and no ``on_node`` or ``keep``, which must see every intermediate), batchnorms and
    activations run inside their producer's kernel (its epilogue); the result is bit-identical either
    way. A node folded into its producer's epilogue shows 0 in ``per_node_seconds`` (its time is
    inside the producer's).

    Without ``on_node``, the run loops over the plan bound to these weight values
    (``hwsim.kernels.program``: each step one closure, its bookkeeping precomputed); with it, every
    node's KernelCall is built for the hook to see. Both call the same kernels."""
    arrays, batch = check_inputs(graph, inputs)
    values = dict(weights) if weights is not None else resolve_weights(graph, require_provided)
    plan = plan_for(graph, fuse and on_node is None and not keep, kernel_for)
    if on_node is None:
        return _run_bound(graph, plan, values, arrays, batch, keep)
    remaining = dict(plan.uses)
    pinned = set(graph.outputs) | set(keep)
    live = _Live()
    for name, arr in arrays.items():
        live.put(name, arr)
    live.mark()
    kept: dict[str, np.ndarray] = {k: arrays[k] for k in keep if k in arrays}
    seconds: dict[str, float] = {}
    declared_batch = graph.tensor(graph.inputs[0]).shape[0]

    def book(node: Node, form: str, outs: tuple[np.ndarray, ...], call: KernelCall, kdef: KernelDef) -> None:
        """Snap, check and hold ``node``'s outputs, then free what no later node reads."""
        if len(outs) != len(node.outputs):
            raise RuntimeError(f"kernel ({node.op}, {form}) returned {len(outs)} outputs for node {node.name!r}")
        final: list[np.ndarray] = []
        frame = plan.frames[node.name]
        for tname, arr, spec, snap in zip(node.outputs, outs, frame.out_specs, frame.snappers):
            if snap is not None:  # an int8 / fp16 / bf16 activation holds values of that type
                arr = snap(arr)
            declared = spec.shape
            if batch == declared_batch and arr.shape != tuple(declared):
                raise RuntimeError(f"kernel ({node.op}, {form}) produced shape {arr.shape} for {tname!r}, "
                                   f"the graph infers {declared}")
            live.put(tname, arr)
            final.append(arr)
            if tname in keep:
                kept[tname] = arr
        live.mark()
        if on_node is not None:
            on_node(node, kdef, call, tuple(final))
        for t in node.inputs:
            remaining[t] -= 1
            if remaining[t] == 0 and t not in pinned and t in live.arrays:
                live.drop(t)
        for t in node.outputs:
            if remaining.get(t, 0) == 0 and t not in pinned and t in live.arrays:
                live.drop(t)  # an output nobody reads (e.g. an unused split piece)

    for step in plan.steps:
        node, form, kdef = step.node, step.form, step.kernel
        ins = tuple(live.arrays[t] for t in node.inputs)
        call = node_call(graph, node, form, ins, values, plan.frames[node.name])
        folded = tuple(node_call(graph, f, "dense", (), values, plan.frames[f.name]) for f in step.folded)
        t0 = time.perf_counter()
        try:
            outs = run_folded(kdef, call, folded) if folded else kdef.fn(call)
        except HwsimError as e:
            raise e.located(source=graph.source, where=f"node {node.name!r}") from None
        seconds[node.name] = time.perf_counter() - t0
        book(node, form, outs, call, kdef)
        for fnode, fkdef, fcall in zip(step.folded, step.folded_kernels, folded):  # inside the producer's kernel
            seconds[fnode.name] = 0.0
            book(fnode, "dense", outs, fcall.with_inputs(outs), fkdef)
    outputs = {t: live.arrays[t] for t in graph.outputs}
    return ExecutionResult(outputs, live.peak_buffer, live.peak_tensor, seconds, dict(plan.forms), batch, kept)


def _run_bound(graph: OpGraph, plan: ExecutionPlan, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
               batch: int, keep: tuple[str, ...]) -> ExecutionResult:
    """``execute`` without a hook: the same kernels, booking and freeing as the hooked loop, each step
    a bound closure and each node's frees precomputed."""
    program = program_for(graph, plan, values, keep)
    live = _Live()
    for name, arr in arrays.items():
        live.put(name, arr)
    live.mark()
    kept: dict[str, np.ndarray] = {k: arrays[k] for k in keep if k in arrays}
    seconds: dict[str, float] = {}
    check_shapes = batch == graph.tensor(graph.inputs[0]).shape[0]
    held = live.arrays
    clock = time.perf_counter
    last: np.ndarray | None = None
    own: np.ndarray | None = None
    for step in program.steps:
        ins = tuple(held[t] for t in step.inputs)
        t0 = clock()
        try:
            outs = step.run(ins)
        except HwsimError as e:
            raise e.located(source=graph.source, where=f"node {step.nodes[0].name!r}") from None
        elapsed = clock() - t0
        for bn in step.nodes:
            seconds[bn.name] = elapsed
            elapsed = 0.0  # a folded node's time is inside its producer's
            if len(outs) != len(bn.outputs):
                raise RuntimeError(f"kernel {step.label} returned {len(outs)} outputs for node {bn.name!r}")
            for tname, arr, shape, snap in zip(bn.outputs, outs, bn.shapes, bn.snappers):
                if snap is not None:  # an int8 / fp16 / bf16 activation holds values of that type
                    arr = snap(arr)
                if check_shapes and arr.shape != shape:
                    raise RuntimeError(f"kernel {step.label} produced shape {arr.shape} for {tname!r}, "
                                       f"the graph infers {shape}")
                if arr is not last:  # folded nodes book the producer's array again
                    last, own = arr, _owner(arr)
                live.put(tname, arr, own)
                if keep and tname in keep:
                    kept[tname] = arr
            live.mark()
            for t in bn.frees:
                live.drop(t)
    outputs = {t: held[t] for t in graph.outputs}
    return ExecutionResult(outputs, live.peak_buffer, live.peak_tensor, seconds, dict(plan.forms), batch, kept)
