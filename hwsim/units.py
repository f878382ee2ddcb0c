"""Parse quantities that users write with units ("25.6 GB/s", "1.43 GHz", "0.9 pJ", "512 KiB").

Every parser returns a plain float in the base unit named by the caller's key (bytes, bytes/s, Hz,
pJ, W, s). A number without a unit is an error that shows the expected unit ("needs a unit, e.g. 1.4
GHz"), never silently the base unit; only zero, the same in every unit, may be bare. Ambiguous
spellings are rejected instead of guessed: "Mb" (megabit or megabyte?) raises, "Mbit" and "MB" are
accepted. Decimal prefixes are powers of 1000, binary ones (KiB, MiB) of 1024. Infinite or NaN values
("1e400 GHz") are refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from hwsim.errors import HwsimError

_DEC = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BIN = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}
_SMALL = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15, "k": 1e3, "M": 1e6, "G": 1e9}


class UnitError(HwsimError):
    """A quantity's unit is missing, unknown, ambiguous or of the wrong dimension."""


@dataclass(frozen=True)
class Dimension:
    """One physical dimension: its base unit and the unit spellings accepted for it."""

    name: str
    base_unit: str


_NUMBER = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
_PATTERN = re.compile(r"^\s*" + _NUMBER + r"\s*([^\s].*?)?\s*$")


def split_quantity(text: str) -> tuple[float, str]:
    """``"1.4 GHz"`` -> ``(1.4, "GHz")``; ``"8"`` -> ``(8.0, "")``. The number must be finite."""
    m = _PATTERN.match(text)
    if not m:
        raise UnitError(f"cannot read {text!r} as a number with a unit")
    number = float(m.group(1))
    if not math.isfinite(number):
        raise UnitError(f"{text!r} is not a finite number")
    return number, (m.group(2) or "")


_split = split_quantity

#: The unit shown in "needs a unit, e.g. ..." messages, per dimension.
EXAMPLE_UNIT = {"bytes": "MiB", "bytes_per_s": "GB/s", "hz": "GHz", "pj": "pJ", "w": "W", "s": "us",
                "ops_per_s": "GOPS", "nm": "nm"}


def _needs_unit(number_text: str, dimension: str) -> UnitError:
    return UnitError(f"needs a unit, e.g. {number_text} {EXAMPLE_UNIT.get(dimension, '')}".rstrip()
                     + f" (a bare number is not taken as {_BASE_NAME.get(dimension, 'the base unit')})")


def _byte_scale(prefix: str, text: str) -> float:
    if prefix in _BIN:
        return _BIN[prefix]
    if prefix in _DEC:
        return _DEC[prefix]
    raise UnitError(f"unknown prefix {prefix!r} in {text!r}")


def _parse_bytes_unit(unit: str, text: str) -> float:
    """Scale of a size unit; 'B' means bytes, 'bit' bits; a lone lowercase 'b' is ambiguous."""
    m = re.fullmatch(r"(Ki|Mi|Gi|Ti|k|K|M|G|T|P)?(B|bytes?|bits?|b)", unit)
    if not m:
        raise UnitError(f"unknown size unit {unit!r} in {text!r} (use B, KB, KiB, MB, MiB, GB, GiB or ...bit)")
    prefix, base = m.group(1) or "", m.group(2)
    if base == "b":
        raise UnitError(f"ambiguous unit {unit!r} in {text!r}: write '{prefix}B' for bytes or '{prefix}bit' for bits")
    scale = _byte_scale(prefix, text)
    return scale / 8.0 if base.startswith("bit") else scale


