"""A wheel install (``pip install .``, not editable) finds the shipped device profiles and methods files.

Builds the wheel from a clean copy of the sources, installs it with ``--no-deps`` into a fresh venv that
sees this interpreter's site-packages (for the dependencies: fast and offline), and runs the main job
from a directory outside the repository. The installed copy, not the checkout, must be the one imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from testutils import ROOT, WORKLOADS

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "hwsim", src / "hwsim", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HWSIM_DEVICES_DIR", "PYTHONHOME")}
    env["XDG_CONFIG_HOME"] = str(base / "config")  # no user profiles: only what the wheel ships
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                  str(base / "dist"), str(src)], base, env)
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "dist").glob("hwsim-*.whl")
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(base / "venv")
    py = base / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
    inst = _run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], base, env)
    assert inst.returncode == 0, inst.stderr
    work = base / "elsewhere"
    work.mkdir()
    return py, env, work


def test_the_installed_copy_is_imported(installed: tuple[Path, dict[str, str], Path]) -> None:
    py, env, work = installed
    r = _run([str(py), "-c", "import hwsim; print(hwsim.__file__)"], work, env)
    assert r.returncode == 0, r.stderr
    assert str(py.parents[1]) in r.stdout and str(ROOT) not in r.stdout


def test_wheel_lists_the_shipped_devices_and_no_host(installed: tuple[Path, dict[str, str], Path]) -> None:
    py, env, work = installed
    r = _run([str(py), "-m", "hwsim.cli", "devices", "--json"], work, env)
    assert r.returncode == 0, r.stderr
    shipped = {p.stem for p in (ROOT / "hwsim" / "hardware" / "devices").glob("*.yaml")}
    assert shipped and all(name in r.stdout for name in shipped)
    assert '"host"' not in r.stdout


def test_wheel_runs_the_main_job_from_outside_the_repository(installed: tuple[Path, dict[str, str], Path]) -> None:
    py, env, work = installed
    out = work / "lenet5.html"
    r = _run([str(py), "-m", "hwsim.cli", "report", str(WORKLOADS / "lenet5.json"), "--device", "fpga-small",
              "--methods", "int8,early_exit.yaml#early-exit-lenet5", "--verify", "off", "-o", str(out)], work, env)
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert "fpga-small" in html and "early-exit-lenet5" in html and "int8" in html
