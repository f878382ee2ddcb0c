"""Notes of a (method, device) row grouped by kind, with counts, the ones that change a figure first.

A simulated run notes every fused op ("batchnorm folded into conv1's weights", "relu applied in
conv1's epilogue"): on a CPU or GPU that is one note per layer, which would bury the few that matter
("int8 weights dequantized to fp32", "fp16 runs at the fp32 rate"). Notes that differ only in the
layer they name are one kind; routine kinds (fusions, views, tile sizes) go last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Kinds of note that describe routine lowering, not a caveat about a figure (matched on the text).
ROUTINE = (
    re.compile(r"folded into .* at load time"),
    re.compile(r"applied in .*epilogue"),
    re.compile(r"^view: a reinterpretation"),
    re.compile(r"^CTA tile \d+$"),
)
LAYER = "…"


@dataclass(frozen=True)
class NoteGroup:
    text: str  # the note with the layer name replaced by "…" when it names one
    count: int
    layers: tuple[str, ...]  # the layers it names, in order of appearance
    routine: bool

    @property
    def label(self) -> str:
        return f"{self.text} (×{self.count})" if self.count > 1 else self.text


#: A figure inside a note (ratios, counts, "x1.052"): notes that differ only in figures are one kind.
NUMBER = re.compile(r"(?<![A-Za-wyz_.\d])\d+(?:\.\d+)?(?:e[-+]?\d+)?")  # not in names (int8), after "x" ok


def _layer_pattern(layers: Iterable[str]) -> re.Pattern[str] | None:
    # a plain word ("relu", "fc") is also an op's name in the prose of notes: only names with a digit,
    # dot, dash or underscore are abstracted; longest first (layer1.0.conv1 before conv1)
    names = sorted({n for n in layers if n and not re.fullmatch(r"[A-Za-z]+", n)}, key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])")


def group_notes(notes: Sequence[str], layers: Iterable[str] = ()) -> list[NoteGroup]:
    """``notes`` grouped by kind (text with the layer names of ``layers`` abstracted), important kinds
    first, each group in order of first appearance."""
    pattern = _layer_pattern(layers)
    first: dict[str, str] = {}  # kind -> the first note of that kind (layers abstracted)
    named: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    varies: set[str] = set()
    for note in notes:
        names: list[str] = []
        text = note
        if pattern is not None:
            text = pattern.sub(lambda m: (names.append(m.group(1)), LAYER)[1], note)
        kind = NUMBER.sub("#", text)
        if kind in first and first[kind] != text:
            varies.add(kind)
        first.setdefault(kind, text)
        counts[kind] = counts.get(kind, 0) + 1
        named.setdefault(kind, [])
        named[kind] += [n for n in names if n not in named[kind]]
    out = [NoteGroup(first[k] + (" (figures vary by layer)" if k in varies else ""), counts[k], tuple(named[k]),
                     any(r.search(first[k]) for r in ROUTINE)) for k in first]
    return sorted(out, key=lambda g: g.routine)  # stable: order of appearance within each class
