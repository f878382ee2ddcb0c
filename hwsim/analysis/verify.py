"""Verification of a compression method on a model: do the compressed kernels compute what they claim,
and how far does the compressed model's output move?

``verify_method(graph, method, inputs=N, seed=S)`` materializes the model's weights (a model that
ships weight files must provide every array), applies the method, and runs the original and the
compressed graphs through ``hwsim.kernels`` on N seeded inputs, N(0, 1) per element:

(a) **kernel exactness**: every node that runs a compressed form (sparse, shared-weight, integer,
    binary, ternary, structured-matrix, transferred filters) or a fast conv algorithm (Winograd, FFT)
    is run again, on the first input, by its reference: the plain sequential definition
    (``hwsim.kernels.reference``) on the *decoded* operands. Exact kernels must agree bit for bit;
    the others within their stated tolerance (relative to the output's largest magnitude; Winograd and
    FFT are measured against an fp64 reference, as Lavin & Gray measure theirs).
(b) **fidelity** of the compressed model against the fp32 model: output SQNR (dB), cosine similarity
    and top-1 agreement (``hwsim.analysis.fidelity``). Fidelity is not task accuracy.
(c) with ``data`` (e.g. ``"digits"``): **task accuracy** of both models on the labelled test set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import hwsim.analysis.act_calibration  # noqa: F401  (registers the kernels / digits calibrators)
from hwsim.analysis.data.traintest import TrainTest, accuracy, fit_to_input
from hwsim.analysis.fidelity import Fidelity, measure
from hwsim.compress.llm_prune import narrow_feeds
from hwsim.compress.method import Method, apply_method
from hwsim.errors import VerificationError
from hwsim.ir.counting import count_graph
from hwsim.ir.graph import Node, OpGraph
from hwsim.kernels import execute, resolve_weights
from hwsim.kernels.forms import dense_value
from hwsim.kernels.reference import run_reference
from hwsim.kernels.registry import KernelCall, KernelDef

DENSE_FORMS = ("dense", "direct", "im2col")
FIDELITY_NOTE = ("fidelity compares outputs with the fp32 model on seeded synthetic inputs; it is not task "
                 "accuracy")


@dataclass(frozen=True)
class KernelCheck:
    """One compressed kernel run against its reference on the same decoded operands."""

    node: str
    op: str
    form: str
    requirement: str  # "bit-exact" or "rel <= <rtol>"
    bit_exact: bool
    max_abs_error: float
    rel_error: float  # max |kernel - reference| / max |reference|
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "op": self.op, "form": self.form, "requirement": self.requirement,
                "bit_exact": self.bit_exact, "max_abs_error": float(f"{self.max_abs_error:.6g}"),
                "rel_error": float(f"{self.rel_error:.6g}"), "passed": self.passed}


@dataclass(frozen=True)
class TaskAccuracy:
    """Top-1 accuracy of the fp32 and the compressed model on a labelled test set."""

    dataset: str
    samples: int
    baseline: float
    compressed: float
    description: str = ""

    @property
    def delta_points(self) -> float:
        return 100.0 * (self.compressed - self.baseline)

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "samples": self.samples, "baseline_top1": round(self.baseline, 6),
                "compressed_top1": round(self.compressed, 6), "delta_points": round(self.delta_points, 4),
                "description": self.description}


@dataclass(frozen=True)
class VerifyResult:
    """What verification found for one method on one model."""

    model: str
    method: str
    description: str
    needs_training: bool | None
    inputs: int
    seed: int
    weight_bytes_before: int
    weight_bytes_after: int
    kernel_checks: tuple[KernelCheck, ...]
    fidelity: Fidelity | None
    accuracy: TaskAccuracy | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def compression_ratio(self) -> float:
        return self.weight_bytes_before / self.weight_bytes_after if self.weight_bytes_after else math.inf

    @property
    def kernels_passed(self) -> bool:
        return all(c.passed for c in self.kernel_checks)

    @property
    def kernel_status(self) -> str:
        """exact | within tolerance | mismatch | no compressed kernels."""
        if not self.kernel_checks:
            return "no compressed kernels"
        if not self.kernels_passed:
            return "mismatch"
        return "exact" if all(c.bit_exact for c in self.kernel_checks) else "within tolerance"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "method": self.method, "description": self.description,
            "needs_training": self.needs_training, "inputs": self.inputs, "seed": self.seed,
            "weight_bytes_before": self.weight_bytes_before, "weight_bytes_after": self.weight_bytes_after,
            "compression_ratio": round(self.compression_ratio, 4) if math.isfinite(self.compression_ratio) else None,
            "kernel_status": self.kernel_status,
            "kernel_checks": [c.as_dict() for c in self.kernel_checks],
            "fidelity": None if self.fidelity is None else self.fidelity.as_dict(),
            "accuracy": None if self.accuracy is None else self.accuracy.as_dict(),
            "notes": list(self.notes),
        }


# --- inputs and runs -------------------------------------------------------------------------------

def _index_range(graph: OpGraph, name: str) -> int | None:
    """Rows of the tables an integer input indexes (token ids into an embedding), or None."""
    sizes = [int(c.attrs["num_embeddings"]) for c in graph.consumers(name) if "num_embeddings" in c.attrs]
    return min(sizes) if sizes else None


def seeded_inputs(graph: OpGraph, n: int, seed: int) -> dict[str, np.ndarray]:
    """n inputs per graph input, N(0, 1) per element, from one seeded generator (in input order); integer
    inputs that index a table (token ids) get uniform valid indices instead."""
    if n < 1:
        raise VerificationError(f"--inputs must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        shape = (n,) + tuple(graph.tensor(name).shape[1:])
        rows = _index_range(graph, name) if not graph.tensor(name).dtype.is_float else None
        out[name] = (rng.integers(0, rows, size=shape) if rows is not None
                     else rng.standard_normal(shape).astype(np.float32))
    return out


def run_batched(graph: OpGraph, inputs: dict[str, np.ndarray], **kwargs: Any) -> np.ndarray:
    """The first output for all samples: one batched run, or runs of the declared batch size when the
    graph bakes its batch into a reshape."""
    try:
        return execute(graph, inputs, **kwargs).output
    except VerificationError as e:
        declared = graph.tensor(graph.inputs[0]).shape[0]
        n = next(iter(inputs.values())).shape[0]
        if n == declared or n % declared or "batch" not in e.message:
            raise
    outs = []
    for i in range(0, n, declared):
        chunk = {k: v[i:i + declared] for k, v in inputs.items()}
        outs.append(execute(graph, chunk, **kwargs).output)
        kwargs.pop("on_node", None)  # kernel checks run on the first chunk only
    return np.concatenate(outs, axis=0)


# --- kernel checks ---------------------------------------------------------------------------------

def needs_check(form: str, kdef: KernelDef) -> bool:
    return form not in DENSE_FORMS or kdef.reference is not None


def _first_sample(call: KernelCall) -> KernelCall:
    x = call.inputs[0]
    declared = call.in_specs[0].shape[0]
    if x.shape[0] > 1 and x.shape[0] != declared:
        return call.with_inputs((x[:1], *call.inputs[1:]))
    return call


def _generic_reference(call: KernelCall) -> np.ndarray:
    """fp64 reference of a dense-form op (fast conv algorithms) on the decoded weights."""
    params = {slot: np.asarray(dense_value(v), np.float64) for slot, v in call.weights.items()}
    return run_reference(call.node.op, call.attrs, [x.astype(np.float64) for x in call.inputs], params)[0]


def check_kernel(node: Node, kdef: KernelDef, call: KernelCall) -> KernelCheck:
    call1 = _first_sample(call)
    out = np.asarray(kdef.fn(call1)[0])
    ref = np.asarray(kdef.reference(call1)[0] if kdef.reference is not None else _generic_reference(call1))
    exact_required = kdef.is_exact(call1)
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    bit_exact = out.shape == ref.shape and out.dtype == ref.dtype and np.array_equal(out, ref)
    if exact_required:
        passed, requirement = bit_exact, "bit-exact"
    else:
        passed, requirement = out.shape == ref.shape and rel <= (kdef.rtol or 0.0), f"rel <= {kdef.rtol:g}"
    return KernelCheck(node.name, node.op, kdef.form, requirement, bit_exact, max_abs, rel, passed)


# --- the entry point -------------------------------------------------------------------------------

def _method(method: Method | str) -> Method:
    if isinstance(method, Method):
        return method
    from hwsim.compress.catalogue import get_method

    return get_method(method)


def _dataset(data: TrainTest | str | None, graph: OpGraph) -> TrainTest | None:
    """A TrainTest as given, or the test split of ``data`` (bundled name, .npz, image folder) shaped to ``graph``."""
    if data is None or isinstance(data, TrainTest):
        return data
    from hwsim.analysis.data import load_for_model

    splits = load_for_model(data, graph)
    return TrainTest(splits.name, splits.x("train"), splits.y("train"), splits.x("test"), splits.y("test"),
                   splits.data.classes, f"{splits.data.description}, {splits.size('test')} test images "
                   f"(seeded split {splits.seed})")


def verify_method(graph: OpGraph, method: Method | str, inputs: int = 8, seed: int = 0,
                  data: TrainTest | str | None = None) -> VerifyResult:
    """Verify ``method`` on ``graph`` (see the module docstring). Deterministic for fixed (inputs, seed)."""
    m = _method(method)
    resolve_weights(graph)  # a model that ships weights must provide every array; all must be finite
    original = graph.materialize()
    compressed = apply_method(original, m)
    cgraph = compressed.graph
    feeds = seeded_inputs(original, inputs, seed)
    checks: dict[str, KernelCheck] = {}  # by node: a retried run does not check twice

    def hook(node: Node, kdef: KernelDef, call: KernelCall, outs: tuple[np.ndarray, ...]) -> None:
        if needs_check(kdef.form, kdef) and node.name not in checks:
            checks[node.name] = check_kernel(node, kdef, call)

    y_ref = run_batched(original, feeds)
    y_cmp = run_batched(cgraph, narrow_feeds(cgraph, feeds), on_node=hook, require_provided=False)  # pruned KV heads
    notes = [FIDELITY_NOTE, *compressed.notes]
    fidelity: Fidelity | None = None
    if y_ref.shape == y_cmp.shape:
        fidelity = measure(y_ref, y_cmp, seed, cgraph.outputs[0])
    else:
        notes.append(f"output shapes differ ({list(y_ref.shape)} vs {list(y_cmp.shape)}): no fidelity")
    task = None
    ds = _dataset(data, original)
    if ds is not None:
        x = fit_to_input(ds.x_test.reshape(len(ds.y_test), -1), original.tensor(original.inputs[0]), original.source)
        feed = {original.inputs[0]: x}
        task = TaskAccuracy(ds.name, len(ds.y_test), accuracy(run_batched(original, feed), ds.y_test),
                            accuracy(run_batched(cgraph, feed, require_provided=False), ds.y_test),
                            ds.description)
    return VerifyResult(
        model=graph.name, method=m.name, description=m.description, needs_training=compressed.needs_training,
        inputs=inputs, seed=seed, weight_bytes_before=count_graph(original).weight_bytes,
        weight_bytes_after=count_graph(cgraph).weight_bytes, kernel_checks=tuple(checks.values()), fidelity=fidelity,
        accuracy=task, notes=tuple(notes))


def verify_methods(graph: OpGraph, methods: list[Method | str], inputs: int = 8, seed: int = 0,
                   data: TrainTest | str | None = None) -> list[VerifyResult]:
    return [verify_method(graph, m, inputs, seed, data) for m in methods]
