"""Lazily materialized weights: given arrays (npz, ONNX initializers, pass outputs) or seeded inits.

Cost-only runs never touch arrays, so VGG-16 costs nothing to load. A generated tensor depends only
on (seed, tensor name, shape, init), never on the order in which tensors are asked for, so
functional runs are reproducible. Values may be plain arrays or encoded payloads from
``hwsim.formats`` (anything with a ``decode()`` method).
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.errors import ModelFormatError

Shape = tuple[int, ...]


def generate(name: str, shape: Shape, init: str, seed: int) -> np.ndarray:
    """Deterministic initializer: Kaiming-normal (fan-in, ReLU gain) for conv/linear weights."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if init == "zeros":
        return np.zeros(shape, np.float32)
    if init == "ones":
        return np.ones(shape, np.float32)
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    if init == "kaiming_normal":
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(2.0 / max(fan_in, 1))))
    if init == "uniform_fan_in":
        bound = 1.0 / math.sqrt(max(fan_in, 1))
        return rng.uniform(-bound, bound, shape).astype(np.float32)
    if init == "normal_small":
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02))
    raise ValueError(f"unknown initializer {init!r}")


class WeightStore:
    """Weight values by tensor name. Immutable from the outside: ``with_arrays`` returns a new store
    that shares everything it did not replace (passes never copy untouched weights)."""

    def __init__(self, seed: int = 0, arrays: Mapping[str, Any] | None = None,
                 npz_path: str | Path | None = None, parent: "WeightStore | None" = None) -> None:
        self.seed = seed
        self._arrays: dict[str, Any] = dict(arrays or {})
        self._npz_path = Path(npz_path) if npz_path else None
        self._npz: Any = None
        self._parent = parent
        self._generated: dict[str, np.ndarray] = {} if parent is None else parent._generated

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (worker processes get graphs) whether or not the npz file was opened: the open file
        is dropped and re-opened lazily on the other side."""
        state = dict(self.__dict__)
        state["_npz"] = None
        return state

    @property
    def root(self) -> "WeightStore":
        """The store the model was loaded with (``with_arrays`` derives children from it)."""
        return self._parent.root if self._parent is not None else self

    @property
    def npz_path(self) -> Path | None:
        return self._npz_path if self._npz_path else (self._parent.npz_path if self._parent else None)

    def _npz_file(self) -> Any:
        if self._npz is None and self._npz_path is not None:
            try:
                self._npz = np.load(self._npz_path, allow_pickle=False)
                if not hasattr(self._npz, "files"):  # a bare .npy array, not an archive of named weights
                    raise ValueError("not an .npz archive of named arrays")
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
                raise ModelFormatError(f"cannot read weights file: {e}", source=str(self._npz_path)) from None
        return self._npz

    def provided(self, name: str) -> bool:
        """True if a real value (not a seeded init) exists for ``name``."""
        if name in self._arrays:
            return True
        npz = self._npz_file()
        if npz is not None and name in npz.files:
            return True
        return self._parent.provided(name) if self._parent else False

    def get(self, name: str, shape: Shape, init: str) -> Any:
        if name in self._arrays:
            return self._arrays[name]
        npz = self._npz_file()
        if npz is not None and name in npz.files:
            try:
                arr = np.asarray(npz[name])
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
                raise ModelFormatError(f"weight {name!r} cannot be read: {e}", source=str(self._npz_path)) from None
            if arr.dtype.kind not in "fiub":
                raise ModelFormatError(f"weight {name!r} has dtype {arr.dtype}, not numbers", source=str(self._npz_path))
            if tuple(arr.shape) != tuple(shape):
                raise ModelFormatError(f"weight {name!r} has shape {list(arr.shape)}, the graph needs {list(shape)}",
                                       source=str(self._npz_path))
            self._arrays[name] = arr
            return arr
        if self._parent is not None:
            return self._parent.get(name, shape, init)
        if name not in self._generated:
            self._generated[name] = generate(name, shape, init, self.seed)
        return self._generated[name]

    def with_arrays(self, arrays: Mapping[str, Any]) -> "WeightStore":
        return WeightStore(seed=self.seed, arrays=arrays, parent=self)

    def provided_names(self) -> set[str]:
        names = set(self._arrays)
        npz = self._npz_file()
        if npz is not None:
            names |= set(npz.files)
        if self._parent:
            names |= self._parent.provided_names()
        return names
