"""hwsim's kernels against a real engine: the same ONNX file run by onnxruntime and by ``hwsim.kernels``.

A model.json is first written as ONNX (``hwsim.frontends.onnx_writer``, weights as initializers) so
that both engines read one file. onnxruntime is an optional dependency (the ``test`` extra) and is
imported here only.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.analysis.verify import seeded_inputs
from hwsim.errors import VerificationError
from hwsim.frontends import load_model
from hwsim.ir.graph import OpGraph
from hwsim.kernels import execute, resolve_weights


@dataclass(frozen=True)
class EngineComparison:
    """Largest difference between hwsim's fp32 executor and onnxruntime on the same inputs."""

    model: str
    engine: str
    engine_version: str
    inputs: int
    seed: int
    output: str
    max_abs_diff: float
    max_rel_diff: float  # max |hwsim - engine| / max |engine|
    hwsim_seconds: float  # wall time per inference (min over repeats), not in as_dict (not deterministic)
    engine_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "engine": self.engine, "engine_version": self.engine_version,
                "inputs": self.inputs, "seed": self.seed, "output": self.output,
                "max_abs_diff": float(f"{self.max_abs_diff:.6g}"), "max_rel_diff": float(f"{self.max_rel_diff:.6g}")}


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise VerificationError("--reference onnxruntime needs the onnxruntime package (pip install onnxruntime, "
                                "or pip install -e '.[test]')") from None
    return onnxruntime


def onnx_session(path: Path, threads: int | None = None) -> Any:
    ort = _onnxruntime()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for files it rejects
        raise VerificationError(f"onnxruntime cannot load the model: {e}", source=str(path)) from None


def run_session(session: Any, graph: OpGraph, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """The first output for all samples, in chunks of the file's fixed batch size if it has one."""
    first = session.get_inputs()[0]
    n = next(iter(feeds.values())).shape[0]
    fixed = first.shape[0] if isinstance(first.shape[0], int) and first.shape[0] > 0 else n
    outs = []
    for i in range(0, n, fixed):
        chunk = {name: arr[i:i + fixed] for name, arr in feeds.items()}
        outs.append(session.run([session.get_outputs()[0].name], chunk)[0])
    return np.concatenate(outs, axis=0)


def _best_time(fn: Any, repeats: int) -> float:
    fn()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def as_onnx_file(model: str | Path | OpGraph, workdir: Path) -> Path:
    """The model as an ONNX file: .onnx paths as they are; a graph or model.json exported with its
    (materialized) weights as initializers."""
    if not isinstance(model, OpGraph) and Path(model).suffix.lower() == ".onnx":
        return Path(model)
    from hwsim.frontends.onnx_writer import save_onnx

    graph = model if isinstance(model, OpGraph) else load_model(model)
    path = workdir / f"{graph.name}.onnx"
    save_onnx(graph.materialize(), path)
    return path


def compare_with_onnxruntime(model: str | Path | OpGraph, inputs: int = 4, seed: int = 0, repeats: int = 0,
                             threads: int | None = None) -> EngineComparison:
    """Run one ONNX file in onnxruntime and in hwsim's executor on ``inputs`` seeded inputs."""
    ort = _onnxruntime()
    with tempfile.TemporaryDirectory(prefix="hwsim-ort-") as tmp:
        path = as_onnx_file(model, Path(tmp))
        graph = load_model(path)
        session = onnx_session(path, threads)
        feeds = seeded_inputs(graph, inputs, seed)
        names = {i.name for i in session.get_inputs()}
        if names != set(graph.inputs):
            raise VerificationError(f"onnxruntime sees inputs {sorted(names)}, hwsim {list(graph.inputs)}",
                                    source=str(path))
        y_engine = run_session(session, graph, feeds)
        y_hwsim = execute(graph, feeds).output
        if y_engine.shape != y_hwsim.shape:
            raise VerificationError(f"output shapes differ: onnxruntime {list(y_engine.shape)}, hwsim "
                                    f"{list(y_hwsim.shape)}", source=str(path))
        diff = np.abs(y_hwsim.astype(np.float64) - y_engine)
        scale = float(np.abs(y_engine).max()) or 1.0
        t_h = t_e = float("nan")
        if repeats > 0:
            one = {k: v[:1] for k, v in feeds.items()}
            weights = resolve_weights(graph)  # checked once, as a session prepares its initializers once
            t_h = _best_time(lambda: execute(graph, one, weights=weights), repeats)
            t_e = _best_time(lambda: session.run(None, one), repeats)
        source = model.name if isinstance(model, OpGraph) else str(model)
        return EngineComparison(source, "onnxruntime", ort.__version__, inputs, seed, graph.outputs[0],
                                float(diff.max()), float(diff.max()) / scale, t_h, t_e)
