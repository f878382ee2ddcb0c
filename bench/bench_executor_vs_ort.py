#!/usr/bin/env python
"""hwsim's fp32 executor beside onnxruntime on the same ONNX files, 1 thread each, in one run.

    python bench/bench_executor_vs_ort.py [--repeats 20] [--batch 1] [--models resnet18,mobilenet_v2,...]

Models: torchvision's ResNet-18, MobileNetV2, MnasNet-0.5, EfficientNet-B0 (seeded random weights,
exported with torch.onnx in this run: torch is needed here only) and two model.json workloads written
to ONNX with hwsim's own writer (a depthwise-separable block and MobileNetV1). Both engines read the
same file; hwsim's weights are resolved once beforehand as onnxruntime prepares its initializers once
per session. Times are the least CPU time of ``--repeats`` inferences after one untimed inference
(steady state: both run on one thread; on a shared machine wall time would also count other jobs'
slices), the two engines taking turns within each round; the ratio is hwsim / onnxruntime (target <= 2). BLAS and onnxruntime are pinned to one
thread (threadpoolctl, intra_op_num_threads).

The one-off cost of hwsim's compiled loops (numba, ``hwsim/kernels/jit_dense.py``) is printed apart:
in a fresh process with an empty numba cache (compiling every loop), then again in another fresh
process loading them from that disk cache (what every later run pays).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

TORCHVISION = {"resnet18": "resnet18", "mobilenet_v2": "mobilenet_v2", "mnasnet0_5": "mnasnet0_5",
               "efficientnet_b0": "efficientnet_b0"}
WORKLOAD_JSON = {"mobilenet_v1": ROOT / "workloads" / "mobilenet_v1.json"}


def dw_separable_doc(channels: int = 64, size: int = 56, blocks: int = 4) -> dict:
    """A stack of depthwise-separable blocks (3x3 depthwise + BN + ReLU, 1x1 pointwise + BN + ReLU)."""
    nodes, x = [], "x"
    for i in range(blocks):
        for name, op, attrs in ((f"b{i}.dw", "conv2d", {"out_channels": channels, "kernel": 3, "padding": 1,
                                                          "groups": channels}),
                                (f"b{i}.dw_bn", "batchnorm", {}), (f"b{i}.dw_relu", "relu", {}),
                                (f"b{i}.pw", "conv2d", {"out_channels": channels, "kernel": 1}),
                                (f"b{i}.pw_bn", "batchnorm", {}), (f"b{i}.pw_relu", "relu", {})):
            nodes.append({"name": name, "op": op, "inputs": [x], "outputs": [name], "attrs": attrs})
            x = name
    return {"format": "hwsim-model", "version": 1, "name": "dw_separable", "seed": 0,
            "inputs": [{"name": "x", "shape": [1, channels, size, size]}], "nodes": nodes, "outputs": [x]}


def export_torchvision(name: str, out: Path, batch: int) -> Path:
    import torch
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, TORCHVISION[name])(weights=None).eval()
    path = out / f"{name}.onnx"
    torch.onnx.export(model, torch.randn(batch, 3, 224, 224), str(path), opset_version=17, dynamo=False,
                      input_names=["input"], output_names=["output"])
    return path


def write_own(name: str, out: Path, batch: int) -> Path:
    import json

    from hwsim.frontends import load_model
    from hwsim.frontends.onnx_writer import save_onnx

    if name == "dw_separable":
        src = out / "dw_separable.json"
        src.write_text(json.dumps(dw_separable_doc()))
    else:
        src = WORKLOAD_JSON[name]
    path = out / f"{name}.onnx"
    save_onnx(load_model(src).materialize(), path)
    return path


def best_of_interleaved(fns, repeats: int) -> list[float]:
    """Least CPU time of this process for each of ``fns`` over ``repeats`` rounds, the functions taking
    turns within each round (after one untimed call each): both engines run on one thread, so CPU time
    is their work, and taking turns gives both the same share of whatever else the machine runs (on a
    shared 2-core machine a neighbour's job slows a core's caches and memory for both alike)."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.process_time()
            fn()
            best[i] = min(best[i], time.process_time() - t)
    return best


def compare(path: Path, repeats: int) -> dict:
    import onnxruntime as ort
    from threadpoolctl import threadpool_limits

    from hwsim.frontends import load_model
    from hwsim.kernels import execute, resolve_weights

    graph = load_model(path)
    weights = resolve_weights(graph)
    shape = graph.tensor(graph.inputs[0]).shape
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    with threadpool_limits(limits=1):
        ours = execute(graph, {graph.inputs[0]: x}, weights=weights)
        theirs = sess.run(None, feed)[0]
        out = next(iter(ours.outputs.values()))
        diff = float(np.max(np.abs(out - theirs)) / max(float(np.max(np.abs(theirs))), 1e-30))
        t_ours, t_ort = best_of_interleaved([lambda: execute(graph, {graph.inputs[0]: x}, weights=weights),
                                             lambda: sess.run(None, feed)], repeats)
    return {"nodes": len(graph.nodes), "hwsim_ms": t_ours * 1e3, "ort_ms": t_ort * 1e3, "ratio": t_ours / t_ort,
            "max_rel_diff": diff}


def compile_seconds() -> tuple[float, float]:
    """Seconds to compile every compiled loop in a fresh process with an empty numba cache, then to
    load them from that cache in another fresh process (import of the module included, numba's own
    import excluded)."""
    import subprocess

    code = ("import time, numba; t = time.perf_counter(); from hwsim.kernels import jit_dense, jit_gemm; "
            "jit_dense.warm_up(); jit_gemm.warm_up(); print(time.perf_counter() - t)")
    times = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            times.append(float(out.stdout.split()[-1]))
    return times[0], times[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--models", default="resnet18,mobilenet_v2,mnasnet0_5,efficientnet_b0,dw_separable,mobilenet_v1")
    args = ap.parse_args(argv)
    names = args.models.split(",")
    first, cached = compile_seconds()
    print(f"one-off: compiling hwsim's numba loops {first:.1f} s (empty cache); loading them from the disk "
          f"cache {cached:.2f} s (each later process)")
    print(f"1 thread each, batch {args.batch}, best of {args.repeats}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'model':16s} {'nodes':>6s} {'hwsim cpu ms':>9s} {'ort cpu ms':>8s} {'hwsim/ort':>9s} {'max rel diff':>12s}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        for name in names:
            try:
                path = export_torchvision(name, out, args.batch) if name in TORCHVISION else write_own(name, out, args.batch)
            except ImportError as e:
                print(f"{name:16s} skipped: {e}")
                continue
            try:
                r = compare(path, args.repeats)
            except Exception as e:  # a model hwsim cannot read yet: say so, keep going
                print(f"{name:16s} not run: {type(e).__name__}: {str(e)[:150]}")
                continue
            worst = max(worst, r["ratio"])
            print(f"{name:16s} {r['nodes']:6d} {r['hwsim_ms']:9.1f} {r['ort_ms']:8.1f} {r['ratio']:9.2f} "
                  f"{r['max_rel_diff']:12.2e}")
    print(f"worst hwsim/onnxruntime: {worst:.2f} (target <= 2)")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
