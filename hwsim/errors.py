"""Errors for bad *input*: each names the file, the place inside it and what was expected.

The CLI prints ``str(error)`` and exits 2. Internal bugs are ordinary exceptions and are never
wrapped in these classes, so they keep their tracebacks.
"""

from __future__ import annotations

from typing import Any


class HwsimError(Exception):
    """Bad input. ``source`` is a file path (or a label such as ``--set``), ``where`` a key path or node."""

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None) -> None:
        self.message = message
        self.source = source
        self.where = where
        super().__init__(self.__str__())

    def __str__(self) -> str:
        prefix = ""
        if self.source:
            prefix = f"{self.source}"
            if self.where:
                prefix += f": {self.where}"
            prefix += ": "
        elif self.where:
            prefix = f"{self.where}: "
        return f"{prefix}{self.message}"

    def located(self, source: str | None = None, where: str | None = None) -> "HwsimError":
        """Same error with the file/place filled in where it was missing (raisers deep inside know less)."""
        return type(self)(self.message, source=self.source or source, where=self.where or where)


class ModelFormatError(HwsimError):
    """A model file is malformed, incomplete or inconsistent."""


class ShapeError(HwsimError):
    """Tensor shapes do not fit an op."""


class UnknownNameError(HwsimError):
    """A registry key, device, method, pass, op or layer that does not exist."""


class DeviceProfileError(HwsimError):
    """A device profile is malformed or physically impossible."""


class CompressionError(HwsimError):
    """A compression pass got parameters it cannot honour."""


class VerificationError(HwsimError):
    """A functional run cannot proceed (missing weights, wrong input shape, non-finite data)."""


class DataError(HwsimError):
    """A labelled data set is unreadable or does not fit the model (shape, labels, class count)."""


class UsageError(HwsimError):
    """A command-line argument is invalid."""


def quoted_value_hint(error: Any) -> str:
    """For one pydantic error dict: a hint when a string stood where a number or boolean belongs (the
    input schemas are strict, so YAML ``bits: '8'`` is refused rather than coerced), else ''."""
    value = error.get("input") if isinstance(error, dict) else None
    if isinstance(value, str) and str(error.get("type", "")).split("_")[0] in ("int", "float", "bool"):
        return f" (got the string {value!r}: numbers and booleans are written unquoted)"
    return ""
