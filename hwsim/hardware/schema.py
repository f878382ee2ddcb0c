"""The device YAML schema: one pydantic model per device kind, discriminated by ``kind``, extra="forbid".

Quantities are written with units (``clock: 1.43 GHz``, ``bandwidth: 25.6 GB/s``, ``size: 512 KiB``,
``energy_per_byte: 0.9 pJ``, ``latency: 100 ns`` or ``latency: 4 cycles``) and parsed by
``hwsim.units.parse_quantity``; a plain number is taken in the base unit. Ambiguous units ("Mb") are
rejected. Cross-field rules (order of memory levels, positive rates) are checked here, after the
per-field ones, so every message carries a key path. The loader turns these models into the frozen
dataclasses of ``hwsim.hardware.profile``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from hwsim.units import UnitError, parse_quantity


def _quantity(dimension: str, *, positive: bool = True, allow_zero: bool = False):
    def parse(v: Any) -> float:
        try:
            x = parse_quantity(v, dimension)
        except UnitError as e:
            raise ValueError(e.message) from None
        if positive and (x < 0 or (x == 0 and not allow_zero)):
            raise ValueError(f"must be {'>= 0' if allow_zero else '> 0'}, got {v!r}")
        return x

    return BeforeValidator(parse)


def _energy_per_byte(v: Any) -> float:
    if isinstance(v, str):
        v = re.sub(r"\s*/\s*(B|byte)$", "", v.strip())
    try:
        x = parse_quantity(v, "pj")
    except UnitError as e:
        raise ValueError(e.message) from None
    if x < 0:
        raise ValueError(f"must be >= 0, got {v!r}")
    return x


def _latency(v: Any) -> tuple[float, str]:
    """Latency as (value, unit) with unit 's' or 'cycles'; converted to seconds by the loader."""
    if isinstance(v, str):
        m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*cycles?\s*", v)
        if m:
            x = float(m.group(1))
            if x < 0:
                raise ValueError(f"must be >= 0, got {v!r}")
            return (x, "cycles")
    try:
        x = parse_quantity(v, "s")
    except UnitError as e:
        raise ValueError(e.message + " (or write e.g. '4 cycles')") from None
    if x < 0:
        raise ValueError(f"must be >= 0, got {v!r}")
    return (x, "s")


Hz = Annotated[float, _quantity("hz")]
Bytes = Annotated[float, _quantity("bytes")]
BytesPerS = Annotated[float, _quantity("bytes_per_s")]
Watts = Annotated[float, _quantity("w", allow_zero=True)]
Seconds = Annotated[float, _quantity("s", allow_zero=True)]
Nm = Annotated[float, _quantity("nm")]
PjPerByte = Annotated[float, BeforeValidator(_energy_per_byte)]
Pj = Annotated[float, _quantity("pj", allow_zero=True)]
Latency = Annotated[tuple[float, str], BeforeValidator(_latency)]
PositiveInt = Annotated[int, Field(gt=0)]
Rate = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]

#: Compute dtypes a rate table may name.
RATE_DTYPES = ("fp32", "fp16", "bf16", "tf32", "int32", "int16", "int8", "int4", "binary", "ternary")
#: Non-MAC arithmetic kinds (hwsim.ir counting) a vector-op table may name.
OP_KINDS = ("add", "mul", "cmp", "div", "sqrt", "exp", "erf", "fft", "transform_filter", "move")
#: Kernel classes a CPU/GPU efficiency factor may name (hwsim.cost.rules.efficiency_key): gemm (dense
#: float GEMM-like convs / linears), depthwise, vector (elementwise, pooling, norms), winograd (the
#: transform-domain products of a Winograd conv), integer (integer-product GEMM-like kernels).
EFFICIENCY_KEYS = ("gemm", "depthwise", "vector", "winograd", "integer")


StrictPositiveInt = Annotated[int, Field(strict=True, gt=0)]


class _Strict(BaseModel):
    # strict: a quoted number (dsp: '220') or a string boolean is an error naming the key, not coerced
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_keys(table: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(allowed)}")


class MemoryLevelModel(_Strict):
    size: Bytes
    bandwidth: BytesPerS
    latency: Latency = (0.0, "s")
    energy_per_byte: PjPerByte | None = None  # default: Horowitz SRAM by size (on chip) or DRAM
    on_chip: bool
    usable_fraction: Fraction = 1.0
    #: share of ``bandwidth`` (a peak / pin rate) that streaming kernels sustain; each value below 1 must
    #: cite a measurement. The level's bandwidth is ``bandwidth`` x this.
    sustained_fraction: Fraction = 1.0
    instances: PositiveInt = 1  # private copies (per-core L1, per-SM shared memory): size is per instance
    #: off-chip memory type: sets the default energy per byte (hwsim.hardware.energy_tables.DRAM_TYPES)
    type: Literal["DDR3", "DDR4", "LPDDR2", "LPDDR4", "LPDDR4X", "LPDDR5"] | None = None

    @model_validator(mode="after")
    def _type_off_chip(self) -> "MemoryLevelModel":
        if self.type is not None and self.on_chip:
            raise ValueError(f"type {self.type!r} names a DRAM; this level is on_chip")
        return self


class EnergyModel(_Strict):
    """Overrides of the default (Horowitz, node-scaled) energy tables; unnamed entries keep defaults."""

    mac: dict[str, Pj] = Field(default_factory=dict)
    op: dict[str, Pj] = Field(default_factory=dict)
    #: front-end energy per issued vector (CPU) or warp (GPU) instruction: fetch, decode, register
    #: file, control; at this profile's node. 0 = not modelled.
    instruction: Pj = 0.0
    scale_with_node: bool = True

    @model_validator(mode="after")
    def _known(self) -> "EnergyModel":
        _check_keys(self.mac, RATE_DTYPES, "MAC dtype")
        _check_keys(self.op, OP_KINDS, "op kind")
        return self


class SparseModel(_Strict):
    index_decode_cycles: Annotated[float, Field(ge=0)] = 1.0
    gather_efficiency: Fraction = 0.5
    codebook_lookup_cycles: Annotated[float, Field(ge=0)] = 1.0
    huffman_decode_cycles_per_symbol: Annotated[float, Field(ge=0)] = 8.0
    #: when Huffman-coded weights are decoded: once at model load (weights then sit in memory in their
    #: inner fixed-width encoding, as Deep Compression and EIE use them), or on every inference by an
    #: on-the-fly decoder (traffic at the Huffman size, decode cycles per symbol)
    huffman_decode: Literal["load_time", "on_the_fly"] = "load_time"
    #: CPU/GPU engines expand a sparse weight to dense at load time when sparse kernels would be slower
    #: (TFLite densifies sparse tensors; cuSPARSE beats cuDNN only at high sparsity)
    dense_fallback: bool = True


class FusionModel(_Strict):
    """What the inference engine fuses into the kernel that produces a tensor (docs/devices.md)."""

    #: inference batchnorm right after a conv / linear: folded into its weights and bias at load time
    batchnorm: bool = True
    #: pointwise activations (relu, relu6, sigmoid, ...) applied in the producer's epilogue
    activation: bool = True


def _check_efficiency(table: dict[str, float]) -> None:
    _check_keys(table, EFFICIENCY_KEYS, "efficiency key")


class PopcountModel(_Strict):
    word_bits: PositiveInt = 64
    cycles_per_word: Rate = 1.0


class CpuModel(_Strict):
    cores: PositiveInt
    simd_width_bits: PositiveInt
    macs_per_cycle_per_core: dict[str, Rate]
    vector_ops_per_cycle_per_core: dict[str, Rate]
    popcount: PopcountModel = PopcountModel()
    register_file: Bytes = 512.0
    op_overhead: Seconds = 0.0
    #: named kernel efficiency (share of the unit's peak real kernels reach) by kernel class; each value
    #: must cite a measurement. Missing keys are 1.0 (the roofline peak).
    efficiency: dict[str, Fraction] = Field(default_factory=dict)
    fusion: FusionModel = FusionModel()
    #: inference runtimes other than the one ``efficiency`` was fitted on: per runtime, a factor per
    #: kernel class on that efficiency (hwsim.hardware.profile.runtime_efficiency)
    runtimes: dict[str, dict[str, Rate]] = Field(default_factory=dict)
    #: the runtime this profile models (one of ``runtimes``); None: the one ``efficiency`` was fitted on
    runtime: str | None = None
    #: threads the efficiencies were measured with (None: ``cores``); running on another number of
    #: cores rescales them by ``thread_scaling`` (hwsim.hardware.profile.thread_scaling_factor)
    efficiency_threads: PositiveInt | None = None
    #: share of one thread's throughput each thread beyond the first adds (1.0: linear scaling)
    thread_scaling: Fraction = 1.0

    @model_validator(mode="after")
    def _rates(self) -> "CpuModel":
        _check_keys(self.macs_per_cycle_per_core, RATE_DTYPES, "dtype")
        _check_keys(self.vector_ops_per_cycle_per_core, OP_KINDS, "op kind")
        _check_efficiency(self.efficiency)
        for name, factors in self.runtimes.items():
            _check_keys(factors, EFFICIENCY_KEYS, f"runtimes.{name} kernel class")
        if self.runtime is not None and self.runtime not in self.runtimes:
            raise ValueError(f"runtime {self.runtime!r} is not one of this profile's runtimes "
                             f"({', '.join(sorted(self.runtimes)) or 'none'})")
        if "fp32" not in self.macs_per_cycle_per_core:
            raise ValueError("macs_per_cycle_per_core needs an fp32 entry (the fallback for other dtypes)")
        return self


class GpuRuntimeModel(_Strict):
    """Another inference runtime on a GPU profile: a factor per kernel class on the profile's
    efficiency (as CpuModel.runtimes) and, when it differs, its own per-kernel time floor (a runtime's
    per-layer host work counts there: it is measured with the kernels)."""

    efficiency: dict[str, Rate] = Field(default_factory=dict)
    min_kernel_time: Seconds | None = None

    @model_validator(mode="after")
    def _keys(self) -> "GpuRuntimeModel":
        _check_keys(self.efficiency, EFFICIENCY_KEYS, "kernel class")
        return self


class GpuModel(_Strict):
    sms: PositiveInt
    cuda_cores: PositiveInt
    tensor_cores: Annotated[int, Field(ge=0)] = 0
    cuda_core_macs_per_cycle: dict[str, Rate]
    tensor_core_macs_per_cycle: dict[str, Rate] = Field(default_factory=dict)
    vector_ops_per_cycle_per_sm: dict[str, Rate]
    popcount_per_cycle_per_sm: Rate = 32.0
    register_file_per_sm: Bytes = 65536.0
    launch_overhead: Seconds = 5e-6
    #: the least time one kernel takes however little its work (block scheduling, prologue, the memory
    #: latency a kernel too small to fill the SMs cannot hide); the launch overhead comes on top
    min_kernel_time: Seconds = 0.0
    cta_tile: PositiveInt = 64
    efficiency: dict[str, Fraction] = Field(default_factory=dict)  # as CpuModel.efficiency
    #: runtimes other than the one ``efficiency`` was fitted on (TensorRT for the Jetsons)
    runtimes: dict[str, GpuRuntimeModel] = Field(default_factory=dict)
    #: the runtime this profile models (one of ``runtimes``); None: the one ``efficiency`` was fitted on
    runtime: str | None = None
    fusion: FusionModel = FusionModel()
    #: N:M patterns the tensor cores run at N/M of the dense work from compressed weights ("2:4" on Ampere)
    structured_sparsity: list[Literal["2:4"]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rates(self) -> "GpuModel":
        _check_efficiency(self.efficiency)
        if self.runtime is not None and self.runtime not in self.runtimes:
            raise ValueError(f"runtime {self.runtime!r} is not one of this profile's runtimes "
                             f"({', '.join(sorted(self.runtimes)) or 'none'})")
        _check_keys(self.cuda_core_macs_per_cycle, RATE_DTYPES, "dtype")
        _check_keys(self.tensor_core_macs_per_cycle, RATE_DTYPES, "dtype")
        _check_keys(self.vector_ops_per_cycle_per_sm, OP_KINDS, "op kind")
        if "fp32" not in self.cuda_core_macs_per_cycle:
            raise ValueError("cuda_core_macs_per_cycle needs an fp32 entry")
        if self.cuda_cores % self.sms:
            raise ValueError(f"cuda_cores ({self.cuda_cores}) must be a multiple of sms ({self.sms})")
        if self.tensor_core_macs_per_cycle and self.tensor_cores == 0:
            raise ValueError("tensor_core_macs_per_cycle given but tensor_cores is 0")
        return self


Scalar = Union[int, float, str, bool]


class FpgaModel(_Strict):
    lut: PositiveInt
    ff: PositiveInt
    dsp: int
    bram36: Annotated[int, Field(ge=0)]
    uram: Annotated[int, Field(ge=0)] = 0
    dsp_mult_bits: tuple[StrictPositiveInt, StrictPositiveInt] = Field(default=(25, 18), strict=False)  # YAML list
    #: part family (hwsim.hardware.fpga_parts): the clock its DSPs reach and its power coefficients;
    #: None: no clock check, and compute energy falls back to per-MAC figures
    family: Literal["zynq7000", "zynq_ultrascale_plus"] | None = None
    speed_grade: Literal[1, 2, 3] = 1
    #: named coefficients of the FPGA cost model (hwsim.cost.fpga documents each one)
    model_params: dict[str, Scalar] = Field(default_factory=dict)

    @field_validator("dsp")
    @classmethod
    def _some_dsp(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be >= 1, got {v}: the FPGA cost model maps multipliers onto DSP slices "
                             "(parts without DSPs are not modelled)")
        return v


class ArrayModel(_Strict):
    rows: PositiveInt
    cols: PositiveInt
    dataflow: Literal["os", "ws", "is"] = "os"
    ifmap_sram: Bytes
    filter_sram: Bytes
    ofmap_sram: Bytes
    #: on-chip memory that keeps weights across inferences (the Edge TPU's parameter cache); 0: none
    param_cache: Bytes = 0
    macs_per_cycle_per_pe: dict[str, Rate] = Field(default_factory=lambda: {"int8": 1.0})
    #: the chip's rated power while its array computes (static power included; the Edge TPU's 2 W at its
    #: 4 TOPS): the array's GEMMs then cost (busy_power - static_power) x the array's compute time instead
    #: of per-MAC and on-chip SRAM energies (hwsim.cost.systolic_energy). None: per-operation energies
    busy_power: Watts | None = None
    model_params: dict[str, Scalar] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rates(self) -> "ArrayModel":
        _check_keys(self.macs_per_cycle_per_pe, RATE_DTYPES, "dtype")
        return self


class _DeviceBase(_Strict):
    description: str = ""
    clock: Hz
    process_node: Nm
    static_power: Watts
    #: what static_power (and the energy figures) cover: the chip alone, or the whole board at the wall
    power_scope: Literal["chip", "board"] | None = None
    #: the whole board's idle power (chip included: its static power is part of it), measured at the board's
    #: input; board energy of an inference = board_idle_power x latency + the chip's dynamic energy. Only
    #: with power_scope: chip. None: unknown
    board_idle_power: Watts | None = None
    #: an attached accelerator's host: the power above idle its host CPU draws while an inference runs
    #: (the runtime thread that submits the work and waits for it keeps a core busy), added to board
    #: energy with board_idle_power. Only with power_scope: chip. None: unknown (board energy then leaves it out)
    host_power: Watts | None = None
    #: the rest of the module above its idle while an inference runs: the power outside the chip's and the
    #: host CPU's own rails (SoC fabric, memory controller, DRAM background at the clocks a running load
    #: holds them at), added to board energy with board_idle_power. Only with power_scope: chip. None:
    #: unknown (board energy then leaves it out)
    soc_active_power: Watts | None = None
    memory: dict[str, MemoryLevelModel]
    energy: EnergyModel = EnergyModel()
    sparse: SparseModel = SparseModel()
    #: the shared software-model class whose keys this profile takes where it gives none
    #: (hwsim/hardware/software_models.yaml; filled in when the file is read)
    software_model: str | None = None

    @model_validator(mode="after")
    def _board_idle_power_needs_chip_scope(self) -> "_DeviceBase":
        board = (self.board_idle_power, self.host_power, self.soc_active_power)
        if any(w is not None for w in board) and self.power_scope != "chip":
            raise ValueError("board_idle_power / host_power / soc_active_power: are the board beside a chip-scope "
                             "profile; they need "
                             "power_scope: chip (a board-scope profile's static_power is already the board idle) "
                             f"(this profile says {self.power_scope!r})")
        return self

    @model_validator(mode="after")
    def _hierarchy(self) -> "_DeviceBase":
        if not self.memory:
            raise ValueError("memory needs at least one level (the off-chip DRAM)")
        levels = list(self.memory.items())
        names = [n for n, _ in levels]
        if levels[-1][1].on_chip:
            raise ValueError(f"the last memory level must be off chip (DRAM); {names[-1]!r} is on_chip "
                             f"(levels are listed from the compute units outwards: {', '.join(names)})")
        seen_off = False
        for name, lv in levels:
            if seen_off and lv.on_chip:
                raise ValueError(f"memory level {name!r} is on chip but listed after an off-chip level "
                                 f"(order levels from the compute units outwards: {', '.join(names)})")
            seen_off |= not lv.on_chip
        outer_name, outer = levels[-1]
        for name, lv in levels[:-1]:
            if lv.size * lv.instances > outer.size:
                raise ValueError(f"memory level {name!r} ({lv.size * lv.instances:.0f} B) is larger than the "
                                 f"outermost level {outer_name!r} ({outer.size:.0f} B)")
        return self


class CpuDevice(_DeviceBase):
    kind: Literal["cpu"]
    cpu: CpuModel


class GpuDevice(_DeviceBase):
    kind: Literal["gpu"]
    gpu: GpuModel


class FpgaDevice(_DeviceBase):
    kind: Literal["fpga"]
    fpga: FpgaModel

    @model_validator(mode="after")
    def _clock_within_part(self) -> "FpgaDevice":
        if self.fpga.family is None:
            return self
        from hwsim.hardware.fpga_parts import family

        fam = family(self.fpga.family)
        pumped = bool(self.fpga.model_params.get("overlay_preset"))  # DPU-like: DSPs at twice the clock
        limit = fam.max_clock_hz(self.fpga.speed_grade, dsp_double_pumped=pumped)
        if self.clock > limit * (1 + 1e-9):
            raise ValueError(
                f"clock: {self.clock / 1e6:g} MHz is above what a {fam.name} part of speed grade "
                f"-{self.fpga.speed_grade} reaches: {limit / 1e6:g} MHz ({fam.dsp_slice} Fmax "
                f"{fam.dsp_fmax_mhz[self.fpga.speed_grade]:g} MHz" + (", halved: a DPU-like overlay clocks its DSPs "
                                                                      "at twice the fabric clock" if pumped else "")
                + f"; {fam.fmax_source})")
        return self


class SystolicDevice(_DeviceBase):
    kind: Literal["systolic"]
    array: ArrayModel

    @model_validator(mode="after")
    def _busy_power_above_static(self) -> "SystolicDevice":
        if self.array.busy_power is not None and self.array.busy_power < self.static_power:
            raise ValueError(f"array.busy_power: {self.array.busy_power:g} W is below static_power "
                             f"{self.static_power:g} W (busy_power is the chip's whole power while its array "
                             "computes, static included)")
        return self


DeviceModel = Annotated[Union[CpuDevice, GpuDevice, FpgaDevice, SystolicDevice], Field(discriminator="kind")]

#: The section holding each kind's compute description (what ``--set`` paths start with).
KIND_SECTION = {"cpu": "cpu", "gpu": "gpu", "fpga": "fpga", "systolic": "array"}
KIND_MODEL: dict[str, type[_DeviceBase]] = {
    "cpu": CpuDevice, "gpu": GpuDevice, "fpga": FpgaDevice, "systolic": SystolicDevice,
}
