from __future__ import annotations

import pytest

from hwsim.errors import ModelFormatError
from hwsim.ir.dtypes import BINARY, TERNARY, dtype
from hwsim.units import UnitError, parse_quantity


def test_dtype_parsing_and_ranges():
    assert dtype("int4").bits == 4 and dtype("int4").min_value == -8 and dtype("int4").max_value == 7
    assert dtype("uint3").max_value == 7
    assert dtype("fixed16.8").max_value == pytest.approx(127.99609375)
    assert BINARY.bits == 1 and TERNARY.bits == 2
    with pytest.raises(ModelFormatError, match="unknown dtype"):
        dtype("int")


@pytest.mark.parametrize("text, dim, value", [
    ("25.6 GB/s", "bytes_per_s", 25.6e9), ("1.43 GHz", "hz", 1.43e9), ("0.9 pJ", "pj", 0.9),
    ("512 KiB", "bytes", 524288), ("4 Mbit", "bytes", 5e5), ("2 W", "w", 2.0), ("10 ns", "s", 1e-8),
    ("4 TOPS", "ops_per_s", 4e12), ("12 B", "bytes", 12.0), (0, "hz", 0.0), ("0", "bytes", 0.0),
])
def test_units(text, dim, value):
    assert parse_quantity(text, dim) == pytest.approx(value)


@pytest.mark.parametrize("text, dim", [("4 Mb", "bytes"), ("3 GHz", "bytes"), ("fast", "hz"), ("1 GB", "bytes_per_s")])
def test_bad_units(text, dim):
    with pytest.raises(UnitError):
        parse_quantity(text, dim)


@pytest.mark.parametrize("value, dim, shown", [
    ("1.4", "hz", "1.4 GHz"), (1.4, "hz", "1.4 GHz"), (12, "bytes", "12 MiB"), ("25.6", "bytes_per_s", "25.6 GB/s"),
    ("5", "s", "5 us"), ("0.9", "pj", "0.9 pJ"),
])
def test_bare_number_needs_its_unit(value, dim, shown):
    """A number without a unit is never silently the base unit; the message shows the expected unit."""
    with pytest.raises(UnitError, match=f"needs a unit, e.g. {shown}"):
        parse_quantity(value, dim)


@pytest.mark.parametrize("text", ["1e400 GHz", "1e300 GHz", "-1e400 B", float("inf"), float("nan")])
def test_infinite_quantities_are_refused(text):
    with pytest.raises(UnitError):
        parse_quantity(text, "hz" if "GHz" in str(text) or isinstance(text, float) else "bytes")
