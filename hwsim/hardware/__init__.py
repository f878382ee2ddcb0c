"""Device profiles: the YAML schema (one model per kind), loading with unit parsing, the device
catalogue (``$HWSIM_DEVICES_DIR``, the user's profiles, ``hwsim/hardware/devices/*.yaml``), ``--set`` overrides, and the default energy tables."""

from hwsim.hardware.loader import (
    ENV_DIR, apply_overrides, device_path, devices_dirs, list_devices, load_device, packaged_devices_dir, parse_set_option,
    read_raw, user_devices_dir,
)
from hwsim.hardware.profile import (
    DEVICE_KINDS, CpuSpec, DeviceKind, DeviceProfile, EnergyTable, FpgaSpec, GpuSpec, MemoryLevel, SparseTraits,
    SystolicSpec,
)

__all__ = [
    "ENV_DIR", "apply_overrides", "device_path", "devices_dirs", "list_devices", "load_device", "parse_set_option",
    "read_raw", "packaged_devices_dir", "user_devices_dir", "DEVICE_KINDS", "CpuSpec", "DeviceKind", "DeviceProfile", "EnergyTable", "FpgaSpec", "GpuSpec",
    "MemoryLevel", "SparseTraits", "SystolicSpec",
]
