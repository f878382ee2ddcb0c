"""The shared cost framework: which arithmetic unit an op needs at its bit widths, how a GEMM is
tiled to fit each on-chip buffer (and the traffic at every memory level that tiling implies), and
how streaming ops move data. Device kinds (cpu.py, gpu.py, ...) plug their compute rates into these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from hwsim.cost.work import Gemm, OpWork
from hwsim.hardware.profile import DeviceProfile, MemoryLevel
from hwsim.ir.dtypes import DType

_LOW = ("binary", "ternary")

#: When a device has no rate for a dtype, the next wider dtype it runs instead (first match wins).
RATE_FALLBACK: Mapping[str, tuple[str, ...]] = {
    "fp32": ("fp32",),
    "tf32": ("tf32", "fp32"),
    "fp16": ("fp16", "fp32"),
    "bf16": ("bf16", "fp16", "fp32"),
    "int32": ("int32", "fp32"),
    "int16": ("int16", "int32", "fp32"),
    "int8": ("int8", "int16", "int32", "fp32"),
    "int4": ("int4", "int8", "int16", "int32", "fp32"),
}
DTYPE_BITS: Mapping[str, int] = {"fp32": 32, "tf32": 32, "fp16": 16, "bf16": 16, "int32": 32, "int16": 16,
                                 "int8": 8, "int4": 4, "binary": 1, "ternary": 2}


def rate_key(dt: DType) -> str:
    """The rate-table key of a numeric dtype (fixed-point and uint run on the int unit of that width)."""
    if dt.kind == "float":
        if dt.name in ("fp16", "bf16"):
            return dt.name
        return "fp32"
    if dt.kind in _LOW:
        return dt.kind
    b = dt.bits
    return "int4" if b <= 4 else "int8" if b <= 8 else "int16" if b <= 16 else "int32"


@dataclass(frozen=True)
class ComputeClass:
    """How an op's products are computed, from its operand dtypes alone.

    mode: "mac" (multiply-accumulate at ``key``), "addsub" (binary/ternary operand against a
    wider one: add, subtract or skip, at ``key``'s width), or "xnor" (both operands binary or ternary:
    XNOR / AND + popcount on bit planes; ``planes`` products of bit planes per MAC).
    """

    mode: str
    key: str
    planes: int = 1
    dequant: bool = False  # integer weights expanded to a float activation dtype on the fly

    @property
    def name(self) -> str:
        return {"mac": self.key, "addsub": f"addsub-{self.key}", "xnor": f"xnor-x{self.planes}"}[self.mode]

    @property
    def energy_key(self) -> str:
        if self.mode == "xnor":
            return "binary"
        if self.mode == "addsub":
            return "ternary"
        return self.key


@lru_cache(maxsize=1024)
def compute_class(weight: DType | None, act: DType) -> ComputeClass:
    if weight is None:
        return ComputeClass("mac", rate_key(act))
    w_low, a_low = weight.kind in _LOW, act.kind in _LOW
    if w_low and a_low:
        planes = (2 if weight.kind == "ternary" else 1) * (2 if act.kind == "ternary" else 1)
        return ComputeClass("xnor", "binary", planes)
    if w_low:
        return ComputeClass("addsub", rate_key(act))
    if a_low:
        return ComputeClass("addsub", rate_key(weight))
    if weight.is_float and act.is_float:
        if "fp32" in (rate_key(weight), rate_key(act)) or weight.bits > 16 or act.bits > 16:
            return ComputeClass("mac", "fp32")
        return ComputeClass("mac", "bf16" if "bf16" in (weight.name, act.name) else "fp16")
    if act.is_float:  # integer / fixed weights, float activations: dequantize, compute in float
        return ComputeClass("mac", rate_key(act), dequant=True)
    if weight.is_float:
        return ComputeClass("mac", rate_key(weight))
    return ComputeClass("mac", rate_key(weight if weight.bits >= act.bits else act))


def lookup_rate(table: Mapping[str, float], key: str) -> tuple[float, str] | None:
    """(rate, key used) following RATE_FALLBACK; None when nothing in the chain is in the table."""
    for k in RATE_FALLBACK.get(key, (key,)):
        r = table.get(k)
        if r:
            return r, k
    return None


# --- tiling and traffic ---------------------------------------------------------------------------
@lru_cache(maxsize=65536)
def gemm_traffic(g: Gemm, a_b: float, w_b: float, o_b: float, capacity: float, *, a_free: bool = False,
                 w_free: bool = False, o_free: bool = False) -> float:
    """Bytes crossing into a buffer of ``capacity`` bytes for the best of three tilings of the GEMM.

    Operand sizes per product: I = m k a_b (inputs), W = n k w_b (weights, stored bytes per element),
    O = m n o_b. Tilings: weight blocks resident (inputs streamed once per block of Tn columns),
    input blocks resident (weights streamed once per block of Tm rows), or an output-stationary
    Tm x Tn tile with k streamed. An operand marked free already sits in this buffer or an inner one
    (it costs nothing here, whatever the tiling). Everything fitting at once moves each operand once.
    """
    m, n, k = g.m, g.n, g.k
    ci = 0.0 if a_free else m * k * a_b
    cw = 0.0 if w_free else n * k * w_b
    co = 0.0 if o_free else m * n * o_b
    total = m * k * a_b + n * k * w_b + m * n * o_b
    if total <= capacity:
        return g.batch * (ci + cw + co)
    best = math.inf
    # weight blocks resident: a block of tn weight columns, one input row, tn outputs
    tn = math.floor((capacity - k * a_b) / (k * w_b + o_b)) if k * w_b + o_b > 0 else n
    if tn >= 1:
        best = min(best, cw + ci * math.ceil(n / min(tn, n)) + co)
    # input blocks resident
    tm = math.floor((capacity - k * w_b) / (k * a_b + o_b)) if k * a_b + o_b > 0 else m
    if tm >= 1:
        best = min(best, ci + cw * math.ceil(m / min(tm, m)) + co)
    # output-stationary tile, k streamed in chunks of kc
    kc = min(k, 8)
    a2, b2 = o_b, (a_b + w_b) * kc
    t = (-b2 + math.sqrt(b2 * b2 + 4 * a2 * capacity)) / (2 * a2) if a2 > 0 else capacity / max(b2, 1e-9)
    tmo = max(1, min(m, math.floor(t)))
    tno = max(1, min(n, math.floor((capacity - tmo * kc * a_b) / (tmo * o_b + kc * w_b)) if tmo * o_b + kc * w_b > 0
                     else n))
    best = min(best, ci * math.ceil(n / tno) + cw * math.ceil(m / tmo) + co)
    return g.batch * best


@dataclass(frozen=True)
class Traffic:
    bytes_by_level: dict[str, int]
    cycles_by_level: dict[str, int]


def transfer_cycles(device: DeviceProfile, bytes_by_level: Mapping[str, float]) -> dict[str, int]:
    out = {}
    for lv in device.memory:
        b = bytes_by_level.get(lv.name, 0)
        out[lv.name] = math.ceil(b * device.clock_hz / lv.bandwidth_bytes_per_s) if b else 0
    return out


def _resident(nbytes: float, level: MemoryLevel | None) -> bool:
    return level is not None and nbytes <= level.usable_bytes


def gemm_level_bytes(work: OpWork, device: DeviceProfile, innermost_capacity: float, *,
                     weight_bytes_per_element: float | None = None, rhs_is_activation: bool = False,
                     capacities: Mapping[str, float] | None = None) -> dict[str, float]:
    """Bytes served by each memory level for a GEMM-shaped op.

    Level i serves what the best tiling for the capacity just inside it (level i-1's usable size, or
    ``innermost_capacity`` for the first level) needs. At the off-chip level, an activation that fits
    the last on-chip level is not re-read from DRAM (the producer left it there, the consumer finds
    it there), unless it is a state tensor kept between runs (a KV cache: written steps ago, evicted
    since); weights come from DRAM once per inference at least.
    """
    g = work.gemm
    assert g is not None
    per_item_in = work.in_bytes[0] / max(g.batch * g.m * g.k, 1) if work.in_bytes else 0.0
    a_b = per_item_in if per_item_in > 0 else work.act_dtype.bits / 8
    if rhs_is_activation:
        w_b = work.in_bytes[1] / max(g.batch * g.n * g.k, 1) if len(work.in_bytes) > 1 else a_b
    elif weight_bytes_per_element is not None:
        w_b = weight_bytes_per_element
    else:
        w_b = work.weight.bytes_per_element if work.weight else a_b
    o_b = work.out_bytes / max(g.batch * g.m * g.n, 1)
    llc = device.last_on_chip
    out: dict[str, float] = {}
    inner = innermost_capacity
    extra = work.other_param_bytes
    for lv in device.memory:
        cap = capacities.get(lv.name, inner) if capacities else inner
        if lv.on_chip:
            b = gemm_traffic(g, a_b, w_b, o_b, cap)
        else:
            a_free = _resident(work.in_bytes[0] if work.in_bytes else 0, llc) and not work.input_is_state(0)
            w_free = (rhs_is_activation and _resident(work.in_bytes[1] if len(work.in_bytes) > 1 else 0, llc)
                      and not work.input_is_state(1))
            o_free = _resident(work.out_bytes, llc)
            b = gemm_traffic(g, a_b, w_b, o_b, cap, a_free=a_free, w_free=w_free, o_free=o_free)
        out[lv.name] = b + extra
        inner = lv.usable_bytes
    return out


def streaming_level_bytes(work: OpWork, device: DeviceProfile) -> dict[str, float]:
    """Bytes per level for an op that reads each input and writes each output once (no reuse to
    exploit): every on-chip level passes all of it; DRAM only what does not stay on chip."""
    llc = device.last_on_chip
    params = work.param_bytes
    total = work.act_in_bytes + work.out_bytes + params
    off = params + sum(b for i, b in enumerate(work.in_bytes) if not _resident(b, llc) or work.input_is_state(i))
    off += 0 if _resident(work.out_bytes, llc) else work.out_bytes
    return {lv.name: float(total if lv.on_chip else off) for lv in device.memory}


def vector_cycles(arith: Mapping[str, int], rates: Mapping[str, float], lanes_scale: float, units: int,
                  notes: list[str]) -> float:
    """Cycles for non-MAC arithmetic on ``units`` parallel units with per-unit rates by op kind.

    Lane-parallel kinds (add, mul, cmp, move) run ``lanes_scale`` times faster for narrow integer
    data. An arithmetic kind without a rate is costed at the add rate, with a note (never as 0).
    """
    cycles = 0.0
    for kind, count in arith.items():
        if count <= 0:
            continue
        r = rates.get(kind)
        if r is None:
            r = rates.get("add")
            if r is None:
                raise KeyError(kind)
            notes.append(f"arith kind {kind!r} costed at the add rate")
        scale = lanes_scale if kind in ("add", "mul", "cmp", "move") else 1.0
        cycles += count / (r * scale)
    return cycles / max(units, 1)


def lane_utilization(dim: int, lanes: int) -> float:
    if lanes <= 1 or dim <= 0:
        return 1.0
    return dim / (math.ceil(dim / lanes) * lanes)


def best_lane_utilization(g: Gemm, lanes: int) -> float:
    """Vectorize along output channels, output rows or the reduction (dot-product kernels with a
    final horizontal add), whichever wastes the fewest lanes; output channels win ties."""
    return max(lane_utilization(g.n, lanes), lane_utilization(g.m, lanes), lane_utilization(g.k, lanes))


def split_items(g: Gemm, tile_m: int, tile_n: int, workers: int, min_k_chunk: int = 256) -> int:
    """Independent work items of a tiled GEMM; when there are fewer output tiles than workers, the
    reduction is split (split-K, partial sums added at the end) into chunks of at least
    ``min_k_chunk``."""
    items = g.batch * math.ceil(g.m / tile_m) * math.ceil(g.n / tile_n)
    if items < workers:
        splits = range(1, max(1, min(workers, g.k // min_k_chunk)) + 1)
        items *= max(splits, key=lambda s: (work_utilization(items * s, workers), -s))
    return items


def work_utilization(items: int, workers: int) -> float:
    """Share of ``workers`` busy when ``items`` equal work items are dealt out in waves."""
    if items <= 0 or workers <= 1:
        return 1.0
    return items / (math.ceil(items / workers) * workers)


# --- transform-domain convolutions (Winograd, FFT) ------------------------------------------------
WINOGRAD_ALGORITHMS = frozenset({"winograd_f2x2_3x3", "winograd_f4x4_3x3"})
TRANSFORM_ALGORITHMS = WINOGRAD_ALGORITHMS | {"fft"}
#: algorithms with a workspace: the transform-domain ones and im2col (its lowered input matrix)
BUFFERED_ALGORITHMS = TRANSFORM_ALGORITHMS | {"im2col"}


def transform_bytes_per_element(dt: DType) -> float:
    """Bytes of one transform-domain value: the dtype's own width for floats; integer data widens
    (a Winograd / FFT transform of b-bit integers needs more than b bits: twice the width, at most 32)."""
    if dt.is_float:
        return dt.bits / 8
    return min(32, 2 * max(dt.bits, 1)) / 8


@dataclass(frozen=True)
class ConvBuffers:
    """What a Winograd / FFT convolution holds beyond its operands, from the ``conv_algorithm`` pass's
    weight-tensor meta (``conv_transformed_filter_elems``, ``conv_workspace_elems``).

    Winograd keeps its transformed filter U (transformed once at load, as ncnn, XNNPACK and the Arm
    Compute Library do; the GEMM reads U as its weights), so its filter transform is no per-inference
    work. FFT transforms the filters on every call (the IR's ``fft`` count includes their FFTs, as
    cuDNN's FFT convolution does into its workspace), so the filter spectra are workspace.
    ``workspace_bytes`` is the per-inference temporary: transformed inputs and products (+ filter
    spectra for FFT; im2col: its lowered input matrix). The whole layer's workspace is materialized
    between phases, as the Arm Compute Library's Winograd layer (input transform, batched GEMM,
    output transform over full intermediate tensors) and cuDNN's workspace API do; a library that
    transforms tile blocks inside the cache moves less."""

    algorithm: str
    filter_bytes: int
    workspace_bytes: int
    filter_kept: bool

    @property
    def label(self) -> str:
        labels = {"fft": "FFT", "im2col": "im2col", "winograd_f2x2_3x3": "Winograd F(2x2,3x3)",
                  "winograd_f4x4_3x3": "Winograd F(4x4,3x3)"}
        return labels.get(self.algorithm, self.algorithm)


def conv_buffers(work: OpWork) -> ConvBuffers | None:
    """The buffers of a transform-domain conv, or None (another op or algorithm, or no buffer meta)."""
    if work.group != "conv" or work.weight is None:
        return None
    meta = work.weight.meta
    alg = meta.get("conv_algorithm", work.attrs.get("algorithm"))
    if alg not in BUFFERED_ALGORITHMS or not meta.get("conv_workspace_elems"):
        return None
    if alg == "im2col":  # the lowered input matrix, at the activation's own width
        return ConvBuffers(alg, 0, int(math.ceil(int(meta["conv_workspace_elems"]) * work.act_dtype.bits / 8)), False)
    ws_b = transform_bytes_per_element(work.act_dtype)
    filt = int(meta.get("conv_transformed_filter_elems", 0))
    ws = int(meta["conv_workspace_elems"])
    if alg in WINOGRAD_ALGORITHMS:
        return ConvBuffers(alg, int(math.ceil(filt * work.weight.bytes_per_element)), int(math.ceil(ws * ws_b)), True)
    return ConvBuffers(alg, int(math.ceil(filt * ws_b)), int(math.ceil((ws + filt) * ws_b)), False)


def workspace_level_bytes(device: DeviceProfile, innermost_capacity: float, buffers: ConvBuffers) -> dict[str, float]:
    """Extra bytes per memory level for a transform-domain conv's workspace: each phase (input
    transform, transform-domain products, inverse transform) writes its result and the next reads it
    back, so a workspace that does not fit the capacity just inside a level (as in
    ``gemm_level_bytes``) crosses that level twice; one that fits stays inside it."""
    out: dict[str, float] = {}
    inner = innermost_capacity
    ws = float(buffers.workspace_bytes)
    for lv in device.memory:
        out[lv.name] = 2.0 * ws if ws > inner else 0.0
        inner = lv.usable_bytes
    return out
