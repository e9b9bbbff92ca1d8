"""Logs an operator wants to read: what meshbot did and what went wrong, not library chatter.

Left at INFO, the libraries wrote 3,800 lines in six minutes of an ordinary day: httpx
a line per Prometheus query, APScheduler two per watcher cycle, waitress a "Task queue
depth" warning per queued request in a burst (966 for 200 requests), Bolt a warning at
every start that the token from the environment is unused (we hand it a client), and
Bolt wrote the whole body of every request that failed verification — an attacker
could write into the logs. Here:

- httpx, httpcore and APScheduler log warnings and errors only; slack_sdk's Web API
  client logs nothing (it logged an ERROR per attempt even when its retry then
  succeeded; a call that finally fails raises, and meshbot says so once);
- Bolt's request-verification logger is silenced (the front refuses unsigned requests
  before Bolt sees them, with its own line that never carries the body), and its
  warning about the unused environment token is dropped;
- repeated lines that can come in floods (waitress's queue depth, missed scheduler runs,
  the front's refusals) pass `burst` times a minute each, then one line says how many
  were left out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

QUIET = ("httpx", "httpcore", "apscheduler")
SILENT = ("slack_sdk.web.base_client",)
FLOODS = {
    "waitress.queue": 1,
    "apscheduler.executors.default": 1,
    "apscheduler.executors.lease": 1,
    "apscheduler.scheduler": 1,
    "meshbot.front": 20,
}
BOLT_TOKEN_UNUSED = "As you gave `client` as well, `token` will be unused."


class Throttle(logging.Filter):
    """At most `burst` records per message template per `window_s`; then a count."""

    def __init__(
        self,
        burst: int,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._burst = burst
        self._window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int, int]] = {}  # start, passed, dropped

    def filter(self, record: logging.LogRecord) -> bool:
        key = str(record.msg)
        now = self._clock()
        with self._lock:
            start, passed, dropped = self._seen.get(key, (now, 0, 0))
            if now - start >= self._window_s:
                start, passed = now, 0
            if passed >= self._burst:
                self._seen[key] = (start, passed, dropped + 1)
                return False
            self._seen[key] = (start, passed + 1, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it left out)"
        return True


class _Drop(logging.Filter):
    def __init__(self, message: str | None = None) -> None:
        super().__init__()
        self._message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return self._message is not None and record.getMessage() != self._message


def quiet_libraries() -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in SILENT:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    for name, burst in FLOODS.items():
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, Throttle)]:
            logger.removeFilter(old)
        logger.addFilter(Throttle(burst))
    # Bolt resets its loggers' levels to the root's when it builds an app; filters stay.
    _only(logging.getLogger("slack_bolt.RequestVerification"), _Drop())
    _only(logging.getLogger("slack_bolt.App"), _Drop(BOLT_TOKEN_UNUSED))


def _only(logger: logging.Logger, drop: _Drop) -> None:
    for old in [f for f in logger.filters if isinstance(f, _Drop)]:
        logger.removeFilter(old)
    logger.addFilter(drop)
