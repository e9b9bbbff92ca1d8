"""Typed wiring: each capability's settings and ports, found by their type, checked at start.

A capability needs things only the runtime can build (its settings from the config
file, the change pipeline's hooks, counters the edge keeps). They travel in `Services`
as *kits*, looked up by type. A missing kit is a wiring slip, not a user error: the
registry checks every command's declared needs when the runtime is built, so the slip
fails at start with its name instead of silently running with defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")


class MissingWiring(Exception):
    """The runtime was built without something a command needs (a programming error)."""


class Kits:
    """Per-capability objects of one runtime, one per type."""

    def __init__(self, parts: Iterable[object] = ()) -> None:
        self._by_type: dict[type, object] = {}
        for part in parts:
            self.add(part)

    def add(self, part: object) -> None:
        kind = type(part)
        if kind in self._by_type:
            raise MissingWiring(f"{kind.__name__} is wired twice")
        self._by_type[kind] = part

    def get(self, kind: type[T]) -> T:
        found = self._by_type.get(kind)
        if found is None:
            raise MissingWiring(f"{kind.__name__} is not wired into this runtime")
        return cast(T, found)

    def has(self, kind: type) -> bool:
        return kind in self._by_type

    def __iter__(self) -> Iterator[object]:
        return iter(self._by_type.values())

    def __repr__(self) -> str:
        return f"Kits({', '.join(sorted(k.__name__ for k in self._by_type))})"
