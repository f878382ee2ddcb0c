"""Device profile schema, loading, units, cross-field rules, catalogue and --set overrides."""

from __future__ import annotations

import copy
import math

import pytest
import yaml

from hwsim.errors import DeviceProfileError, UnknownNameError
from hwsim.hardware import apply_overrides, list_devices, load_device, parse_set_option, read_raw
from hwsim.hardware import energy_tables as et
from hwsim.hardware.loader import device_path

SHIPPED = ("cpu-a53", "cpu-a72", "gpu-jetson-nano", "gpu-orin-nano", "fpga-small", "fpga-large", "systolic-32x32")


def raw(name: str = "cpu-a53") -> dict:
    return copy.deepcopy(read_raw(device_path(name)))


def test_catalogue_has_the_shipped_devices() -> None:
    assert set(SHIPPED) <= set(list_devices())


def test_units_are_parsed_into_base_units() -> None:
    d = load_device("gpu-jetson-nano")
    assert d.clock_hz == pytest.approx(921.6e6)
    assert d.level("dram").bandwidth_bytes_per_s == pytest.approx(25.6e9)
    assert d.level("l2").size_bytes == 256 * 1024
    assert d.level("smem").latency_s == pytest.approx(28 / 921.6e6)  # "28 cycles" at the clock
    assert d.level("dram").latency_s == pytest.approx(400e-9)
    assert d.gpu is not None and d.gpu.launch_overhead_s == pytest.approx(8e-6)


def test_memory_levels_keep_file_order_and_end_off_chip() -> None:
    d = load_device("cpu-a72")
    assert [lv.name for lv in d.memory] == ["l1", "l2", "dram"]
    assert d.dram.name == "dram" and not d.dram.on_chip
    assert d.last_on_chip is not None and d.last_on_chip.name == "l2"
    assert d.level("l1").instances == 4 and d.level("l1").total_bytes == 4 * 32 * 1024


@pytest.mark.parametrize("key,value,fragment", [
    ("memory.dram.bandwidth", "0 GB/s", "memory.dram.bandwidth: must be > 0"),
    ("memory.dram.bandwidth", "-3 GB/s", "memory.dram.bandwidth: must be > 0"),
    ("clock", "0 Hz", "clock: must be > 0"),
    ("clock", "-1 GHz", "clock: must be > 0"),
    ("memory.l2.size", "3 Mb", "ambiguous unit 'Mb'"),
    ("memory.l1.bandwidth", "12 GB", "not a bandwidth"),
    ("clock", "fast", "cannot read"),
    ("cpu.cores", "0", "cpu.cores"),
    ("memory.l1.on_chip", "false", "listed after an off-chip level"),
    ("memory.dram.size", "64 KiB", "larger than the outermost level"),
    ("clock", "1.4", "clock: needs a unit, e.g. 1.4 GHz"),
    ("clock", 1400000000, "clock: needs a unit"),
    ("memory.dram.bandwidth", "25.6", "memory.dram.bandwidth: needs a unit, e.g. 25.6 GB/s"),
    ("memory.l2.size", "524288", "memory.l2.size: needs a unit"),
    ("memory.dram.latency", "100", "memory.dram.latency: needs a unit"),
    ("static_power", "0.5", "static_power: needs a unit, e.g. 0.5 W"),
    ("cpu.op_overhead", "5", "cpu.op_overhead: needs a unit"),
    ("energy.mac.int8", "0.3", "energy.mac.int8: needs a unit, e.g. 0.3 pJ"),
    ("clock", "1e400 GHz", "not a finite number"),
    ("memory.dram.bandwidth", "1e300 GB/s", "too large"),
])
def test_bad_values_raise_with_the_key_path(key: str, value: str, fragment: str) -> None:
    with pytest.raises(DeviceProfileError) as e:
        apply_overrides(raw(), {key: value}, name="cpu-a53", source="devices/cpu-a53.yaml")
    assert fragment in str(e.value)
    assert "devices/cpu-a53.yaml" in str(e.value)


def test_unitless_keys_stay_bare_and_zero_needs_no_unit() -> None:
    d = apply_overrides(raw(), {"cpu.cores": "2", "static_power": "0", "cpu.simd_width_bits": "128"})
    assert d.cpu is not None and d.cpu.cores == 2 and d.static_power_w == 0.0


def test_missing_dram_level_is_rejected() -> None:
    doc = raw()
    del doc["memory"]["dram"]
    with pytest.raises(DeviceProfileError, match="last memory level must be off chip"):
        apply_overrides(doc, {}, source="x.yaml")
    doc["memory"] = {}
    with pytest.raises(DeviceProfileError, match="at least one level"):
        apply_overrides(doc, {}, source="x.yaml")


def test_missing_and_unknown_keys_name_the_valid_ones() -> None:
    doc = raw()
    del doc["clock"]
    with pytest.raises(DeviceProfileError, match=r"clock: required key missing"):
        apply_overrides(doc, {}, source="x.yaml")
    doc = raw()
    doc["memory"]["l1"]["speed"] = 3
    with pytest.raises(DeviceProfileError) as e:
        apply_overrides(doc, {}, source="x.yaml")
    assert "memory.l1.speed: unknown key" in str(e.value) and "bandwidth" in str(e.value)
    doc = raw()
    doc["cpu"]["macs_per_cycle_per_core"]["fp8"] = 3
    with pytest.raises(DeviceProfileError, match="unknown dtype fp8"):
        apply_overrides(doc, {}, source="x.yaml")


