"""A small generic registry used for spaces, proxies, targets and searchers."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import EdgeNASError, UnknownNameError

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Name -> object map. Registering a name twice is an error (not a silent overwrite).

    Args:
        kind: what the registry holds, used in error messages ("space", "proxy", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name``; raises if the name is taken."""
        if name in self._items:
            raise EdgeNASError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(obj: T) -> T:
            return self.add(name, obj)

        return deco

    def remove(self, name: str) -> None:
        """Unregister ``name`` (used by tests that register fakes)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """Look ``name`` up; unknown names raise :class:`UnknownNameError` with suggestions."""
        try:
            return self._items[name]
        except (KeyError, TypeError):  # TypeError: an unhashable "name" (a list) from a Python caller
            raise UnknownNameError(self.kind, name, self._items) from None

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching an fnmatch ``pattern``, sorted."""
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._items
        except TypeError:  # an unhashable name is in no registry
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
