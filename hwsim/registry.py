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