def test_unknown_kind_and_non_mapping_files(tmp_path) -> None:
    doc = raw()
    doc["kind"] = "tpu"
    with pytest.raises(DeviceProfileError, match="unknown kind 'tpu'"):
        apply_overrides(doc, {}, source="x.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("- just\n- a list\n")
    with pytest.raises(DeviceProfileError, match="must be a mapping"):
        load_device(str(p))
    p.write_text("kind: [unclosed\n")
    with pytest.raises(DeviceProfileError, match="not valid YAML"):
        load_device(str(p))


def test_overrides_use_dotted_paths() -> None:
    d = load_device("systolic-32x32", {"array.dataflow": "ws", "memory.dram.bandwidth": "12.8 GB/s",
                                       "clock": "2GHz", "array.rows": "16"})
    assert d.systolic is not None and d.systolic.dataflow == "ws" and d.systolic.rows == 16
    assert d.dram.bandwidth_bytes_per_s == pytest.approx(12.8e9)
    assert d.clock_hz == 2e9
    assert dict(d.overrides)["clock"] == "2GHz"
    # the raw document is kept, so overrides stack
    d2 = apply_overrides(d.raw, {"array.cols": "8"}, name=d.name)
    assert d2.systolic is not None and (d2.systolic.rows, d2.systolic.cols) == (16, 8)
    # an energy key absent from the file but known to the schema can be set
    d3 = load_device("cpu-a53", {"energy.mac.fp32": "1.5 pJ"})
    assert d3.energy.mac_pj["fp32"] == 1.5


@pytest.mark.parametrize("key,fragment", [
    ("memory.l3.bandwidth", "valid keys there: dram, l1, l2"),
    ("cpu.frequency", "valid keys there:"),
    ("bogus", "valid keys there:"),
    ("array.dataflow", "valid keys there:"),  # a cpu has no array section
])
def test_unknown_override_keys_list_the_valid_ones(key: str, fragment: str) -> None:
    with pytest.raises(DeviceProfileError) as e:
        load_device("cpu-a53", {key: "1"})
    assert fragment in str(e.value) and key in str(e.value)


def test_bad_override_value_is_validated_like_the_file() -> None:
    with pytest.raises(DeviceProfileError, match="dataflow"):
        load_device("systolic-32x32", {"array.dataflow": "diagonal"})


def test_parse_set_option() -> None:
    assert parse_set_option(["a.b=1", "c = 2 GB/s"]) == {"a.b": "1", "c": "2 GB/s"}
    with pytest.raises(DeviceProfileError, match="KEY=VALUE"):
        parse_set_option(["novalue"])


def test_unknown_device_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as e:
        load_device("cpu-z80")
    assert "cpu-a53" in str(e.value) and "systolic-32x32" in str(e.value)


def test_devices_dir_from_environment(tmp_path, monkeypatch) -> None:
    doc = raw()
    doc["clock"] = "1 GHz"
    (tmp_path / "my-cpu.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setenv("HWSIM_DEVICES_DIR", str(tmp_path))
    assert "my-cpu" in list_devices() and "cpu-a53" in list_devices()
    assert load_device("my-cpu").clock_hz == 1e9


def test_energy_defaults_follow_horowitz_scaled_by_node() -> None:
    d = load_device("cpu-a53")  # 28 nm
    s = 28 / 45
    assert d.energy.process_scale == pytest.approx(s)
    assert d.energy.mac_pj["fp32"] == pytest.approx((3.7 + 0.9) * s)
    assert d.energy.mac_pj["int8"] == pytest.approx((0.2 + 0.1) * s)
    assert d.energy.op_pj["add"] == pytest.approx(0.9 * s)
    # DRAM energy is not scaled with the logic node: it is the memory type's (cpu-a53: LPDDR4)
    assert d.dram.energy_pj_per_byte == pytest.approx(et.DRAM_TYPES["LPDDR4"].pj_per_byte)
    assert et.default_level_pj_per_byte(1e9, False, 28) == pytest.approx(1300 / 8)  # no type: DDR3-class
    # SRAM energy grows with array size, and hits Horowitz's points at 45 nm
    assert et.sram_pj_per_byte_45nm(8 * 1024) == pytest.approx(10 / 8)
    assert et.sram_pj_per_byte_45nm(32 * 1024) == pytest.approx(20 / 8)
    assert et.sram_pj_per_byte_45nm(1024 * 1024) == pytest.approx(100 / 8)
    assert et.sram_pj_per_byte_45nm(256 * 1024) < et.sram_pj_per_byte_45nm(512 * 1024)
    unscaled = load_device("cpu-a53", {"energy.scale_with_node": "false"})
    assert unscaled.energy.mac_pj["fp32"] == pytest.approx(4.6)


def test_profiles_are_frozen() -> None:
    d = load_device("cpu-a53")
    with pytest.raises(Exception):
        d.clock_hz = 1.0  # type: ignore[misc]
    assert math.isfinite(d.static_power_w)
