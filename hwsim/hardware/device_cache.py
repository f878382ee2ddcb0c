"""A cache of validated device profiles, so a CLI call on a known device file imports neither YAML nor
pydantic (together about a third of a ``hwsim simulate`` call's start-up).

An entry is keyed by the SHA-256 of the device file's bytes and of what else decides the profile (the
schema and the loader's checks, the unit parser, the FPGA part tables, the shared software models and
the code that merges them in, pydantic's version file, the Python version), so any change to the file or to those misses and
revalidates. It holds the YAML
document and the schema's validated values (``model_dump()``), marshalled (exact for the plain values
these are: dicts, lists, tuples, text, numbers); the loader rebuilds the profile from them with the same
``build`` a fresh validation uses (a test holds the two equal for every shipped profile). Only files that
validated are stored, so every error still comes from the schema; ``--set`` overrides bypass the cache.

Where: ``$HWSIM_CACHE_DIR`` (``off`` disables the cache), else ``$XDG_CACHE_HOME/hwsim``, else
``~/.cache/hwsim``; entries go in its ``devices/`` folder. A cache that cannot be read or written is
ignored (it only saves time).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

CACHE_ENV = "HWSIM_CACHE_DIR"
_RULES = ("hwsim.hardware.schema", "hwsim.hardware.loader", "hwsim.units", "hwsim.hardware.fpga_parts",
          "hwsim.hardware.software_model")
#: package data read into every profile that names a software model
_DATA = (Path(__file__).with_name("software_models.yaml"),)
_fingerprint: bytes | None = None


def cache_dir() -> Path | None:
    """The cache's ``devices/`` folder, or None when ``$HWSIM_CACHE_DIR`` is ``off``."""
    env = os.environ.get(CACHE_ENV, "")
    if env == "off":
        return None
    if env:
        base = Path(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or ""
        base = (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "hwsim"
    return base / "devices"


def _source(module: str) -> bytes:
    import importlib.util

    spec = importlib.util.find_spec(module)
    origin = spec.origin if spec is not None else None
    if origin is None:
        return b""
    path = Path(origin)
    if path.name == "__init__.py":  # a package (pydantic): its version file says which release validates
        path = path.with_name("version.py")
    try:
        return path.read_bytes()
    except OSError:
        return b""


def fingerprint() -> bytes:
    """Digest of what decides a profile besides its file: the rule sources, the shared software models,
    pydantic's version file, the Python version."""
    global _fingerprint
    if _fingerprint is None:
        h = hashlib.sha256(sys.version.encode())
        for module in (*_RULES, "pydantic"):
            h.update(module.encode() + b"\0" + _source(module) + b"\0")
        for path in _DATA:
            try:
                h.update(path.read_bytes() + b"\0")
            except OSError:
                h.update(b"missing\0")
        _fingerprint = h.digest()
    return _fingerprint


def _entry(text: str) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = hashlib.sha256(fingerprint() + text.encode("utf-8", "surrogatepass")).hexdigest()
    return folder / f"{key}.marshal"


def lookup(text: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(YAML document, validated values) stored for a device file with this text, or None."""
    path = _entry(text)
    if path is None:
        return None
    try:
        raw, values = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(raw, dict) or not isinstance(values, dict):
        return None
    return raw, values


def store(text: str, raw: dict[str, Any], values: dict[str, Any]) -> None:
    """Remember a validated device file (silently nothing when the cache is off or not writable, or a
    value is not plain data)."""
    path = _entry(text)
    if path is None:
        return
    try:
        data = marshal.dumps((raw, values))
    except ValueError:  # e.g. a YAML date: not worth caching
        return
    from hwsim.errors import HwsimError
    from hwsim.fileio import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, HwsimError)
    except (OSError, HwsimError):
        return


class Validated(dict):
    """The schema's validated values read as the model's attributes (``values.memory["dram"].latency``):
    what ``loader.build`` reads, without pydantic. A mapping-typed field (``energy.mac``) stays a dict to
    ``dict()``; its values come back as views only through attribute access and ``items()``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return _view(self[name])
        except KeyError:
            raise AttributeError(name) from None

    def items(self) -> Any:  # type: ignore[override]
        return [(k, _view(v)) for k, v in dict.items(self)]


def _view(value: Any) -> Any:
    return Validated(value) if type(value) is dict else value
