"""A result cache keyed by a hash of (model, method, profile, engine): interrupted sweeps resume.

The cache is one append-only JSON-lines file. Every finished point is appended and flushed at once,
so an interruption loses at most the line being written; a torn last line is ignored on load. Keys
hash canonical JSON (sorted keys), so the same inputs give the same key on every machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hwsim import __version__


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the text that keys and fingerprints hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def digest(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def result_key(model: str, method: Any, profile: Mapping[str, Any], engine: str) -> str:
    """The cache key of one simulated point. ``model`` is a model fingerprint (file digest), ``method``
    the method's full definition (not just its name, so an edited methods file misses the cache)."""
    return digest({"model": model, "method": method, "profile": profile, "engine": engine,
                   "hwsim": __version__})


class ResultCache:
    """key -> JSON record, persisted as JSON lines in ``path`` (created on first write)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._data: dict[str, dict[str, Any]] = {}
        self._fh = None
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                    self._data[entry["key"]] = entry["value"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line torn by an interruption: that point is simply recomputed

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._data.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._data[key] = value
        if self.path is None:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(canonical_json({"key": key, "value": value}) + "\n")
        self._fh.flush()

    def sync(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return iter(self._data.items())

    def __enter__(self) -> "ResultCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
