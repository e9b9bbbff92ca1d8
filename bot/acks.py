"""Acknowledgements first, work after: a gate that holds work while acks are pending.

Slack needs every request acknowledged within 3 s. Under a burst (fifty people clicking
after an incident), the work after the first acks competes with the acks still to come
for the same interpreter. The HTTP front end counts the requests whose ack is not out
yet; work queued after an ack waits until that count is zero, or at most `max_wait_s`,
so the acks go first and the work is never starved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class AckGate:
    def __init__(self, max_wait_s: float = 0.1) -> None:
        self.max_wait_s = max_wait_s
        self._pending = 0
        self._quiet = threading.Condition()

    @property
    def pending(self) -> int:
        return self._pending

    @contextmanager
    def awaiting_ack(self) -> Iterator[None]:
        """Wraps the handling of one request, up to the moment its ack is sent."""
        with self._quiet:
            self._pending += 1
        try:
            yield
        finally:
            with self._quiet:
                self._pending -= 1
                if self._pending <= 0:
                    self._quiet.notify_all()

    def wait_for_acks(self) -> bool:
        """Block until no ack is pending (True) or `max_wait_s` passed (False)."""
        with self._quiet:
            return self._quiet.wait_for(lambda: self._pending <= 0, timeout=self.max_wait_s)

    def after_acks(self, work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            self.wait_for_acks()
            work()

        return run
