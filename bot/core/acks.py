"""Acknowledgements first, work after: a gate that holds work while acks are pending.

Slack needs every request acknowledged within 3 s. Under a burst (fifty people clicking
after an incident), the work after the first acks competes with the acks still to come
for the same interpreter. The HTTP front end counts the requests whose ack is not out
yet; work queued after an ack waits until that count is zero and no request arrived
for `quiet_s`, or at most `max_wait_s`, so the acks go first and the work is never
starved.

The same holds for what decides whether the work may run at all: whether this request
was seen before (bot.slack.replays) asks the store, and a store round trip before each
ack cost a burst of fifty twice the bare app's p99 (the thread waits for the GIL again
after every reply). `check_before_work` registers such a check for the request being
handled; the work that request queues with `after_acks` — in the same thread or in one
running a copy of its context (the listener pool) — runs only if every check passes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Check = Callable[[], bool]
# (the request these checks belong to, the checks): a thread handles many requests in turn
_CHECKS: ContextVar[tuple[object, tuple[Check, ...]]] = ContextVar(
    "meshbot_checks_before_work", default=(None, ())
)


def begin_request(request: object) -> None:
    """From here on, this context belongs to `request` (no check of an earlier one)."""
    if _CHECKS.get()[0] is not request:
        _CHECKS.set((request, ()))


def check_before_work(request: object, check: Check) -> None:
    """The work `request` queues runs only if `check()` is true (asked after the acks)."""
    begin_request(request)
    owner, checks = _CHECKS.get()
    _CHECKS.set((owner, (*checks, check)))


def checks_before_work() -> tuple[Check, ...]:
    return _CHECKS.get()[1]


class AckGate:
    def __init__(self, max_wait_s: float = 0.25, quiet_s: float = 0.02) -> None:
        self.max_wait_s = max_wait_s
        self.quiet_s = quiet_s
        self._pending = 0
        self._last_arrival = 0.0
        self._quiet = threading.Condition()

    @property
    def pending(self) -> int:
        return self._pending

    @contextmanager
    def awaiting_ack(self) -> Iterator[None]:
        """Wraps the handling of one request, up to the moment its ack is sent."""
        with self._quiet:
            self._pending += 1
            self._last_arrival = time.monotonic()
        try:
            yield
        finally:
            with self._quiet:
                self._pending -= 1
                if self._pending <= 0:
                    self._quiet.notify_all()

    def wait_for_acks(self, deadline: float | None = None) -> bool:
        """Block until no ack is pending and no request came in for `quiet_s` (True), or
        until `deadline` (default: `max_wait_s` from now) passed (False). A burst reaches
        us over a few milliseconds, as the server reads the sockets, so "none pending
        right now" alone is not enough."""
        deadline = time.monotonic() + self.max_wait_s if deadline is None else deadline
        with self._quiet:
            while True:
                now = time.monotonic()
                calm_at = self._last_arrival + self.quiet_s
                if self._pending <= 0 and now >= calm_at:
                    return True
                if now >= deadline:
                    return False
                wait = deadline - now if self._pending > 0 else calm_at - now
                self._quiet.wait(min(wait, deadline - now))

    def after_acks(
        self, work: Callable[[], None], checks: tuple[Check, ...] = ()
    ) -> Callable[[], None]:
        """`work`, held at most `max_wait_s` from now — from when it was queued, not from
        when a worker picks it up: under steady load (requests closer than `quiet_s`)
        each worker would otherwise sleep the full bound per item, the queue would grow
        without end and answers come minutes late. `checks` (see `check_before_work`)
        are asked then, and `work` is dropped if one is false."""
        deadline = time.monotonic() + self.max_wait_s

        def run() -> None:
            self.wait_for_acks(deadline)
            if all(check() for check in checks):
                work()

        return run
