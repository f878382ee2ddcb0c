"""How much of a device profile is sourced: the share of its numeric lines marked ASSUMED (issue 10:
under 20 % per profile). A numeric line is a ``key: value`` line of the YAML whose value starts with a
number (a quantity such as ``1.5 GHz`` or a plain count); it counts as ASSUMED when its comment says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_NUMERIC = re.compile(r"^\s*(?:-\s*)?[A-Za-z0-9_.]+\s*:\s*\[?\s*[-+]?[0-9.]")


@dataclass(frozen=True)
class Provenance:
    profile: str
    numeric_lines: int
    assumed_lines: int
    assumed_keys: tuple[str, ...]

    @property
    def assumed_share(self) -> float:
        return self.assumed_lines / self.numeric_lines if self.numeric_lines else 0.0


def profile_provenance(path: Path) -> Provenance:
    numeric = 0
    assumed: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        body, _, comment = line.partition("#")
        if not _NUMERIC.match(body):
            continue
        numeric += 1
        if "ASSUMED" in comment:
            assumed.append(body.split(":", 1)[0].strip().lstrip("- "))
    return Provenance(path.stem, numeric, len(assumed), tuple(assumed))
