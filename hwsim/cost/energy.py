"""Dynamic energy of one op: operations x energy per op + bytes x energy per byte at each level.

Per-op energies come from the profile's table (Horowitz ISSCC 2014 at 45 nm, scaled to the profile's
process node, see ``hwsim.hardware.energy_tables``). Components: "compute" (MACs, other arithmetic,
index decoding), "onchip" (bytes at on-chip levels), "dram" (bytes at off-chip levels). Static
energy (static power x time) is added by the engines, which know the time.
"""

from __future__ import annotations

from collections.abc import Mapping

from hwsim.cost.common import RATE_FALLBACK, ComputeClass
from hwsim.hardware.profile import DeviceProfile


def mac_energy_pj(device: DeviceProfile, cc: ComputeClass, unit_key: str | None = None) -> float:
    """Energy of one MAC of this compute class (xnor: per bit-plane product). ``unit_key`` names what
    the unit really executes when it is wider than the class (int8 products on a 16-bit multiplier
    pay the int16 MAC energy)."""
    table = device.energy.mac_pj
    if cc.mode == "addsub" and cc.key in ("fp32", "fp16", "bf16", "tf32"):
        # a float add replaces the multiply-accumulate: fp32 add, fp16 ~ half (Horowitz 0.9 vs 0.4 pJ)
        return device.energy.op_pj["add"] * (0.45 if cc.key in ("fp16", "bf16") else 1.0)
    key = unit_key if (unit_key and cc.mode == "mac") else cc.energy_key
    for k in RATE_FALLBACK.get(key, (key,)):
        if k in table:
            return table[k]
    return table["fp32"]


def arith_energy_pj(device: DeviceProfile, arith: Mapping[str, int], data_bits: int = 32) -> float:
    """Other arithmetic; integer data narrower than 32 bits scales add/cmp energy with the width."""
    ops = device.energy.op_pj
    scale = min(1.0, data_bits / 32)
    total = 0.0
    for kind, count in arith.items():
        e = ops.get(kind, ops["add"])
        if kind in ("add", "cmp", "mul"):
            e *= scale
        total += count * e
    return total


def memory_energy_pj(device: DeviceProfile, bytes_by_level: Mapping[str, float]) -> tuple[float, float]:
    """(on-chip, off-chip) energy of the traffic."""
    on = off = 0.0
    for lv in device.memory:
        b = bytes_by_level.get(lv.name, 0.0)
        if lv.on_chip:
            on += b * lv.energy_pj_per_byte
        else:
            off += b * lv.energy_pj_per_byte
    return on, off


def op_energy(device: DeviceProfile, *, macs: float, cc: ComputeClass | None, arith: Mapping[str, int],
              data_bits: int, bytes_by_level: Mapping[str, float], extra_compute_pj: float = 0.0,
              energy_key: str | None = None) -> dict[str, float]:
    compute = extra_compute_pj + arith_energy_pj(device, arith, data_bits)
    if cc is not None and macs:
        compute += macs * cc.planes * mac_energy_pj(device, cc, energy_key)
    on, off = memory_energy_pj(device, bytes_by_level)
    return {"compute": compute, "onchip": on, "dram": off}
