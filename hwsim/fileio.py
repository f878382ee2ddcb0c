"""File input and atomic output shared by every reader and writer (model files, methods files,
device profiles, ONNX, reports).

Write to a temporary file in the target directory, then rename: readers never see half a file and
a failure leaves nothing behind. Several files that belong together (a model.json and its .npz) are
written to temporary files first and renamed only when all are complete. Temporary files are named
``.<target>.<pid>.<random>.tmp``; one left by a process that was killed (kill -9 runs no cleanup) is
removed by the next write of the same target. An unwritable destination is bad input (exit 2), not a
crash.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from hwsim.errors import HwsimError, UsageError

Writer = Callable[[BinaryIO], None]


def atomic_write(path: str | Path, data: str | bytes, error: type[HwsimError] = UsageError) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically; ``error`` is raised if the
    destination cannot be written (naming the path)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    atomic_write_many([(path, lambda f: f.write(payload))], error)


def atomic_write_many(files: Sequence[tuple[str | Path, Writer]], error: type[HwsimError] = UsageError) -> None:
    """Write several files as one: each ``writer(f)`` fills a temporary file beside its target; only when
    every one succeeded are they renamed into place. On any failure no target is created or changed."""
    temps: list[tuple[str, Path]] = []
    try:
        for target, writer in files:
            path = Path(target)
            tmp = _temp_for(path, error)
            temps.append((tmp, path))
            try:
                with open(tmp, "wb") as f:
                    writer(f)
                os.chmod(tmp, 0o644)
            except OSError as e:
                raise error(f"cannot write output: {e.strerror or e}", source=str(path)) from None
        for tmp, path in temps:
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise error(f"cannot write output: {e.strerror or e}", source=str(path)) from None
    finally:
        for tmp, _ in temps:
            _discard(tmp)


def _temp_for(path: Path, error: type[HwsimError]) -> str:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        return tmp
    except OSError as e:
        raise error(f"cannot write output: {e.strerror or e}", source=str(path)) from None


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete temporary files of ``path`` left by processes that no longer run; returns what was removed."""
    path = Path(path)
    removed: list[Path] = []
    pattern = re.compile(r"^\." + re.escape(path.name) + r"\.(\d+)\.[^.]+\.tmp$")
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    for p in candidates:
        m = pattern.match(p.name)
        if m and not _alive(int(m.group(1))):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (owned by someone else) or cannot tell: keep its file
    return True


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def read_text(path: str | Path, error: type[HwsimError] = UsageError, what: str = "file") -> str:
    """Read a UTF-8 text file; a missing or unreadable file is bad input naming the path."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} does not exist", source=str(path)) from None
    except IsADirectoryError:
        raise error(f"{what} is a directory", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"cannot read {what}: {e}", source=str(path)) from None
