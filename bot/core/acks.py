"""Acknowledgements first, work after: a gate that holds work while acks are pending.

Slack needs every request acknowledged within 3 s. Under a burst (fifty people clicking
after an incident), the work after the first acks competes with the acks still to come
for the same interpreter. The HTTP front end counts the requests whose ack is not out
yet; work queued after an ack waits until that count is zero and no request arrived
for `quiet_s`, or at most `max_wait_s`, so the acks go first and the work is never
starved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


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

    def after_acks(self, work: Callable[[], None]) -> Callable[[], None]:
        """`work`, held at most `max_wait_s` from now — from when it was queued, not from
        when a worker picks it up: under steady load (requests closer than `quiet_s`)
        each worker would otherwise sleep the full bound per item, the queue would grow
        without end and answers come minutes late."""
        deadline = time.monotonic() + self.max_wait_s

        def run() -> None:
            self.wait_for_acks(deadline)
            work()

        return run
