"""Off-chip energy per byte follows the DRAM type a profile names (issue 10: one DDR3-class figure for
every memory type was 1.5-2.5x high for LPDDR4/5)."""

from __future__ import annotations

import pytest

from hwsim.errors import HwsimError
from hwsim.hardware import load_device
from hwsim.hardware.energy_tables import DRAM_TYPES


def test_a_type_sets_the_off_chip_energy_and_an_explicit_figure_wins() -> None:
    assert load_device("pi4", {"memory.dram.type": "DDR3"}).dram.energy_pj_per_byte == pytest.approx(162.5)
    assert load_device("pi4").dram.energy_pj_per_byte == pytest.approx(DRAM_TYPES["LPDDR4"].pj_per_byte)
    assert load_device("pi4", {"memory.dram.energy_per_byte": "50 pJ"}).dram.energy_pj_per_byte == 50


def test_every_type_says_whether_its_figure_was_read_or_derived() -> None:
    for name, t in DRAM_TYPES.items():
        assert t.source and (t.assumed == t.source.startswith("ASSUMED")), name
    assert not DRAM_TYPES["DDR3"].assumed and not DRAM_TYPES["LPDDR4"].assumed


@pytest.mark.parametrize("over,msg", [({"memory.l1.type": "LPDDR4"}, "on_chip"),
                                      ({"memory.dram.type": "GDDR9"}, "type")])
def test_bad_types_are_rejected_with_the_key(over: dict[str, str], msg: str) -> None:
    with pytest.raises(HwsimError, match=msg):
        load_device("pi4", over)
