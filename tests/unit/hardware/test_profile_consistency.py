"""Numbers of one shipped profile that their sources tie together (issue 10, the sourcing pass).

A sourced value can still contradict another line of the same file: the Coral profiles once declared
three 1 MiB buffers plus an 8 MiB parameter cache on a chip whose only published on-chip figure is
8 MB of SRAM in all. These checks hold every shipped profile to the relations its comments state.
"""

from __future__ import annotations

import pytest

from hwsim.hardware import list_devices, load_device
from hwsim.hardware.loader import packaged_devices_dir

SHIPPED = sorted(p.stem for p in packaged_devices_dir().glob("*.yaml"))
ARRAYS = [n for n in SHIPPED if load_device(n).systolic is not None]
GPUS = [n for n in SHIPPED if load_device(n).gpu is not None]


def test_the_lists_cover_the_shipped_arrays_and_gpus() -> None:
    assert {"coral-usb", "coral-devboard", "systolic-32x32"} <= set(ARRAYS)
    assert {"jetson-nano", "orin-nano", "orin-nano-super", "gpu-jetson-nano", "gpu-orin-nano"} <= set(GPUS)
    assert set(ARRAYS) | set(GPUS) <= set(list_devices())


@pytest.mark.parametrize("name", ARRAYS)
def test_no_array_buffer_or_parameter_cache_exceeds_the_on_chip_sram(name: str) -> None:
    d = load_device(name)
    s, sram = d.systolic, d.last_on_chip
    assert s is not None and sram is not None
    for key, size in (("ifmap_sram", s.ifmap_sram_bytes), ("filter_sram", s.filter_sram_bytes),
                      ("ofmap_sram", s.ofmap_sram_bytes), ("param_cache", s.param_cache_bytes)):
        assert size <= sram.size_bytes, f"{name}: {key} {size:.0f} B > on-chip SRAM {sram.size_bytes:.0f} B"


@pytest.mark.parametrize("name", ARRAYS)
def test_separate_buffers_add_up_to_the_sram_level_they_form(name: str) -> None:
    """Without ``unified_sram`` the SRAM level is the three buffers (systolic-32x32: 'DERIVED: ifmap + filter
    + ofmap'); with it, the buffers are bounds inside one pool and need not add up."""
    d = load_device(name)
    s, sram = d.systolic, d.last_on_chip
    assert s is not None and sram is not None
    if str(s.model_params.get("unified_sram", False)).lower() == "true":
        pytest.skip("one unified pool")
    assert s.ifmap_sram_bytes + s.filter_sram_bytes + s.ofmap_sram_bytes == sram.size_bytes


@pytest.mark.parametrize("name", GPUS)
def test_every_gpu_has_the_register_file_the_cuda_guide_gives(name: str) -> None:
    """CUDA Programming Guide: 64 K 32-bit registers per SM on every compute capability from 5.x to 12.x."""
    g = load_device(name).gpu
    assert g is not None and g.register_file_bytes_per_sm == 64 * 1024 * 4


@pytest.mark.parametrize("name", GPUS)
def test_compare_runs_at_half_the_fp32_add_rate(name: str) -> None:
    """CUDA guide throughput table: compare/min/max 64 results per clock per SM on cc 5.3 and 8.x, where
    fp32 add runs at 128 (cc 5.3, 8.6, 8.7)."""
    g = load_device(name).gpu
    assert g is not None
    rates = g.vector_ops_per_cycle_per_sm
    assert (rates["cmp"], rates["add"]) == (64, 128)


@pytest.mark.parametrize("name", GPUS)
def test_shared_memory_bandwidth_is_32_banks_of_4_bytes_per_sm_per_clock(name: str) -> None:
    """CUDA Programming Guide: 32 shared-memory banks of 4 bytes on every compute capability; a profile that
    changes its clock (orin-nano-super: 1020 MHz) must carry the bandwidth along (it once kept 625 MHz's)."""
    d = load_device(name)
    g, smem = d.gpu, d.level("smem")
    assert g is not None
    assert smem.bandwidth_bytes_per_s == pytest.approx(g.sms * 32 * 4 * d.clock_hz, rel=2e-3)
