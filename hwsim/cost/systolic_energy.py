"""Energy of one GEMM on a systolic array: per operation, or from the chip's rated busy power.

Two models, chosen by the profile (``array.busy_power``):

- **per operation** (default): MACs x the energy of one MAC of the dtype (Horowitz, scaled to the process
  node) + bytes x the energy per byte of each memory level, as every other device kind.
- **busy power** (``array.busy_power`` set): the chip's rated power while its array computes, static
  included (the Edge TPU: 4 TOPS using 2 W, coral.ai). While the array runs a GEMM's folds the chip
  draws that power, so the GEMM's dynamic energy is (busy_power - static_power) x the array's compute
  time; the static part is charged over the whole latency by the engines, as for every device. The rated
  power is the whole chip's (datapath, on-chip SRAM feeding it, clock tree), so it replaces the per-MAC and
  on-chip memory energies of array GEMMs; off-chip traffic (the host link) keeps its energy per byte, and
  the vector unit's arithmetic (bias adds, transforms) its per-operation energy. The power is charged per
  array cycle, not per MAC: a systolic array clocks its registers and moves its operands every cycle of a
  fold, whatever share of its PEs hold useful products.
"""

from __future__ import annotations

from collections.abc import Mapping

from hwsim.hardware.profile import DeviceProfile


def mac_energy_pj(device: DeviceProfile, key: str) -> float:
    """One MAC of the dtype ``key`` (falling back to int8, then fp32) from the profile's energy table."""
    table = device.energy.mac_pj
    for k in (key, "int8", "fp32"):
        if k in table:
            return table[k]
    return 0.0


def level_energy_pj(device: DeviceProfile, bytes_by_level: Mapping[str, float]) -> dict[str, float]:
    """Energy of the traffic, split into on-chip and off-chip levels."""
    onchip = sum(bytes_by_level.get(lv.name, 0) * lv.energy_pj_per_byte for lv in device.memory if lv.on_chip)
    dram = sum(bytes_by_level.get(lv.name, 0) * lv.energy_pj_per_byte for lv in device.memory if not lv.on_chip)
    return {"onchip": float(onchip), "dram": float(dram)}


def busy_energy_pj(device: DeviceProfile, array_cycles: float) -> float | None:
    """The array's dynamic energy over ``array_cycles`` from the rated busy power, or None when the
    profile gives none (then the per-operation model applies)."""
    spec = device.systolic
    if spec is None or spec.busy_power_w is None:
        return None
    return (spec.busy_power_w - device.static_power_w) * array_cycles / device.clock_hz * 1e12


def gemm_energy_pj(device: DeviceProfile, *, macs: float, mac_key: str, array_cycles: float, vector_pj: float,
                   bytes_by_level: Mapping[str, float], notes: list[str]) -> dict[str, float]:
    """Energy by component (compute, onchip, dram) of one GEMM that keeps the array busy ``array_cycles``."""
    levels = level_energy_pj(device, bytes_by_level)
    busy = busy_energy_pj(device, array_cycles)
    if busy is None:
        return {"compute": macs * mac_energy_pj(device, mac_key) + vector_pj, **levels}
    spec = device.systolic
    assert spec is not None
    notes.append(f"array energy from the chip's busy power: ({spec.busy_power_w:g} - {device.static_power_w:g}) W "
                 "x the array's compute time (MACs and on-chip SRAM included)")
    return {"compute": busy + vector_pj, "onchip": 0.0, "dram": levels["dram"]}
