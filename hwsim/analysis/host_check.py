"""hwsim's latency prediction for this machine against a real engine on it.

Each model is exported to ONNX (``hwsim.frontends.onnx_writer``, random weights as initializers) and
run batch-1 fp32 by onnxruntime with ``intra_op_num_threads`` equal to the ``host`` profile's cores
(one inter-op thread, full graph optimization). The prediction is ``simulate(runtime_graph(graph), host)``
in the same process, right before the measurement: the graph after the fusions onnxruntime applies
(batchnorm folded into the conv before it, ReLU/ReLU6 fused into it). The error is predicted / measured - 1, where measured is the
best of the timed runs: ``hwsim calibrate`` also keeps the best of its repeats, so on a shared machine
neither side carries the other programs' interference (the median is reported beside it).

onnxruntime is an optional dependency (the ``test`` extra) and is imported here only.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.analysis.onnx_reference import _onnxruntime, as_onnx_file
from hwsim.hardware import DeviceProfile, load_device
from hwsim.ir.graph import Node, OpGraph

#: Ops onnxruntime's CPU provider folds into the conv before them (BN folding, FusedConv activations).
FUSED_AFTER_CONV = ("batchnorm", "relu", "relu6")


@dataclass(frozen=True)
class LatencyCheck:
    model: str
    device: str
    engine: str
    threads: int
    predicted_s: float
    measured_s: float  # best of the timed runs
    measured_median_s: float
    runs: int

    @property
    def error(self) -> float:
        """Signed relative error of the prediction (+0.2: predicted 20% slower than measured)."""
        return self.predicted_s / self.measured_s - 1.0

    @property
    def error_vs_median(self) -> float:
        return self.predicted_s / self.measured_median_s - 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "device": self.device, "engine": self.engine, "threads": self.threads,
                "predicted_ms": self.predicted_s * 1e3, "measured_ms": self.measured_s * 1e3,
                "measured_median_ms": self.measured_median_s * 1e3, "runs": self.runs, "error": self.error,
                "error_vs_median": self.error_vs_median}


def measure_onnxruntime(path: Path, threads: int, runs: int, seed: int = 0, min_time_s: float = 1.0) -> list[float]:
    """Seconds per batch-1 run of an ONNX file: ``runs`` timed runs (at least ``min_time_s`` in all)
    after warm-up, threads pinned to ``threads`` intra-op and one inter-op."""
    ort = _onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    for _ in range(3):
        session.run(None, feeds)
    times: list[float] = []
    t_start = time.perf_counter()
    while len(times) < runs or time.perf_counter() - t_start < min_time_s:
        t0 = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - t0)
    return times


def runtime_graph(graph: OpGraph) -> OpGraph:
    """The graph onnxruntime executes after its default fusions: a batchnorm right after a conv is folded
    into the conv's weights and a ReLU / ReLU6 (Clip) after it runs inside the conv kernel (FusedConv).
    Only single-consumer chains fuse. The prediction is made for this graph, since that is the work the
    measured engine does; everything else (attention, GELU, LayerNorm) is costed as written."""
    consumers: dict[str, int] = {}
    for n in graph.nodes:
        for t in n.inputs:
            consumers[t] = consumers.get(t, 0) + 1
    alias: dict[str, str] = {}
    conv_out: set[str] = set()
    kept: list[Node] = []
    for n in graph.nodes:
        ins = tuple(alias.get(t, t) for t in n.inputs)
        src = n.inputs[0] if n.inputs else ""
        if (n.op in FUSED_AFTER_CONV and ins and ins[0] in conv_out and consumers.get(src, 0) == 1
                and src not in graph.outputs):
            alias[n.outputs[0]] = ins[0]
            continue
        kept.append(Node(n.name, n.op, ins, n.outputs, n.attrs, n.params))
        if n.op == "conv2d":
            conv_out.add(n.outputs[0])
    if len(kept) == len(graph.nodes):
        return graph
    outputs = [alias.get(t, t) for t in graph.outputs]
    return graph.rebuild(kept, outputs=outputs)


def check(graph: OpGraph, device: DeviceProfile | str = "host", engine: str = "analytic", runs: int = 20,
          seed: int = 0, threads: int | None = None) -> LatencyCheck:
    """Predict and measure one model on this machine."""
    from hwsim.sim import simulate

    dev = device if isinstance(device, DeviceProfile) else load_device(device)
    n_threads = threads or (dev.cpu.cores if dev.cpu else 1)
    predicted = simulate(runtime_graph(graph), dev, engine=engine).seconds
    with tempfile.TemporaryDirectory(prefix="hwsim-host-") as tmp:
        path = as_onnx_file(graph, Path(tmp))
        times = measure_onnxruntime(path, n_threads, runs, seed)
    return LatencyCheck(graph.name, dev.name, engine, n_threads, predicted, min(times), statistics.median(times),
                        len(times))


def mean_abs_error(checks: Sequence[LatencyCheck]) -> float:
    return float(np.mean([abs(c.error) for c in checks])) if checks else float("nan")
