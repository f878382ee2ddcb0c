"""Device profiles: the YAML schema (one model per kind), loading with unit parsing, the device
catalogue (``devices/*.yaml``), ``--set`` overrides, and the default energy tables."""

from hwsim.hardware.loader import (
    ENV_DIR, apply_overrides, device_path, devices_dirs, list_devices, load_device, parse_set_option, read_raw,
)
from hwsim.hardware.profile import (
    DEVICE_KINDS, CpuSpec, DeviceKind, DeviceProfile, EnergyTable, FpgaSpec, GpuSpec, MemoryLevel, SparseTraits,
    SystolicSpec,
)

__all__ = [
    "ENV_DIR", "apply_overrides", "device_path", "devices_dirs", "list_devices", "load_device", "parse_set_option",
    "read_raw", "DEVICE_KINDS", "CpuSpec", "DeviceKind", "DeviceProfile", "EnergyTable", "FpgaSpec", "GpuSpec",
    "MemoryLevel", "SparseTraits", "SystolicSpec",
]
