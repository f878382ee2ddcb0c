"""Edge TPU latency: the array model sized like the Edge TPU (64 x 64 int8 PEs at 500 MHz, 4 TOPS)
runs int8 MobileNetV2 near Coral's published ~400 FPS (coral.edgetpu: "MobileNet V2: almost 400 FPS",
coral.ai/docs/edgetpu/benchmarks; 2.5 ms per inference).

Tolerance 1.5x either way: the published figure is measured end to end on the Coral device, whose
depthwise datapath, SRAM sizes and clock are not public (the profile's array feed and 500 MHz are
ASSUMED), while hwsim counts the array's fold cycles and the vector unit."""

from __future__ import annotations

import json

from testutils import GOLDEN_DATA, WORKLOADS

from hwsim.compress.method import apply_method
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.sim import simulate


def test_edge_tpu_sized_array_runs_mobilenet_v2_near_400_fps() -> None:
    figs = json.loads((GOLDEN_DATA / "device_anchors.json").read_text())["figures"]
    assert "400 FPS" in figs["coral.edgetpu"]["value"]["MobileNet V2"]
    published_s = 1 / 400
    g = apply_method(load_model(WORKLOADS / "mobilenet_v2.json"), "int8").graph
    dev = load_device("systolic-32x32", {"array.rows": "64", "array.cols": "64"})
    r = simulate(g, dev, check_fit=False)
    assert published_s / 1.5 <= r.seconds <= published_s * 1.5, r.seconds
