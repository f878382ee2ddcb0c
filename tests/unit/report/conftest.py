"""Fixtures of the report tests (the synthetic comparison lives in ``synthetic.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import FakeResult, make_result  # noqa: E402


@pytest.fixture
def fake_result() -> FakeResult:
    return make_result()
