"""Real hardware: hwsim's ``host`` prediction of fp32 batch-1 latency against onnxruntime on this machine.

For each model: export to ONNX, time onnxruntime (intra-op threads = the host profile's cores), predict
with ``simulate(graph, "host")`` in the same run; print each error and the mean absolute error
(target <= 25%). Run ``hwsim calibrate`` first (it writes the ``host`` device to ~/.config/hwsim/devices/) on the machine being measured.

    python bench/bench_host_latency.py [--engine analytic|event] [--runs 20] [model ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwsim.analysis.host_check import check, mean_abs_error  # noqa: E402
from hwsim.frontends import load_model  # noqa: E402

MODELS = ("resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "transformer_tiny")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=list(MODELS))
    ap.add_argument("--device", default="host")
    ap.add_argument("--engine", default="analytic")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument("--threads", type=int, default=0,
                    help="run onnxruntime on this many threads and predict with cpu.cores set to it "
                         "(default: the profile's cores)")
    ap.add_argument("--calibrate", type=Path, default=None,
                    help="first run `hwsim calibrate` into this file and predict with it (same run)")
    args = ap.parse_args()
    device = args.device
    if args.calibrate:
        from hwsim.analysis.calibrate import measure, write_profile

        write_profile(measure(), args.calibrate)
        device = str(args.calibrate)
        print(f"calibrated: {args.calibrate}")
    if args.threads:
        from hwsim.hardware import load_device

        device = load_device(device, {"cpu.cores": str(args.threads)})
    rows = []
    print(f"{'model':18s} {'predicted ms':>12s} {'best ms':>9s} {'median ms':>10s} {'error':>8s} {'vs median':>10s}")
    for name in args.models:
        c = check(load_model(ROOT / "workloads" / f"{name}.json"), device, args.engine, args.runs)
        rows.append(c)
        print(f"{name:18s} {c.predicted_s * 1e3:12.2f} {c.measured_s * 1e3:9.2f} {c.measured_median_s * 1e3:10.2f} "
              f"{c.error:+8.1%} {c.error_vs_median:+10.1%}")
    mae_median = sum(abs(r.error_vs_median) for r in rows) / len(rows)
    print(f"mean absolute error: {mean_abs_error(rows):.1%} vs best run, {mae_median:.1%} vs median, over "
          f"{len(rows)} models ({rows[0].threads} threads, engine {args.engine})")
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=1) + "\n")


if __name__ == "__main__":
    main()
