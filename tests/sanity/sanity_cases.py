"""Shared cases for the physical-plausibility tests: real workloads x catalogue methods x devices.

Compressed graphs and simulation results are cached for the whole session (the same (model, method,
device) is asked by several invariants). Workloads: ResNet-18 and MobileNetV2 (224 x 224, weights not
materialized: sizes from the formats' estimators, which is all the cost models read), and the committed
digits CNN with its trained weights (real encodings, real Huffman codes).
"""

from __future__ import annotations

from functools import lru_cache

from testutils import WORKLOADS

from hwsim.compress.method import apply_method
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.ir import OpGraph
from hwsim.sim import simulate
from hwsim.sim.result import RunResult

MODELS = ("resnet18", "mobilenet_v2", "digits_cnn")
CONV_HEAVY = MODELS  # every model here spends nearly all its MACs in convolutions
CPU_GPU = ("cpu-a53", "cpu-a72", "gpu-jetson-nano", "gpu-orin-nano")
SYSTOLIC = ("systolic-32x32",)
FPGA = ("fpga-small", "fpga-large")
ALL_DEVICES = CPU_GPU + SYSTOLIC + FPGA

#: Methods that keep the graph's structure (same nodes, same shapes) and only re-encode or re-type
#: tensors: their per-layer costs compare one to one with the baseline's.
SAME_STRUCTURE = ("fp16", "bf16", "int8", "int8-weights", "int4-weights", "mixed-4bit", "prune-50", "prune-90",
                  "weight-sharing", "deep-compression", "hashed-nets", "binaryconnect", "ternary-twn")
#: Methods whose point is fewer MACs (smaller, factorized or cheaper-algorithm layers).
MAC_CUTTING = ("filter-prune-30", "channel-prune-30", "tucker-lowrank", "cp-lowrank", "separable-lowrank",
               "depthwise-student", "width-0.5", "winograd", "winograd-f4")


@lru_cache(maxsize=None)
def model(name: str) -> OpGraph:
    if name == "digits_cnn":
        return load_model(WORKLOADS / "digits" / "cnn.json")
    return load_model(WORKLOADS / f"{name}.json")


@lru_cache(maxsize=None)
def compressed(name: str, method: str) -> OpGraph:
    if method == "baseline":
        return model(name)
    return apply_method(model(name), method).graph


@lru_cache(maxsize=None)
def device(name: str, overrides: tuple[tuple[str, str], ...] = ()):
    return load_device(name, dict(overrides))


@lru_cache(maxsize=None)
def run(name: str, method: str, dev: str, overrides: tuple[tuple[str, str], ...] = ()) -> RunResult:
    """Analytic result of ``method`` on model ``name`` on device ``dev`` (the fit check is skipped: the
    FPGA parts hold these models' weights in DRAM, which is what the cost model assumes)."""
    return simulate(compressed(name, method), device(dev, overrides), check_fit=False)


def by_node(r: RunResult) -> dict:
    return {t.node: t for t in r.ops}


def dram(dev: str) -> str:
    return device(dev).dram.name
