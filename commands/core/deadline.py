"""A command's overall time budget, seen by the adapters without passing it through ports.

Each request to an API server has its own timeout, but a command makes many requests
one after another: with a 5 s request timeout a preflight against a hanging server
took 12 s. The registry opens a `CommandBudget` when a command starts; an adapter asks
`remaining(limit_s)` before each request, shortens that request's timeout to what is
left, and refuses to start one when nothing is. It records what it did not do with
`cut(...)`, so the answer can say exactly what the deadline cut short.

It travels in a `ContextVar`: set by the thread that dispatches, and carried into a
worker thread only when the work is submitted through `carried(...)`. Work outside a
command (the sweeper, the watchers) has no budget: each request keeps its own timeout.
Writes are never cut, and restoring a change runs `suspended()` (its reads too): a
change that started applying must finish or be put back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class CommandBudget:
    """When the command started, and what was cut for lack of time."""

    started: float = field(default_factory=time.monotonic)
    _cut: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self, limit_s: float) -> float:
        """Seconds left of a `limit_s` budget counted from the command's start."""
        return limit_s - self.elapsed()

    def cut(self, what: str) -> None:
        with self._lock:
            if what not in self._cut:
                self._cut.append(what)

    @property
    def cuts(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._cut)


_current: ContextVar[CommandBudget | None] = ContextVar("meshbot_command_budget", default=None)


@contextmanager
def command_budget() -> Iterator[CommandBudget]:
    """Open the budget of one command (nested calls share the outer one)."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    budget = CommandBudget()
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def current() -> CommandBudget | None:
    return _current.get()


@contextmanager
def suspended() -> Iterator[None]:
    """No budget inside: for work that must not be cut once started (undoing writes)."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def carried(work: Callable[P, R]) -> Callable[P, R]:
    """`work` bound to this thread's context, for worker threads to run (each call runs
    in its own copy, so `pool.map(carried(f), items)` is safe)."""
    context = copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(work, *args, **kwargs)

    return run
