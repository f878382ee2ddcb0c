"""Shared fixtures: paths and a small hand-written model."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# The device cache (hwsim.hardware.device_cache) of this test session: never the user's ~/.cache.
_DEVICE_CACHE = tempfile.mkdtemp(prefix="hwsim-test-cache-")
os.environ.setdefault("HWSIM_CACHE_DIR", _DEVICE_CACHE)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_DEVICE_CACHE, ignore_errors=True)

# Tests run with --import-mode=importlib (test files may share basenames across folders). Helper
# modules that sit beside tests (e.g. kernel_helpers.py) stay importable by their plain name:
for _dir in sorted({p.parent for p in Path(__file__).parent.rglob("*.py")
                    if p.name != "conftest.py" and not p.name.startswith("test_") and p.name != "__init__.py"}):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from testutils import ANCHORS, LENET5_DOC, ROOT, WORKLOADS  # noqa: F401  (re-exported for old imports)


@pytest.fixture
def lenet5_doc() -> dict:
    import copy

    return copy.deepcopy(LENET5_DOC)


@pytest.fixture
def root() -> Path:
    return ROOT
