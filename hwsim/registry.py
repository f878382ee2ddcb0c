"""Strict name -> object registries (NNCF style): duplicates and unknown keys raise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, Hashable, TypeVar

from hwsim.errors import UnknownNameError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Registry(Generic[K, V]):
    """A named mapping that refuses duplicates and names the known keys when a lookup misses."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[K, V] = {}

    def register(self, key: K, value: V) -> V:
        if key in self._items:
            raise ValueError(f"duplicate {self.what} registration: {key!r}")
        self._items[key] = value
        return value

    def decorator(self, key: K) -> Callable[[V], V]:
        def wrap(value: V) -> V:
            return self.register(key, value)

        return wrap

    def get(self, key: K) -> V:
        try:
            return self._items[key]
        except KeyError:
            known = ", ".join(sorted(str(k) for k in self._items))
            raise UnknownNameError(f"unknown {self.what} {key!r}; known: {known}") from None

    def __getitem__(self, key: K) -> V:
        return self.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[K]:
        return list(self._items)

    def items(self) -> list[tuple[K, V]]:
        return list(self._items.items())


class LazyRegistry(Registry[K, V]):
    """A registry whose built-in entries live in modules imported on first use: looking up a key imports
    only the module that registers it (``hwsim simulate`` on a systolic array never imports the FPGA cost
    models); listing, iterating or testing membership imports all of them, so a listing is always complete.
    A module that does not exist (a kind not written yet) is skipped; any other import error surfaces."""

    def __init__(self, what: str, modules: dict[K, str]) -> None:
        super().__init__(what)
        self._modules = dict(modules)
        self._all_loaded = False

    def _load(self, module: str) -> None:
        import importlib

        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise

    def load_all(self) -> None:
        if not self._all_loaded:
            self._all_loaded = True
            for module in dict.fromkeys(self._modules.values()):
                self._load(module)

    def get(self, key: K) -> V:
        if key not in self._items:
            if key in self._modules:
                self._load(self._modules[key])
            if key not in self._items:
                self.load_all()  # an unknown key: the error lists every known one
        return super().get(key)

    def __contains__(self, key: object) -> bool:
        self.load_all()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[K]:
        self.load_all()
        return super().__iter__()

    def __len__(self) -> int:
        self.load_all()
        return super().__len__()

    def keys(self) -> list[K]:
        self.load_all()
        return super().keys()

    def items(self) -> list[tuple[K, V]]:
        self.load_all()
        return super().items()
