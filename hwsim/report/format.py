"""How figures read in the report: one formatter per unit kind, and a raw sort key beside each cell.

Unknown figures read "unavailable" (the tool could not obtain them) or "n/a" (they do not apply, such
as FPGA resources on a CPU); never 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

_SCALES = {
    "s": ((1.0, "s"), (1e3, "ms"), (1e6, "µs"), (1e9, "ns")),
    "J": ((1.0, "J"), (1e3, "mJ"), (1e6, "µJ"), (1e9, "nJ"), (1e12, "pJ")),
}


def scale_for(values: Sequence[float], unit: str) -> tuple[float, str]:
    """A common scale (factor, unit) so the largest value reads between 1 and 1000."""
    vals = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not vals or unit not in _SCALES:
        return 1.0, unit
    top = max(vals)
    for factor, name in _SCALES[unit]:
        if top * factor >= 1:
            return factor, name
    return _SCALES[unit][-1]


def fmt_seconds(v: float) -> str:
    f, u = scale_for([v], "s")
    return f"{v * f:.3g} {u}"


def fmt_joules(v: float) -> str:
    f, u = scale_for([v], "J")
    return f"{v * f:.3g} {u}"


def fmt_bytes(v: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.0f} B"


def fmt_count(v: float) -> str:
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {prefix}"
    return f"{v:.0f}"


def fmt_value(value: Any, unit: str, missing: str = "unavailable") -> str:
    """Text of one cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if unit == "bool":
        return "yes" if value else "NO"
    if unit == "text":
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "∞ (exact)" if unit == "dB" and value > 0 else ("∞" if value > 0 else "-∞")
    if unit == "bytes":
        return fmt_bytes(value)
    if unit == "s":
        return fmt_seconds(value)
    if unit == "J":
        return fmt_joules(value)
    if unit == "count":
        return fmt_count(value)
    if unit == "resource":
        return f"{int(value):,}"
    if unit == "inf/s":
        return f"{value:,.4g}/s" if value < 1e4 else f"{fmt_count(value)}/s"
    if unit == "dB":
        return f"{value:.1f} dB"
    if unit == "ratio":
        return f"{100 * value:.1f}%"
    if unit == "pts":
        return f"{value:+.2f} pt"
    return f"{value:.4g}"


def sort_key(value: Any) -> str:
    """The ``data-sort`` attribute: numbers as numbers, unknown last, text as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        if math.isinf(value):
            return "1e308" if value > 0 else "-1e308"
        return repr(float(value))
    return str(value)


def fmt_ratio_to_baseline(ratio: float | None, better: str | None) -> str:
    """'3.2× less' / '1.5× more' relative to the baseline, or '' when unknown or equal."""
    if ratio is None or ratio <= 0 or not math.isfinite(ratio) or abs(ratio - 1) < 0.005:
        return ""
    if ratio < 1:
        return f"{1 / ratio:.3g}× less"
    return f"{ratio:.3g}× more"
