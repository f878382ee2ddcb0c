"""Shared fixtures: paths and a small hand-written model."""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path

import pytest

# The device cache (hwsim.hardware.device_cache) of the test sessions: never the user's ~/.cache. One folder
# per user under the system temp, reused by every session (entries are keyed by content and written
# atomically, so concurrent sessions share it safely), so a killed session leaves nothing new behind.
def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return str(os.getuid()) if hasattr(os, "getuid") else "user"


_DEVICE_CACHE = str(Path(tempfile.gettempdir()) / f"hwsim-test-cache-{_user()}")
os.environ.setdefault("HWSIM_CACHE_DIR", _DEVICE_CACHE)

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
