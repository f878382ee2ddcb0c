"""File input and atomic output shared by every reader and writer (model files, methods files,
device profiles, ONNX, reports).

Write to a temporary file in the target directory, then rename: readers never see half a file and
a failure leaves nothing behind. An unwritable destination is bad input (exit 2), not a crash.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hwsim.errors import HwsimError, UsageError


def atomic_write(path: str | Path, data: str | bytes, error: type[HwsimError] = UsageError) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically; ``error`` is raised if the
    destination cannot be written (naming the path)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise error(f"cannot write output: {e.strerror or e}", source=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        _discard(tmp)
        raise error(f"cannot write output: {e.strerror or e}", source=str(path)) from None
    except BaseException:
        _discard(tmp)
        raise


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
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"cannot read {what}: {e}", source=str(path)) from None
