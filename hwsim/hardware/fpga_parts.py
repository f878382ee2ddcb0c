"""What an FPGA part family allows and costs: the fastest clock its DSP slices reach per speed grade,
and XPE-style dynamic power coefficients per resource (``fpga.family`` / ``fpga.speed_grade`` of a
profile). hwsim's FPGA cost model uses them for the energy of a design (``hwsim.cost.fpga_power``) and
the schema refuses a profile whose clock its part cannot reach.

Power follows the structure of the Xilinx Power Estimator (UG440): dynamic power of a resource =
count x clock x toggle-rate-dependent energy; XPE's default logic toggle rate is 12.5 % and random data
into a DSP toggles ~38 % (UG440, "Using the Logic Sheet" and "Using the DSP Sheet", read). The
coefficients below are per resource per MHz at those toggle rates (1 uW/MHz = 1 pJ per clock cycle).
No XPE spreadsheet was read: the coefficients are ASSUMED (orders of magnitude of Vivado power
reports), and the 7-series ones are the UltraScale+ ones scaled by the node rule of
``hwsim.hardware.energy_tables`` (28/16) and VCCINT^2 (1.0 V / 0.85 V)^2. They are validated only, never
fitted (docs/validation.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class FpgaFamily:
    name: str
    dsp_slice: str
    #: DSP slice Fmax (MHz) by speed grade (fully pipelined); the fabric clock of a design cannot exceed it
    dsp_fmax_mhz: Mapping[int, float]
    fmax_source: str
    #: dynamic energy per clock cycle (pJ = uW/MHz) per LUT, FF and DSP slice at XPE's default toggle rates
    lut_pj: float
    ff_pj: float
    dsp_pj: float
    power_source: str

    def max_clock_hz(self, speed_grade: int, *, dsp_double_pumped: bool = False) -> float:
        f = self.dsp_fmax_mhz[speed_grade] * 1e6
        return f / 2 if dsp_double_pumped else f


_US_PLUS_SCALE_TO_7SERIES = (28 / 16) * (1.0 / 0.85) ** 2

FAMILIES: Mapping[str, FpgaFamily] = MappingProxyType({
    "zynq_ultrascale_plus": FpgaFamily(
        name="zynq_ultrascale_plus", dsp_slice="DSP48E2",
        dsp_fmax_mhz=MappingProxyType({1: 644.0, 2: 775.0, 3: 891.0}),
        fmax_source="ASSUMED: DS925 (Zynq UltraScale+ data sheet) DSP48E2 Fmax at VCCINT 0.85 V, recalled, "
                    "not read here",
        lut_pj=0.06, ff_pj=0.02, dsp_pj=2.5,
        power_source="ASSUMED XPE-class coefficients at 16 nm, 0.85 V (module docstring)"),
    "zynq7000": FpgaFamily(
        name="zynq7000", dsp_slice="DSP48E1",
        dsp_fmax_mhz=MappingProxyType({1: 464.0, 2: 550.0, 3: 628.0}),
        fmax_source="ASSUMED: DS187 (Zynq-7000 data sheet, Artix-7 fabric) DSP48E1 Fmax, recalled, not read here",
        lut_pj=round(0.06 * _US_PLUS_SCALE_TO_7SERIES, 3), ff_pj=round(0.02 * _US_PLUS_SCALE_TO_7SERIES, 3),
        dsp_pj=round(2.5 * _US_PLUS_SCALE_TO_7SERIES, 2),
        power_source="ASSUMED: the UltraScale+ coefficients x (28/16) x (1.0 V / 0.85 V)^2"),
})


def family(name: str) -> FpgaFamily:
    return FAMILIES[name]


def fabric_pj_per_cycle(fam: FpgaFamily, resources: Mapping[str, float], *, dsp_clock_ratio: float = 1.0) -> float:
    """Dynamic energy per fabric clock cycle of the clocked logic (LUT, FF, DSP) of a design; DSPs clocked
    ``dsp_clock_ratio`` times the fabric clock (a DPU's double-pumped DSPs: 2) switch that many times."""
    return (resources.get("lut", 0) * fam.lut_pj + resources.get("ff", 0) * fam.ff_pj
            + resources.get("dsp", 0) * fam.dsp_pj * dsp_clock_ratio)
