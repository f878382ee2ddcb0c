"""Jinja2 rendering of the package templates, and atomic writes of whatever a report produces.

Templates are package files (``hwsim/report/templates/*.html.j2``) loaded with a PackageLoader, so a
pip-installed hwsim renders the same page as a checkout. Autoescaping is on; only the SVG plots the
report made itself are marked safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from hwsim.fileio import atomic_write as write_atomically
from hwsim.errors import UsageError
from hwsim.report.format import fmt_bytes, fmt_count, fmt_joules, fmt_ratio_to_baseline, fmt_seconds, fmt_value, sort_key


def _env() -> Environment:
    env = Environment(loader=PackageLoader("hwsim.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(fmt=fmt_value, sortkey=sort_key, bytes=fmt_bytes, seconds=fmt_seconds, joules=fmt_joules,
                       count=fmt_count, vsbase=fmt_ratio_to_baseline, svg=lambda s: Markup(s) if s else "")
    return env


_ENV: Environment | None = None


def render(template: str, context: Mapping[str, Any]) -> str:
    global _ENV
    if _ENV is None:
        _ENV = _env()
    return _ENV.get_template(template).render(**context)


def check_writable(path: str | Path, what: str = "output") -> Path:
    """Fail early (before minutes of work) when ``path`` cannot be written; creates no file."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise UsageError(f"{what} path is a directory, expected a file", source=str(path))
    parent = path.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what}: directory {str(probe)!r} is not writable", source=str(path))
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"cannot write {what}: file is not writable", source=str(path))
    return path


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write through a temporary file and rename (see hwsim.fileio): no half-written report."""
    write_atomically(path, data, UsageError)


