"""How much of a device profile is sourced (issue 10: under 20 % ASSUMED per profile).

A numeric line is a ``key: value`` line of the YAML whose value starts with a number (a quantity such as
``1.5 GHz`` or a plain count). Its trailing comment is its source annotation, labelled by the first rule
that matches (docs/devices.md, "Provenance"):

- ``ASSUMED`` anywhere in the comment: no source gives the number (conservative: a partly assumed
  derivation counts as assumed);
- ``DERIVED``: computed exactly from sourced numbers by the rule the comment states;
- ``MEASURED``: a measurement (a published benchmark table, or a ``bench/`` run on a named host);
- ``fitted``: fitted to published figures (the records of hwsim/analysis/data/validation_records.yaml);
- any other non-empty comment: SOURCED (it names the document, table or anchor the number was read in);
- no comment: MISSING (a shipped profile may not have one; a test fails on it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_NUMERIC = re.compile(r"^\s*(?:-\s*)?[A-Za-z0-9_.]+\s*:\s*\[?\s*[-+]?[0-9.]")
LABELS = ("ASSUMED", "DERIVED", "MEASURED", "FITTED", "SOURCED", "MISSING")


def label_of(comment: str) -> str:
    """The provenance label of one numeric line's trailing comment."""
    text = comment.strip()
    if not text:
        return "MISSING"
    if "ASSUMED" in text:
        return "ASSUMED"
    if "DERIVED" in text:
        return "DERIVED"
    if "MEASURED" in text:
        return "MEASURED"
    if re.search(r"\bfitted\b", text, re.IGNORECASE):
        return "FITTED"
    return "SOURCED"


@dataclass(frozen=True)
class NumericLine:
    line: int
    key: str
    label: str


@dataclass(frozen=True)
class Provenance:
    profile: str
    lines: tuple[NumericLine, ...]

    @property
    def numeric_lines(self) -> int:
        return len(self.lines)

    def keys(self, label: str) -> tuple[str, ...]:
        return tuple(ln.key for ln in self.lines if ln.label == label)

    def count(self, label: str) -> int:
        return sum(1 for ln in self.lines if ln.label == label)

    @property
    def assumed_lines(self) -> int:
        return self.count("ASSUMED")

    @property
    def assumed_keys(self) -> tuple[str, ...]:
        return self.keys("ASSUMED")

    @property
    def assumed_share(self) -> float:
        return self.assumed_lines / self.numeric_lines if self.numeric_lines else 0.0


def profile_provenance(path: Path, name: str | None = None) -> Provenance:
    lines: list[NumericLine] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        body, _, comment = line.partition("#")
        if not _NUMERIC.match(body):
            continue
        lines.append(NumericLine(number, body.split(":", 1)[0].strip().lstrip("- "), label_of(comment)))
    return Provenance(name or path.stem, tuple(lines))
