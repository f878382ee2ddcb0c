"""Imports only point down DESIGN.md's table, and heavy third-party libraries stay in their package
(after Stream's test_no_gurobipy_leakage): read every module's imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "hwsim"
LEAVES = {"errors", "registry", "units", "fileio", "__init__"}
BELOW_ANALYSIS = {"ir", "frontends", "formats", "compress", "kernels", "hardware", "cost", "sim"}
ALLOWED: dict[str, set[str]] = {
    "ir": set(),
    "frontends": {"ir"},
    "formats": {"ir"},
    "compress": {"ir", "formats"},
    "kernels": {"ir", "formats"},
    "hardware": {"ir"},
    "cost": {"ir", "formats", "hardware"},
    "sim": {"cost", "hardware", "ir", "formats"},
    "analysis": BELOW_ANALYSIS,
    "report": BELOW_ANALYSIS | {"analysis"},
}
TOP = {"pipeline", "cli", "commands", "__main__"}  # may import everything
THIRD_PARTY_HOME: dict[str, set[str]] = {
    "simpy": {"sim"},
    "onnx": {"frontends"},
    "onnxruntime": {"analysis"},
    "jinja2": {"report"},
    "matplotlib": {"report"},
    "tensorly": {"compress"},
    "sklearn": {"compress", "analysis"},
    "dask": {"analysis"},
    "distributed": {"analysis"},
    "torch": {"frontends"},  # only hwsim/frontends/weights_file.py, inside a function (test below)
}


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py"))


def _package_of(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down(path: Path):
    pkg = _package_of(path)
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "hwsim" and len(parts) > 1:
            target = parts[1]
            if target in LEAVES or target == pkg or pkg in TOP or pkg in LEAVES and target in LEAVES:
                continue
            assert pkg in ALLOWED, f"{path}: package {pkg!r} is not in the import table"
            assert target in ALLOWED[pkg], f"{path}: {pkg} may not import hwsim.{target} (upward or sideways)"
        elif parts[0] in THIRD_PARTY_HOME:
            home = THIRD_PARTY_HOME[parts[0]]
            assert pkg in home or pkg in TOP and parts[0] != "torch", \
                f"{path}: {parts[0]} may only be imported in {sorted(home) or 'tests/tools'}, not in {pkg}"


def test_torch_only_lazily_in_the_weights_reader():
    """torch is optional: one module may import it, inside the function that reads a state_dict."""
    for path in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        top_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "torch" for n in names):
                assert path.relative_to(PKG).as_posix() == "frontends/weights_file.py", path
                assert id(node) not in top_level, f"{path}: torch imported at module level"


def test_orchestrators_import_their_stages_directly():
    """The pipelines name every stage in an import statement (no string importer hiding the structure from
    readers, type checkers and the test above)."""
    for path in sorted((PKG / "pipeline").glob("*.py")):
        names = _imports(path)
        assert "importlib" not in names, f"{path}: stages are imported directly, not by name"
        calls = [n.func.id for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name)]
        assert "__import__" not in calls and "getattr" not in calls, f"{path}: a stage reached by name"
    assert any(n.startswith("hwsim.compress") for n in _imports(PKG / "pipeline" / "methods.py"))
