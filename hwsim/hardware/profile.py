"""Device profiles as frozen dataclasses, built only from validated YAML (see ``schema`` and ``loader``).

All quantities are in base units named by the field: Hz, bytes, bytes/s, seconds, pJ, W. Rates are
per cycle of the profile's ``clock_hz`` (FPGA: the fabric clock; systolic: the array clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

DeviceKind = Literal["cpu", "gpu", "fpga", "systolic"]
DEVICE_KINDS: tuple[str, ...] = ("cpu", "gpu", "fpga", "systolic")


@dataclass(frozen=True)
class MemoryLevel:
    """One level of the memory hierarchy. Levels are ordered from the compute units outwards."""

    name: str
    size_bytes: float
    bandwidth_bytes_per_s: float
    latency_s: float
    energy_pj_per_byte: float
    on_chip: bool
    #: share of the capacity a tiled kernel can count on keeping resident (caches: conflicts, LRU)
    usable_fraction: float = 1.0
    #: private copies (per-core L1, per-SM shared memory); ``size_bytes`` is one instance's size and
    #: ``bandwidth_bytes_per_s`` the total over all instances
    instances: int = 1

    @property
    def usable_bytes(self) -> float:
        """What one tile may occupy: tiles are per core / per SM, so per instance."""
        return self.size_bytes * self.usable_fraction

    @property
    def total_bytes(self) -> float:
        return self.size_bytes * self.instances


@dataclass(frozen=True)
class EnergyTable:
    """Dynamic energy per MAC by compute dtype and per other op by kind (pJ), after node scaling."""

    mac_pj: Mapping[str, float]
    op_pj: Mapping[str, float]
    process_scale: float  # the node factor applied to Horowitz's 45 nm defaults
    instruction_pj: float = 0.0  # per issued vector / warp instruction (0: not modelled)

    def mac(self, dtype_name: str) -> float:
        if dtype_name in self.mac_pj:
            return self.mac_pj[dtype_name]
        raise KeyError(dtype_name)


@dataclass(frozen=True)
class SparseTraits:
    """How irregular (compressed-sparse) execution behaves on this device."""

    index_decode_cycles: float  # cycles per stored index (per nonzero) to decode it, per core/unit
    gather_efficiency: float  # fraction of the dense MAC rate reached when operands are gathered
    codebook_lookup_cycles: float  # cycles per weight to look a shared value up (per lane group)
    huffman_decode_cycles_per_symbol: float  # serial entropy decoding, per coded symbol
    #: "load_time": Huffman streams are decoded once when the model is loaded and kernels read the
    #: inner fixed-width encoding; "on_the_fly": every inference reads and decodes the Huffman bits
    huffman_decode: str = "load_time"
    #: CPU/GPU: a sparse weight slower than its dense expansion is expanded at load time
    dense_fallback: bool = True

    @property
    def huffman_on_the_fly(self) -> bool:
        return self.huffman_decode == "on_the_fly"


@dataclass(frozen=True)
class Fusion:
    """What the inference engine fuses into the producing kernel (CPU/GPU cost models)."""

    batchnorm: bool = True  # batchnorm after conv / linear folded into its weights at load time
    activation: bool = True  # pointwise activations applied in the producer's epilogue


@dataclass(frozen=True)
class CpuSpec:
    cores: int
    simd_width_bits: int
    macs_per_cycle_per_core: Mapping[str, float]  # by compute dtype name
    vector_ops_per_cycle_per_core: Mapping[str, float]  # other arithmetic by kind (fp32 lanes)
    popcount_word_bits: int  # width of one XNOR + popcount step
    popcount_cycles_per_word: float  # cycles for XNOR + popcount + accumulate of one word
    register_file_bytes: float
    op_overhead_s: float  # dispatching one op (thread wake-up, loop setup)
    #: share of the unit's peak real kernels reach, by kernel class (``kernel_efficiency``)
    efficiency: Mapping[str, float] = field(default_factory=dict)
    fusion: Fusion = Fusion()
    #: the inference runtime modelled (None: the one ``efficiency`` was fitted on)
    runtime: str | None = None


@dataclass(frozen=True)
class GpuSpec:
    sms: int
    cuda_cores: int
    tensor_cores: int
    cuda_core_macs_per_cycle: Mapping[str, float]  # per CUDA core, by dtype
    tensor_core_macs_per_cycle: Mapping[str, float]  # per tensor core, by dtype
    vector_ops_per_cycle_per_sm: Mapping[str, float]
    popcount_per_cycle_per_sm: float  # 32-bit popc results per cycle per SM
    register_file_bytes_per_sm: float
    launch_overhead_s: float
    cta_tile: int  # output tile edge one thread block computes (wave quantization)
    efficiency: Mapping[str, float] = field(default_factory=dict)  # as CpuSpec.efficiency
    fusion: Fusion = Fusion()
    structured_sparsity: tuple[str, ...] = ()  # N:M patterns the tensor cores accelerate ("2:4")
    min_kernel_time_s: float = 0.0  # the least time one kernel takes (the launch overhead comes on top)


@dataclass(frozen=True)
class FpgaSpec:
    lut: int
    ff: int
    dsp: int
    bram36: int
    uram: int
    dsp_mult_bits: tuple[int, int]  # DSP multiplier operand widths (25x18 DSP48E1, 27x18 DSP48E2)
    model_params: Mapping[str, Any]  # named coefficients of the FPGA cost model (hwsim.cost.fpga)
    family: str | None = None  # hwsim.hardware.fpga_parts.FAMILIES key (None: not stated)
    speed_grade: int = 1

    @property
    def bram18(self) -> int:
        return 2 * self.bram36


@dataclass(frozen=True)
class SystolicSpec:
    rows: int
    cols: int
    dataflow: Literal["os", "ws", "is"]
    ifmap_sram_bytes: float
    filter_sram_bytes: float
    ofmap_sram_bytes: float
    macs_per_cycle_per_pe: Mapping[str, float]  # by dtype (int8 = 1 on an Edge-TPU-like array)
    model_params: Mapping[str, Any]
    param_cache_bytes: float = 0.0  # weights that fit stay on chip across inferences
    busy_power_w: float | None = None  # the chip's rated power while the array computes (static included)


@dataclass(frozen=True)
class DeviceProfile:
    """A validated device. ``raw`` is the YAML document it was built from, as written (the file plus any
    ``--set`` values, before its software-model class fills the keys it leaves out), for further overrides."""

    name: str
    kind: DeviceKind
    description: str
    clock_hz: float
    process_nm: float
    static_power_w: float
    memory: tuple[MemoryLevel, ...]
    energy: EnergyTable
    sparse: SparseTraits
    cpu: CpuSpec | None = None
    gpu: GpuSpec | None = None
    fpga: FpgaSpec | None = None
    systolic: SystolicSpec | None = None
    source: str = ""
    #: what static power and energies cover: "chip", "board" (at the wall) or None (not stated)
    power_scope: str | None = None
    #: the whole board's idle power, chip included (W), for a chip-scope profile; None: unknown
    board_idle_power_w: float | None = None
    #: the host CPU's power above idle while an attached accelerator runs an inference (W); None: unknown
    host_power_w: float | None = None
    #: the rest of the module (SoC, memory controller, DRAM) above its idle while an inference runs (W); None: unknown
    soc_active_power_w: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    overrides: tuple[tuple[str, str], ...] = ()

    # --- memory -----------------------------------------------------------------------------------
    def level(self, name: str) -> MemoryLevel:
        for lv in self.memory:
            if lv.name == name:
                return lv
        raise KeyError(name)

    @cached_property
    def dram(self) -> MemoryLevel:
        """The outermost (off-chip) level: where weights and spilled activations live."""
        return self.memory[-1]

    @cached_property
    def on_chip_levels(self) -> tuple[MemoryLevel, ...]:
        return tuple(lv for lv in self.memory if lv.on_chip)

    @cached_property
    def last_on_chip(self) -> MemoryLevel | None:
        levels = self.on_chip_levels
        return levels[-1] if levels else None

    def bytes_per_cycle(self, level: MemoryLevel) -> float:
        return level.bandwidth_bytes_per_s / self.clock_hz

    @property
    def spec(self) -> CpuSpec | GpuSpec | FpgaSpec | SystolicSpec:
        spec = {"cpu": self.cpu, "gpu": self.gpu, "fpga": self.fpga, "systolic": self.systolic}[self.kind]
        assert spec is not None
        return spec


#: a kernel class without its own efficiency takes another's (winograd and integer kernels are GEMMs)
EFFICIENCY_FALLBACK: Mapping[str, str] = MappingProxyType({"winograd": "gemm", "integer": "gemm"})


def kernel_efficiency(table: Mapping[str, float], key: str) -> float:
    """The share of the peak a kernel class reaches: its own entry, else its fallback class's, else 1.0
    (the roofline peak)."""
    while key not in table and key in EFFICIENCY_FALLBACK:
        key = EFFICIENCY_FALLBACK[key]
    return float(table.get(key, 1.0))


def runtime_efficiency(table: Mapping[str, float], factors: Mapping[str, float],
                       keys: tuple[str, ...]) -> dict[str, float]:
    """Every kernel class's efficiency under a runtime: the base efficiency (``kernel_efficiency``) times
    the runtime's factor for that class (1.0 when it names none). Raises ValueError past the peak."""
    out = {}
    for k in keys:
        v = kernel_efficiency(table, k) * factors.get(k, 1.0)
        if v > 1.0 + 1e-9:
            raise ValueError(f"efficiency of {k} kernels would be {v:.3g} (> 1, past the peak) under the runtime")
        out[k] = v
    return out


def thread_scaling_factor(threads: int, measured_threads: int, scaling: float) -> float:
    """How a per-core efficiency measured with ``measured_threads`` threads changes on ``threads``:
    n threads deliver 1 + (n - 1) x ``scaling`` threads' worth of throughput (shared memory bandwidth,
    synchronisation), so the per-core share is that over n, relative to the measured configuration."""
    def per_core(n: int) -> float:
        return (1.0 + (n - 1) * scaling) / n

    return per_core(threads) / per_core(measured_threads)
