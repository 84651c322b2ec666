"""A registry of named parts: the shipped ones fixed, others added at run time.

Scenes (``therapies.scenes``) and display backends (``engine.display``) are each one
:class:`Registry`; every list of their names the engine shows (CLI choices, messages,
docs) is read from it. It lives in the bottom layer so that every package can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> parts (see module docstring).

    Parameters
    ----------
    what
        What the parts are, for messages (``"scene"``, ``"display backend"``).
    shipped
        The built-in parts, in the order lists show them; they cannot be removed.
    """

    def __init__(self, what: str, shipped: Mapping[str, T]) -> None:
        self.what = what
        self._items: dict[str, T] = dict(shipped)
        self._shipped = frozenset(self._items)
        self.view: Mapping[str, T] = MappingProxyType(self._items)
        """Read-only view of every registered part."""

    def names(self) -> tuple[str, ...]:
        """The registered names, shipped ones first, in registration order."""
        return tuple(self._items)

    def get(self, name: str) -> T:
        """The part called ``name``; ValueError naming the registered ones if unknown."""
        try:
            return self._items[name]
        except KeyError:
            raise ValueError(
                f"{self.what} {name!r} is not one of {', '.join(self._items)}"
            ) from None

    def register(self, name: str, item: T) -> None:
        """Add ``item`` as ``name`` (a plug-in, or a test's toy); ValueError if taken."""
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} is registered already")
        self._items[name] = item

    def unregister(self, name: str) -> None:
        """Remove a part added with :meth:`register` (shipped parts stay: ValueError)."""
        if name in self._shipped:
            raise ValueError(f"{self.what} {name!r} is shipped with vrtherapy")
        self._items.pop(name, None)
