"""Decode-step tokens/s of decoder LLMs against published measurements on edge boards (the `llm-*`
tables of hwsim/analysis/data/validation_records.yaml, all `validate`: nothing was fitted to them):
every record within 1.5x (the task's tolerance, fixed before comparing), on the Pi 5 and the Orin Nano."""

from __future__ import annotations

import pytest

from hwsim.analysis.validation import load_records, run_validation

RECORDS = load_records()
LLM = [r for r in RECORDS.records if r.table.startswith("llm-")]
TOLERANCE = 1.5


def test_llm_records_are_validation_records_on_pi5_and_orin_nano():
    assert len(LLM) >= 3
    assert all(RECORDS.role_of(r) == "validate" and r.context for r in LLM)
    assert {RECORDS.boards[r.board].profile for r in LLM} >= {"pi5", "orin-nano"}


@pytest.mark.parametrize("rec", LLM, ids=lambda r: r.id)
def test_decode_rate_within_tolerance(rec):
    only = RECORDS.model_copy(update={"records": [rec]})
    (out,) = run_validation(only, roles=("validate",))
    assert 1 / TOLERANCE <= out.ratio <= TOLERANCE, (
        f"{rec.id}: predicted {1000 / out.predicted_ms:.2f} tokens/s, published {1000 / rec.ms:.2f} "
        f"(time ratio {out.ratio:.2f})")
