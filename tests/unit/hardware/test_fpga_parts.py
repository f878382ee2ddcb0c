"""FPGA part families (issue 10): a profile cannot claim a clock its part cannot reach, and the compute
energy of a design comes from its clocked resources (XPE-style), not from ASIC per-MAC figures."""

from __future__ import annotations

import pytest
from testutils import WORKLOADS

from hwsim.compress.method import apply_method
from hwsim.errors import HwsimError
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.hardware.fpga_parts import FAMILIES, fabric_pj_per_cycle
from hwsim.sim import simulate


def test_a_clock_above_the_parts_dsp_fmax_is_refused_naming_the_key() -> None:
    fam = FAMILIES["zynq_ultrascale_plus"]
    ok = fam.max_clock_hz(2, dsp_double_pumped=True)
    assert load_device("zcu104", {"clock": f"{ok / 1e6:g} MHz"}).clock_hz == pytest.approx(ok)
    with pytest.raises(HwsimError, match=r"clock: .* above .* speed grade -2"):
        load_device("zcu104", {"clock": f"{ok / 1e6 + 1:g} MHz"})
    # a slower speed grade lowers the ceiling; a design without the DPU's double-pumped DSPs doubles it
    assert load_device("zcu104", {"clock": "330 MHz"}).clock_hz == 330e6
    with pytest.raises(HwsimError, match="speed grade -1"):
        load_device("zcu104", {"fpga.speed_grade": "1", "clock": "330 MHz"})
    assert load_device("pynq-z2", {"clock": "400 MHz"}).clock_hz == 400e6
    with pytest.raises(HwsimError, match="zynq7000"):
        load_device("pynq-z2", {"clock": "500 MHz"})


def test_every_shipped_fpga_profile_names_its_family_and_each_profile_its_power_scope() -> None:
    from hwsim.hardware import list_devices

    for name in list_devices():
        d = load_device(name)
        assert d.power_scope in ("chip", "board"), name
        if d.fpga is not None:
            assert d.fpga.family in FAMILIES, name


def _resnet50_int8():  # type: ignore[no-untyped-def]
    return apply_method(load_model(WORKLOADS / "resnet50.json"), "int8").graph


def test_fpga_compute_energy_is_the_clocked_fabric_over_the_busy_cycles() -> None:
    dev = load_device("zcu104")
    r = simulate(_resnet50_int8(), dev, check_fit=False)
    fam = FAMILIES["zynq_ultrascale_plus"]
    per_cycle = fabric_pj_per_cycle(fam, r.resources, dsp_clock_ratio=2.0)
    busy = sum(max(o.compute_cycles, o.memory_cycles) + o.overhead_cycles for o in r.ops if o.compute_cycles)
    host = int(round(1500e-6 * dev.clock_hz))  # inference_overhead_us: the fabric idles while the host works
    assert r.energy_pj["compute"] == pytest.approx(per_cycle * (busy - host), rel=1e-6)
    # without a family the old per-MAC figures stay, far below the fabric's switching energy
    no_family = load_device("zcu104", {"fpga.family": None})  # type: ignore[dict-item]
    per_mac = simulate(_resnet50_int8(), no_family, check_fit=False)
    assert per_mac.energy_pj["compute"] < r.energy_pj["compute"] / 10


def test_energy_says_whether_it_is_the_chips_or_the_boards() -> None:
    g = _resnet50_int8()
    chip = simulate(g, load_device("fpga-large"), check_fit=False)  # chip scope, no board idle known
    assert chip.extra["energy_scope"] == "chip" and "board_energy_j" not in chip.extra
    with_board = simulate(g, load_device("zcu104", {"board_idle_power": "5 W"}), check_fit=False)
    dynamic = sum(v for k, v in with_board.energy_pj.items() if k != "static") / 1e12
    assert with_board.energy_pj["static"] > 0  # the chip's static power is inside the board idle, not added to it
    assert with_board.extra["board_energy_j"] == pytest.approx(dynamic + 5 * with_board.seconds)
    shipped = simulate(g, load_device("zcu104"), check_fit=False)  # its own board idle (QuTiBench, fit)
    assert shipped.extra["board_energy_parts"]["board_idle"] == pytest.approx(15.72 * shipped.seconds)
    board = simulate(g, load_device("pi4"), check_fit=False)
    assert board.extra["energy_scope"] == "board"
    assert board.extra["board_energy_j"] == pytest.approx(sum(board.energy_pj.values()) / 1e12)
    with pytest.raises(HwsimError, match="power_scope: chip"):
        load_device("pi4", {"board_idle_power": "1 W"})


def test_simulate_says_which_energy_it_prints() -> None:
    from click.testing import CliRunner

    from hwsim.cli import cli

    chip = CliRunner().invoke(cli, ["simulate", str(WORKLOADS / "lenet5.json"), "--device", "zcu104"])
    assert chip.exit_code == 0, chip.output
    assert "energy (chip)" in chip.output
    board = CliRunner().invoke(cli, ["simulate", str(WORKLOADS / "lenet5.json"), "--device", "pi4"])
    assert board.exit_code == 0, board.output
    assert "energy (board, at the wall)" in board.output
