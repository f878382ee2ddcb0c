"""Start-up cost without timing: which libraries a CLI call imports. ``hwsim --help`` imports no
command module and no numerical library; ``hwsim stats`` on a model.json imports none of the heavy
stacks (compression, kernels, simulation, reports, sweeps), nor numpy or pydantic (a valid model.json is
read by the fast reader); ``hwsim simulate --json`` on a systolic array imports numpy, rich, simpy and
the other device kinds' cost models not at all. Wall times live in bench/bench_startup.py."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from hwsim.cli import COMMANDS, command_summary, load_command

from testutils import ROOT, WORKLOADS

HEAVY = ("numba", "llvmlite", "scipy", "sklearn", "matplotlib", "dask", "distributed", "onnx", "onnxruntime",
         "tensorly", "simpy", "pandas", "pyarrow", "networkx", "jinja2", "torch", "hwsim.compress", "hwsim.kernels",
         "hwsim.sim", "hwsim.cost", "hwsim.analysis", "hwsim.report", "hwsim.pipeline", "hwsim.formats")

_PROBE = """
import json, sys
from hwsim.cli import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _modules_after(argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    r = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv)], capture_output=True, text=True,
                       cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120)
    doc = json.loads(r.stderr.strip().splitlines()[-1])
    assert doc["code"] in (0, None), r.stderr
    return set(doc["modules"])


def _heavy(modules: set[str]) -> list[str]:
    return sorted(h for h in HEAVY if h in modules)


def test_help_imports_no_command_and_no_numerics() -> None:
    mods = _modules_after(["--help"])
    assert _heavy(mods) == []
    assert "numpy" not in mods and "pydantic" not in mods
    assert not [m for m in mods if m.startswith("hwsim.commands.")]


def test_stats_on_model_json_imports_no_heavy_stack() -> None:
    mods = _modules_after(["stats", str(WORKLOADS / "resnet18.json"), "--json"])
    assert "hwsim.commands.stats" in mods and "hwsim.ir.counting" in mods  # it really ran
    assert _heavy(mods) == []
    others = [m for m in mods if m.startswith("hwsim.commands.") and m != "hwsim.commands.stats"]
    assert not [m for m in others if not m.startswith("hwsim.commands._")]  # shared helpers only
    # counting needs no arrays, and a valid model.json needs no pydantic (its fast reader)
    assert "numpy" not in mods and "pydantic" not in mods and "hwsim.frontends.model_file" not in mods


def test_stats_on_an_invalid_model_json_still_explains_through_the_schema(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "m", "inputs": [{"name": "x", "shape": ["1"]}], "nodes": [{"name": "r", "op": "relu"}]}))
    r = subprocess.run([sys.executable, "-c", "from hwsim.cli import main; main()", "stats", str(bad)],
                       capture_output=True, text=True, cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
                       timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "inputs[0].shape[0]" in r.stderr and str(bad) in r.stderr  # the schema's key path and the file


SIMULATE_NOT_NEEDED = ("numpy", "rich", "simpy", "hwsim.cost.fpga", "hwsim.cost.fpga_dataflow", "hwsim.cost.cpu",
                       "hwsim.cost.gpu", "hwsim.sim.event", "hwsim.frontends.model_file")


def test_simulate_json_on_a_systolic_array_imports_only_its_own_cost_model() -> None:
    mods = _modules_after(["simulate", str(WORKLOADS / "resnet18.json"), "-d", "systolic-32x32", "--json"])
    assert "hwsim.cost.systolic" in mods and "hwsim.sim.analytic" in mods  # it really ran
    assert sorted(m for m in SIMULATE_NOT_NEEDED if m in mods) == []
    heavy = [h for h in _heavy(mods) if h not in ("hwsim.sim", "hwsim.cost", "simpy")]
    assert heavy == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listed_summary_is_the_commands_own(name: str) -> None:
    cmd = load_command(name)
    assert cmd is not None and cmd.name == name
    assert cmd.get_short_help_str(limit=500) == click.utils.make_default_short_help(command_summary(name), 500)


def test_simulate_on_a_cached_device_imports_no_yaml_and_no_pydantic(tmp_path) -> None:
    argv = ["simulate", str(WORKLOADS / "resnet18.json"), "-d", "systolic-32x32", "--json"]
    env = {"HWSIM_CACHE_DIR": str(tmp_path)}
    first = _modules_after(argv, env)  # validates the device file and stores it
    assert "pydantic" in first and "yaml" in first
    mods = _modules_after(argv, env)
    assert "hwsim.cost.systolic" in mods and "yaml" not in mods and "pydantic" not in mods