def parse_quantity(value: float | int | str, dimension: str) -> float:
    """Parse ``value`` as ``dimension`` (bytes, bytes_per_s, hz, pj, w, s, ops_per_s, nm) in base units.

    A number needs its unit (``"1.4 GHz"``); a bare number raises showing the expected unit, except
    zero. The result is finite.
    """
    if dimension not in _PARSERS:
        raise ValueError(f"no unit parser for dimension {dimension!r}")
    if isinstance(value, bool):
        raise UnitError(f"expected a quantity with a unit, got a boolean {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(float(value)):
            raise UnitError(f"expected a finite quantity, got {value!r}")
        if value == 0:
            return 0.0
        raise _needs_unit(repr(value), dimension)
    if not isinstance(value, str):
        raise UnitError(f"expected a number with a unit, got {type(value).__name__}")
    number, unit = split_quantity(value)
    if unit == "":
        if number == 0:
            return 0.0
        raise _needs_unit(value.strip(), dimension)
    out = number * _PARSERS[dimension](unit, value)
    if not math.isfinite(out):
        raise UnitError(f"{value!r} is too large")
    return out


def unit_scale(unit: str, dimension: str) -> float:
    """Base units per one ``unit`` of ``dimension`` (``unit_scale("MHz", "hz") == 1e6``)."""
    return _PARSERS[dimension](unit, unit)


def dimension_of(unit: str) -> str | None:
    """The dimension whose parser reads ``unit`` (``"MHz"`` -> ``"hz"``), or None."""
    for dim, parser in _PARSERS.items():
        try:
            parser(unit, unit)
        except UnitError:
            continue
        return dim
    return None


def _bytes(unit: str, text: str) -> float:
    return _parse_bytes_unit(unit, text)


def _bytes_per_s(unit: str, text: str) -> float:
    if "/" not in unit:
        raise UnitError(f"{text!r} is not a bandwidth (write e.g. '25.6 GB/s')")
    size, per = unit.split("/", 1)
    if per.strip() != "s":
        raise UnitError(f"bandwidth {text!r} must be per second ('/s')")
    return _parse_bytes_unit(size.strip(), text)


def _hz(unit: str, text: str) -> float:
    m = re.fullmatch(r"(k|K|M|G)?Hz", unit)
    if not m:
        raise UnitError(f"unknown frequency unit {unit!r} in {text!r} (use Hz, kHz, MHz, GHz)")
    return _DEC[m.group(1) or ""]


def _energy_pj(unit: str, text: str) -> float:
    m = re.fullmatch(r"(m|u|µ|n|p|f)?J", unit)
    if not m:
        raise UnitError(f"unknown energy unit {unit!r} in {text!r} (use fJ, pJ, nJ, uJ, mJ, J)")
    return _SMALL[m.group(1) or ""] / 1e-12


def _watts(unit: str, text: str) -> float:
    m = re.fullmatch(r"(m|u|µ|k)?W", unit)
    if not m:
        raise UnitError(f"unknown power unit {unit!r} in {text!r} (use mW, W)")
    return _SMALL[m.group(1) or ""]


def _seconds(unit: str, text: str) -> float:
    m = re.fullmatch(r"(m|u|µ|n|p)?s", unit)
    if not m:
        raise UnitError(f"unknown time unit {unit!r} in {text!r} (use ns, us, ms, s)")
    return _SMALL[m.group(1) or ""]


def _ops_per_s(unit: str, text: str) -> float:
    m = re.fullmatch(r"(k|K|M|G|T|P)?(OPS|FLOPS|ops/s|MAC/s)", unit)
    if not m:
        raise UnitError(f"unknown throughput unit {unit!r} in {text!r} (use GOPS, TOPS, GFLOPS)")
    return _DEC[m.group(1) or ""]


def _nm(unit: str, text: str) -> float:
    if unit != "nm":
        raise UnitError(f"process node {text!r} must be in nm")
    return 1.0


_PARSERS = {
    "bytes": _bytes,
    "bytes_per_s": _bytes_per_s,
    "hz": _hz,
    "pj": _energy_pj,
    "w": _watts,
    "s": _seconds,
    "ops_per_s": _ops_per_s,
    "nm": _nm,
}

DIMENSIONS = tuple(_PARSERS)
_BASE_NAME = {"bytes": "bytes", "bytes_per_s": "bytes/s", "hz": "Hz", "pj": "pJ", "w": "W", "s": "seconds",
              "ops_per_s": "ops/s", "nm": "nm"}


def format_bytes(n: float) -> str:
    """Human-readable binary size, e.g. 1.5 MiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def format_si(n: float, unit: str = "") -> str:
    """Human-readable decimal quantity, e.g. 1.81 G."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {prefix}{unit}"
    return f"{n:.4g} {unit}".rstrip()
