"""Every device file loads; every op kind has a cost rule (or an explicit "unsupported") on every
device kind; every registered cost model and engine honours its contract on a small graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from devicegraphs import small_net

from hwsim.cost.registry import COST_MODELS, cost_model
from hwsim.cost.types import ENERGY_COMPONENTS, OpCost
from hwsim.cost.work import prepare
from hwsim.hardware import DEVICE_KINDS, devices_dirs, list_devices, load_device
from hwsim.ir import all_ops
from hwsim.sim import simulate

ROOT = Path(__file__).resolve().parents[2]
DEVICE_FILES = sorted((ROOT / "hwsim" / "hardware" / "devices").glob("*.yaml"))


def _models() -> list[str]:
    cost_model("cpu")  # import the built-in models
    return sorted(COST_MODELS.keys())


@pytest.mark.parametrize("path", DEVICE_FILES, ids=lambda p: p.stem)
def test_every_device_file_loads(path: Path) -> None:
    d = load_device(str(path))
    assert d.kind in DEVICE_KINDS and d.clock_hz > 0 and d.memory[-1].on_chip is False
    assert all(lv.bandwidth_bytes_per_s > 0 and lv.size_bytes > 0 for lv in d.memory)
    assert load_device(path.stem).name == path.stem  # and by catalogue name


def test_catalogue_is_found_in_the_package() -> None:
    assert (ROOT / "hwsim" / "hardware" / "devices").resolve() in [p.resolve() for p in devices_dirs()]
    assert DEVICE_FILES
    assert {p.stem for p in DEVICE_FILES} <= set(list_devices())


def test_every_device_kind_has_a_cost_model() -> None:
    assert set(DEVICE_KINDS) <= set(_models())


@pytest.mark.parametrize("kind", _models())
def test_every_op_kind_has_a_cost_rule_or_is_explicitly_unsupported(kind: str) -> None:
    model = cost_model(kind)
    missing = [op.name for op in all_ops()
               if not model.supports(op.name, op.group.value) and op.name not in model.unsupported]
    assert not missing, f"{kind}: no cost rule and no explicit 'unsupported' for {missing}"


@pytest.mark.parametrize("device", [p.stem for p in DEVICE_FILES])
def test_cost_models_return_well_formed_costs(device: str) -> None:
    d = load_device(device)
    g = small_net()
    costs = cost_model(d.kind).cost_graph(prepare(g), d)
    assert [c.node for c in costs] == [n.name for n in g.nodes]
    levels = {lv.name for lv in d.memory}
    for c in costs:
        assert isinstance(c, OpCost) and c.source
        assert c.compute_cycles >= 0 and c.overhead_cycles >= 0
        assert set(c.transfer_bytes) <= levels and set(c.transfer_cycles) <= levels
        assert all(v >= 0 for v in c.transfer_bytes.values())
        assert set(c.energy_pj) <= set(ENERGY_COMPONENTS) and all(v >= 0 for v in c.energy_pj.values())
    r = simulate(g, d)
    assert r.total_cycles > 0 and r.energy_total_pj > 0 and r.device == device
