"""Benchmark: real top-1 of every default method on 1,000 MNIST images, retraining excluded.

    python bench/bench_accuracy_eval.py [--models lenet5,lenet300_100] [--repeat 1]

Target (issue 9): all default methods (``hwsim.compress.catalogue.DEFAULT_METHODS``) evaluated on the
1,000 test images of the bundled MNIST subset in < 60 s per model. What is timed is what ``hwsim report
--data mnist --no-retrain`` does for accuracy: apply each method, calibrate integer quantization on the
calibration split (min-max / percentile / MSE, each with and without bias correction, chosen on the
500 validation images), and run the compressed graph with hwsim's kernels over the test split in
batches (``hwsim.analysis.accuracy.logits``). Loading the data and the model is timed apart.
Wall-clock and this process's CPU time on this machine, with the load average at the start (other
jobs share the cores: CPU time is what an idle machine would need, about); the verdict is on
wall-clock. The per-method times say where it goes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.analysis.accuracy import evaluate, measure_method  # noqa: E402
from hwsim.analysis.data import load_for_model  # noqa: E402
from hwsim.compress.catalogue import DEFAULT_METHODS, get_method  # noqa: E402
from hwsim.frontends import load_model  # noqa: E402

TARGET_S = 60.0


def run(model: str) -> float:
    t0 = time.perf_counter()
    graph = load_model(ROOT / "workloads" / "mnist" / f"{model}.json").materialize()
    data = load_for_model("mnist", graph)
    t_load = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    base = evaluate(graph, data)
    per = {"baseline (fp32)": time.perf_counter() - t1}
    for name in DEFAULT_METHODS:
        if name == "baseline":
            continue
        t = time.perf_counter()
        acc = measure_method(graph, get_method(name), data, None, base)
        per[f"{name} ({100 * acc.final.top1:.1f} %)"] = time.perf_counter() - t
    total, cpu = time.perf_counter() - t1, time.process_time() - c1
    print(f"\n{model}: {len(DEFAULT_METHODS)} default methods on {base.n} test images (+ {data.size('validation')} "
          f"validation, {data.size('calibration')} calibration for int8 variants); load {t_load:.1f} s")
    for k, v in sorted(per.items(), key=lambda kv: -kv[1]):
        print(f"  {v:6.2f} s  {k}")
    verdict = "PASS" if total < TARGET_S else "FAIL"
    print(f"  total {total:.1f} s wall, {cpu:.1f} s CPU, load average {os.getloadavg()[0]:.1f} "
          f"(target < {TARGET_S:.0f} s wall): {verdict}", flush=True)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet5,lenet300_100")
    args = ap.parse_args()
    totals = [run(m) for m in args.models.split(",")]
    sys.exit(0 if all(t < TARGET_S for t in totals) else 1)


if __name__ == "__main__":
    main()
