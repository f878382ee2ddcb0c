"""A synthetic comparison for rendering tests: hand-made RunResults with known figures.

These tests check how the report shows figures (order, marks, plots, unknowns), so the figures are
made up here on purpose; the end-to-end tests run the real pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hwsim.analysis.compare import compare
from hwsim.analysis.metrics import DeviceRun, MethodRun, ModelSummary, Outcome
from hwsim.sim.result import OpTiming, RunResult

LAYERS = ("conv1", "pool1", "conv2", "pool2", "ip1", "ip2")


def _run(method: str, device: str, scale: float, fpga: bool, layers=LAYERS) -> RunResult:
    ops, t = [], 0
    for i, name in enumerate(layers):
        cyc = int((1000 + 500 * i) * scale)
        ops.append(OpTiming(name, "conv2d" if name.startswith("conv") else "linear", t, t + cyc,
                            "compute" if i % 2 else "memory", cyc, cyc // 2,
                            {"compute": 10.0 * cyc, "onchip": 2.0 * cyc, "dram": 5.0 * cyc},
                            {"dram": 100 * (i + 1), "sram": 400 * (i + 1)}))
        t += cyc
    energy = {"compute": 1e6 * scale, "onchip": 2e5 * scale, "dram": 5e5 * scale, "static": 1e5 * scale}
    res = {"lut": int(20000 * scale), "dsp": int(100 * scale), "bram18": int(80 * scale), "ff": 1000} if fpga else {}
    lim = {"lut": 53200, "dsp": 220, "bram18": 280, "ff": 106400} if fpga else {}
    return RunResult("lenet5", method, device, "analytic", 1e8, t, tuple(ops), energy, {"dram": int(1e5 * scale)},
                     int(1e5 * scale), 20000, int(1.2e5 * scale), True, res, lim,
                     (res["lut"] <= lim["lut"] and res["dsp"] <= lim["dsp"]) if fpga else None)


@dataclass(frozen=True)
class FakeVerify:
    kernel_status: str
    sqnr_db: float
    cosine: float
    top1_agreement: float
    inputs: int = 2


@dataclass(frozen=True)
class FakeConfig:
    model: str = "workloads/lenet5.json"

    @property
    def verify(self):
        from hwsim.pipeline import VerifyConfig

        return VerifyConfig()

    def model_dump(self) -> dict[str, Any]:
        return {"model": self.model}


@dataclass(frozen=True)
class FakeDevice:
    name: str
    kind: str
    outcome: Outcome = Outcome()
    description: str = "a test device"
    profile: dict = field(default_factory=lambda: {"clock": "100 MHz", "memory": {"dram": {"bandwidth": "4 GB/s"}}})
    peaks: dict = field(default_factory=lambda: {"ops_per_s": {"fp32": 2e9, "int8": 8e9},
                                                 "dram_bandwidth_bytes_per_s": 4e9})


@dataclass(frozen=True)
class FakeResult:
    config: Any
    model: ModelSummary
    devices: tuple
    methods: tuple
    comparison: Any
    focus: str | None
    timings_s: dict
    command: str
    extras: dict


METHODS = {  # name: (latency scale, size bytes, sqnr, needs_training)
    "baseline": (1.0, 1_724_320, float("inf"), False),
    "int8": (0.4, 431_080, 38.0, False),
    "prune-90": (0.7, 250_000, 21.0, True),
    "binary-xnor": (0.1, 60_000, 3.0, True),
}


def make_result(devices=(("fpga-small", "fpga"), ("cpu-a53", "cpu")), broken: str | None = None) -> FakeResult:
    devs = tuple(FakeDevice(n, k) for n, k in devices)
    runs = []
    for name, (scale, size, sqnr, train) in METHODS.items():
        summary = ModelSummary("lenet5", 8, 431_080, 2_293_000, 10_000, size, 1,
                               layer_ops={n: 10_000 * (i + 1) for i, n in enumerate(LAYERS)},
                               layer_weight_bytes={n: size // 6 for n in LAYERS},
                               layer_macs={n: 5000 * (i + 1) for i, n in enumerate(LAYERS)})
        if name == broken:
            dr = tuple(DeviceRun(d.name, "analytic", Outcome("error", "simulate: boom")) for d in devs)
        else:
            dr = tuple(DeviceRun(d.name, "analytic", Outcome(), _run(name, d.name, scale * (1 + i), d.kind == "fpga"))
                       for i, d in enumerate(devs))
        runs.append(MethodRun(name, f"{name} method", Outcome(), summary, dr, Outcome(),
                              FakeVerify("exact" if name == "baseline" else "within tolerance", sqnr, 0.99, 0.9),
                              needs_training=train, notes=("a note",) if train else ()))
    comparison = compare(runs)
    return FakeResult(FakeConfig(), runs[0].summary, devs, tuple(runs), comparison, "binary-xnor",
                      {"total": 1.0}, "hwsim report workloads/lenet5.json --device fpga-small", {})
