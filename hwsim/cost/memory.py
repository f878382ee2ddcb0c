"""Memory footprint: weights in their real stored format (at rest) and as held in memory while running
(Huffman stages decoded at load unless the device decodes them on the fly; Winograd layers hold their
transformed filters U instead of the 3x3 ones), peak live activations over the schedule, the largest
per-layer workspace (Winograd / FFT / im2col buffers), and the total against the device's memories."""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.cost.common import conv_buffers
from hwsim.cost.work import Workload
from hwsim.errors import HwsimError
from hwsim.hardware.profile import DeviceProfile
from hwsim.units import format_bytes


class ModelDoesNotFitError(HwsimError):
    """The model's stored weights exceed every memory of the device."""


@dataclass(frozen=True)
class Footprint:
    weight_bytes: int  # size at rest (encoded formats at their real size, Huffman stages coded)
    peak_activation_bytes: int  # liveness over the topological schedule
    total_bytes: int  # in memory while running: run-time weights + peak activations
    capacity_bytes: int  # the largest memory level (where the model must live)
    fits: bool
    fits_on_chip: bool  # weights + peak activations fit the on-chip levels together
    runtime_weight_bytes: int = -1  # in memory while running (Huffman decoded at load unless on the fly)
    workspace_bytes: int = 0  # the largest layer workspace (transform-domain / im2col buffers), live during it

    def __post_init__(self) -> None:
        if self.runtime_weight_bytes < 0:
            object.__setattr__(self, "runtime_weight_bytes", self.weight_bytes)


def buffer_bytes(workload: Workload) -> tuple[int, int]:
    """(extra run-time weight bytes of kept transformed filters, largest layer workspace)."""
    extra, workspace = 0, 0
    for w in workload.ops:
        b = conv_buffers(w)
        if b is None:
            continue
        if b.filter_kept and w.weight is not None:
            extra += b.filter_bytes - w.weight.runtime_bytes
        workspace = max(workspace, b.workspace_bytes)
    return extra, workspace


def footprint(workload: Workload, device: DeviceProfile) -> Footprint:
    live = workload.weight_bytes if device.sparse.huffman_on_the_fly else workload.runtime_weight_bytes
    extra, workspace = buffer_bytes(workload)
    live += extra
    total = live + workload.peak_activation_bytes + workspace
    capacity = int(max(lv.total_bytes for lv in device.memory))
    on_chip = int(sum(lv.total_bytes for lv in device.on_chip_levels))
    return Footprint(workload.weight_bytes, workload.peak_activation_bytes, total, capacity,
                     fits=total <= capacity, fits_on_chip=total <= on_chip, runtime_weight_bytes=live,
                     workspace_bytes=workspace)


def check_fits(workload: Workload, device: DeviceProfile) -> Footprint:
    fp = footprint(workload, device)
    if fp.runtime_weight_bytes > fp.capacity_bytes:
        raise ModelDoesNotFitError(
            f"the weights of {workload.model!r} ({format_bytes(fp.runtime_weight_bytes)} in memory) do not fit any memory "
            f"of {device.name} (largest: {max(device.memory, key=lambda lv: lv.total_bytes).name} "
            f"{format_bytes(fp.capacity_bytes)})", source=device.source or device.name)
    return fp
