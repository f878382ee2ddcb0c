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
from typing import TYPE_CHECKING, Any

from hwsim.errors import ModelFormatError

if TYPE_CHECKING:
    import numpy as np

# numpy is imported inside the functions that touch values: reading a model and counting it (``hwsim stats``,
# ``hwsim simulate``) never does, and numpy's import is a large share of such a call's start-up.

Shape = tuple[int, ...]


def generate(name: str, shape: Shape, init: str, seed: int) -> np.ndarray:
    """Deterministic initializer: Kaiming-normal (fan-in, ReLU gain) for conv/linear weights."""
    import numpy as np

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


class LazyArray:
    """An array known by shape and dtype whose values are computed on first use (an ONNX initializer read
    from the file, transposed, scaled). Counting and costing never need the values, so ``hwsim stats`` of
    an ONNX file never copies its weights; a functional run materializes each one once. Supports the few
    operations readers apply to weights (transpose, reshape, cast, broadcasting * and +)."""

    __array_priority__ = 100  # numpy defers to our __mul__ / __add__ / __radd__

    def __init__(self, shape: Shape, dtype: Any, make: Any) -> None:
        import numpy as np

        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self._make = make
        self._value: np.ndarray | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def value(self) -> np.ndarray:
        import numpy as np

        if self._value is None:
            v = np.asarray(self._make())
            if v.shape != self.shape:
                raise ModelFormatError(f"lazily read weight has shape {list(v.shape)}, declared {list(self.shape)}")
            self._value = v
            self._make = None
        return self._value

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        v = self.value()
        return v if dtype is None else v.astype(dtype, copy=False)

    @property
    def T(self) -> "LazyArray":  # noqa: N802 - numpy's name
        import numpy as np

        return LazyArray(self.shape[::-1], self.dtype, lambda: np.ascontiguousarray(self.value().T))

    def reshape(self, *shape: Any) -> "LazyArray":
        dims = list(shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)
        if -1 in dims:
            known = math.prod(d for d in dims if d != -1)
            dims[dims.index(-1)] = self.size // max(known, 1)
        return LazyArray(tuple(dims), self.dtype, lambda: self.value().reshape(dims))

    def astype(self, dtype: Any, copy: bool = True) -> "LazyArray":
        import numpy as np

        if np.dtype(dtype) == self.dtype:
            return self
        return LazyArray(self.shape, dtype, lambda: self.value().astype(dtype))

    def _binary(self, other: Any, fn: Any) -> "LazyArray":
        import numpy as np

        other_shape = np.shape(other)
        shape = np.broadcast_shapes(self.shape, other_shape)
        dtype = np.result_type(self.dtype, other.dtype if hasattr(other, "dtype") else np.asarray(other).dtype)
        return LazyArray(shape, self.dtype if np.isscalar(other) else dtype,
                         lambda: fn(self.value(), np.asarray(other)).astype(self.dtype, copy=False))

    def __mul__(self, other: Any) -> "LazyArray":
        import numpy as np

        return self._binary(other, np.multiply)

    __rmul__ = __mul__

    def __add__(self, other: Any) -> "LazyArray":
        import numpy as np

        return self._binary(other, np.add)

    __radd__ = __add__

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled (to worker processes) as its values: the reader it would call stays behind."""
        import numpy as np

        return (np.asarray, (self.value(),))

    def __repr__(self) -> str:
        return f"LazyArray(shape={list(self.shape)}, dtype={self.dtype}, {'read' if self._value is not None else 'unread'})"


def materialized(value: Any) -> Any:
    """``value`` itself, or the array of a LazyArray."""
    return value.value() if isinstance(value, LazyArray) else value


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
            import numpy as np

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
        import numpy as np

        if name in self._arrays:
            value = self._arrays[name]
            if isinstance(value, LazyArray):
                value = self._arrays[name] = value.value()
            return value
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
        """A store with ``arrays`` replacing or adding to this one's. It hangs off the root store (the
        loaded model's) with every array derived since then copied by reference, not off this store: a
        chain of stores would keep each replaced array alive as long as the last graph lives (a
        multi-pass method held every intermediate weight set of a model in memory)."""
        return WeightStore(seed=self.seed, arrays={**self._derived_arrays(), **arrays}, parent=self.root)

    def _derived_arrays(self) -> dict[str, Any]:
        """The arrays set on this store and its ancestors below the root (the nearest setting wins)."""
        if self._parent is None:
            return {}
        return {**self._parent._derived_arrays(), **self._arrays}

    def provided_names(self) -> set[str]:
        names = set(self._arrays)
        npz = self._npz_file()
        if npz is not None:
            names |= set(npz.files)
        if self._parent:
            names |= self._parent.provided_names()
        return names


class WithheldWeights(WeightStore):
    """The weights of an intermediate graph whose values were not kept (``apply_method`` keeps only the
    final graph's by default): the graph's tensor specs (sizes, encodings, densities) stay readable; asking
    for a value is a programming error, never a silently generated stand-in."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed=seed)

    def _withheld(self) -> RuntimeError:
        return RuntimeError("this intermediate graph's weight values were not kept; pass "
                            "keep_intermediate=True to apply_method to keep them")

    def get(self, name: str, shape: Shape, init: str) -> Any:
        raise self._withheld()

    def provided(self, name: str) -> bool:
        raise self._withheld()

    def provided_names(self) -> set[str]:
        raise self._withheld()

    def with_arrays(self, arrays: Mapping[str, Any]) -> "WeightStore":
        raise self._withheld()

