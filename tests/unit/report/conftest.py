"""Fixtures of the report tests (the synthetic comparison lives in ``synthetic.py``)."""

from __future__ import annotations

import pytest

from report_synthetic import FakeResult, make_result


@pytest.fixture
def fake_result() -> FakeResult:
    return make_result()
