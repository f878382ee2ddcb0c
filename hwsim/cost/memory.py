"""Memory footprint: weights in their real stored format, peak live activations over the schedule,
and the total against the device's memories."""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.errors import HwsimError
from hwsim.cost.work import Workload
from hwsim.hardware.profile import DeviceProfile
from hwsim.units import format_bytes


class ModelDoesNotFitError(HwsimError):
    """The model's stored weights exceed every memory of the device."""


@dataclass(frozen=True)
class Footprint:
    weight_bytes: int  # stored size (encoded formats at their real size)
    peak_activation_bytes: int  # liveness over the topological schedule
    total_bytes: int
    capacity_bytes: int  # the largest memory level (where the model must live)
    fits: bool
    fits_on_chip: bool  # weights + peak activations fit the on-chip levels together


def footprint(workload: Workload, device: DeviceProfile) -> Footprint:
    total = workload.weight_bytes + workload.peak_activation_bytes
    capacity = int(max(lv.total_bytes for lv in device.memory))
    on_chip = int(sum(lv.total_bytes for lv in device.on_chip_levels))
    return Footprint(workload.weight_bytes, workload.peak_activation_bytes, total, capacity,
                     fits=total <= capacity, fits_on_chip=total <= on_chip)


def check_fits(workload: Workload, device: DeviceProfile) -> Footprint:
    fp = footprint(workload, device)
    if workload.weight_bytes > fp.capacity_bytes:
        raise ModelDoesNotFitError(
            f"the stored weights of {workload.model!r} ({format_bytes(workload.weight_bytes)}) do not fit any memory "
            f"of {device.name} (largest: {max(device.memory, key=lambda lv: lv.total_bytes).name} "
            f"{format_bytes(fp.capacity_bytes)})", source=device.source or device.name)
    return fp
