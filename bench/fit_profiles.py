"""Fit the few profile parameters that published figures pin, using ONLY `fit` records of
hwsim/analysis/data/validation_records.yaml (never a `validate` one), and print the values with the
record ids they came from. The profiles carry the printed values; `hwsim validate` then holds them
against the `validate` records.

    PYTHONPATH=. python bench/fit_profiles.py            # all targets (a few minutes on 2 cores)
    PYTHONPATH=. python bench/fit_profiles.py zcu104     # one target

Each target: a profile, the parameters to fit (a grid each, as --set overrides), and the fit tables.
The error minimised is the sum over records of ln(predicted / measured)^2; `additive_us` parameters
(a fixed time per inference) are solved on a grid without re-simulating. A target with
`search: "coordinate"` (too many parameters for the full product of the grids) is fitted by coordinate
descent over the same grids: each parameter in turn set to its best grid value with the others held,
until a whole pass changes nothing (a local optimum of the grid).
"""

from __future__ import annotations

import itertools
import math
import sys

from hwsim.analysis.validation import BoardSetup, load_records, run_validation
from hwsim.errors import DeviceProfileError

TARGETS = {
    "zcu104": dict(board="zcu104-1xb4096", tables=["vitisai-zcu104"],
                   grid={"fpga.model_params.overlay_efficiency": [x / 20 for x in range(6, 21)],
                         "fpga.model_params.layer_overhead_cycles": [0, 1000, 2000, 4000, 8000, 16000]},
                   additive_us=[x * 100 for x in range(0, 31)]),
    "pi3b-plus": dict(board="pi3b-plus", tables=["xnnpack-rpi"],
                      grid={"cpu.efficiency.gemm": [x / 100 for x in range(10, 41, 1)]}),
    "pi4": dict(board="pi4", tables=["xnnpack-rpi"],
                grid={"cpu.efficiency.gemm": [x / 100 for x in range(14, 51, 1)]}),
    "jetson-nano": dict(board="jetson-nano", tables=["trt-nano-kentaroy47"],
                        grid={"gpu.efficiency.gemm": [x / 100 for x in range(30, 101, 2)]}),
    # the Jetson Nano's depthwise class and per-kernel time floor, on the one Nano fit table with depthwise
    # models (OpenCV DNN's CUDA backend), with that runtime's gemm factor on the TensorRT-fitted gemm
    # efficiency (target jetson-nano, held here); coordinate descent
    "jetson-nano-dw": dict(board="jetson-nano-opencv", tables=["opencv-zoo-nano-cuda"], search="coordinate",
                           grid={"gpu.runtimes.opencv-cuda.efficiency.gemm": [x / 20 for x in range(6, 21)],
                                 "gpu.efficiency.depthwise": [0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01,
                                                              0.012, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5],
                                 "gpu.runtimes.opencv-cuda.min_kernel_time": [f"{x} us" for x in (*range(0, 151, 10), 200,
                                                                                                    250, 300)]}),
    # ncnn as a runtime: factors per kernel class on the profile's XNNPACK-fitted efficiencies, fitted on
    # the Pi Zero 2 W block (BCM2710A1: the Pi 3B+'s quad A53 at 1.0 GHz, pi3b-plus profile); the Pi 3B+ and
    # Pi 4 ncnn blocks validate them (another A53 board, another core: A72)
    # and the thread scaling, from the same block's one-thread run
    "ncnn": dict(board="pi-zero-2w-ncnn", boards=["pi-zero-2w-ncnn", "pi-zero-2w-ncnn-1t"], tables=["ncnn-pi-zero-2w"],
                 search="coordinate",
                 grid={**{f"cpu.runtimes.ncnn.{k}": [0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7,
                                                     0.8, 0.9, 1.0, 1.2, 1.4, 1.6, 2.0]
                          for k in ("gemm", "winograd", "depthwise", "vector")},
                       "cpu.thread_scaling": [x / 20 for x in range(1, 21)]}),
    # TFLite's built-in kernels (ruy, no XNNPACK delegate) as a runtime: factors per kernel class on the pi4
    # profile's XNNPACK-fitted efficiencies, fitted on Krai's MLPerf v1.0 Raspberry Pi 4 open-division table
    # (MobileNet v1/v2 at every resolution, fp32 and 8-bit, 4 threads: the XNNPACK fit's thread count); the
    # closed-division ResNet-50 runs and DeepEdgeBench's one-thread Python runs validate them
    "tflite": dict(board="pi4-krai-tflite", tables=["krai-rpi4-tflite-open"], search="coordinate",
                   grid={f"cpu.runtimes.tflite.{k}": [0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6,
                                                      0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.6, 2.0]
                         for k in ("gemm", "integer", "depthwise", "vector")}),
    # one Edge TPU chip behind two host links: the per-layer overhead is the chip's, fitted on both boards
    "coral": dict(board="coral-usb3", boards=["coral-usb3", "coral-devboard"], tables=["coral-freedomtan"],
                  grid={"array.model_params.layer_overhead_cycles": [x * 1000 for x in range(0, 41)]}),
}


def fit(name: str) -> None:
    t = TARGETS[name]
    recs = load_records()
    boards = t.get("boards", [t["board"]])
    sub = recs.model_copy(update={"records": [r for r in recs.records if r.table in t["tables"]
                                              and r.board in boards]})
    assert all(recs.tables[x].role == "fit" for x in t["tables"]), "fit only on fit tables"
    base = recs.boards[t["board"]]
    keys = list(t["grid"])

    def score(values: tuple) -> tuple:  # type: ignore[type-arg]
        setups = {b: BoardSetup(profile=recs.boards[b].profile,
                                overrides={**recs.boards[b].overrides, **{k: str(v) for k, v in zip(keys, values)}})
                  for b in boards}
        try:
            outs = run_validation(sub, roles=("fit",), board_profiles=setups)
        except DeviceProfileError:  # a grid point past a physical limit (an efficiency above the peak)
            return (math.inf, values, 0, [])
        best_add = None
        for add in t.get("additive_us", [0]):
            err = sum(math.log((o.predicted_ms + add / 1e3) / o.record.ms) ** 2 for o in outs)
            if best_add is None or err < best_add[0]:
                best_add = (err, values, add, [(o.record.id, (o.predicted_ms + add / 1e3) / o.record.ms) for o in outs])
        assert best_add is not None
        return best_add

    best = None
    if t.get("search") == "coordinate":
        values = tuple(1.0 if 1.0 in t["grid"][k] else t["grid"][k][0] for k in keys)
        best = score(values)
        changed = True
        while changed:
            changed = False
            for i, k in enumerate(keys):
                for v in t["grid"][k]:
                    cand = score(best[1][:i] + (v,) + best[1][i + 1:])
                    if cand[0] < best[0] - 1e-12:
                        best, changed = cand, True
    else:
        for values in itertools.product(*(t["grid"][k] for k in keys)):
            cand = score(values)
            if best is None or cand[0] < best[0]:
                best = cand
    assert best is not None
    err, values, add, ratios = best
    print(f"== {name} (profile {base.profile}); fitted to {' '.join('{' + i + '}' for i, _ in ratios)}")
    for k, v in zip(keys, values):
        print(f"  {k} = {v}")
    if t.get("additive_us"):
        print(f"  inference_overhead_us = {add}")
    print("  ratios after fit: " + ", ".join(f"{i} {r:.2f}" for i, r in ratios) + f"  (sum ln^2 {err:.4f})")


if __name__ == "__main__":
    for n in sys.argv[1:] or list(TARGETS):
        fit(n)
