"""LazyRegistry: a lookup imports only the module that registers the key; listing and membership import
every module, so a listing is complete; an unknown key names every known one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hwsim.errors import UnknownNameError
from hwsim.registry import LazyRegistry

from testutils import ROOT

_PROBE = """
import sys
from hwsim.cost.registry import COST_MODELS, cost_model
from hwsim.sim.engines import ENGINES, get_engine
cost_model("systolic"); get_engine("analytic")
looked_up = {m for m in ("hwsim.cost.cpu", "hwsim.cost.gpu", "hwsim.cost.fpga", "hwsim.cost.systolic",
                         "hwsim.sim.analytic", "hwsim.sim.event") if m in sys.modules}
listed = (sorted(COST_MODELS.keys()), sorted(ENGINES.keys()))
print(sorted(looked_up), listed)
"""


def test_lookup_imports_one_module_and_listing_imports_all() -> None:
    r = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("['hwsim.cost.systolic', 'hwsim.sim.analytic'] "
                                "(['cpu', 'fpga', 'gpu', 'systolic'], ['analytic', 'event'])")


def test_unknown_key_lists_every_known_one_and_a_missing_module_is_skipped() -> None:
    reg: LazyRegistry[str, int] = LazyRegistry("thing", {"a": "hwsim.no_such_module", "b": "hwsim.units"})
    with pytest.raises(UnknownNameError, match="unknown thing 'c'; known: $"):
        reg.get("c")
    reg.register("b", 2)
    assert reg.get("b") == 2 and list(reg) == ["b"] and "a" not in reg

