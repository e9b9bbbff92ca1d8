"""The handle every front end and capability edge works with: one replica's runtime.

It holds the registry and the ports (`Services`), the settings the edges share, the
telemetry, and the two thread pools: Bolt runs each listener on `listener_pool`; a
listener only acks and hands its work to `work_pool` through `after_acks`. Few work
threads leave the GIL to the acks during a burst, and the work of earlier requests can
never hold up the ack of the next one.

Building one is the app's business (bot.app.runtime.build_runtime, the only place that
knows every adapter and capability); closing one stops its background jobs and
releases what the builder registered with `on_close`, in reverse order.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.core.acks import AckGate, checks_before_work
from bot.core.settings import RuntimeSettings
from bot.core.telemetry import Telemetry
from commands.core.ports import Services, Store
from commands.core.registry import Registry

log = logging.getLogger(__name__)
T = TypeVar("T")
LISTENER_THREADS = 16
WORK_THREADS = 4


class SystemClock:
    def now(self) -> float:
        return time.time()


def _pool(threads: int, name: str) -> Callable[[], ThreadPoolExecutor]:
    return lambda: ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)


class ContextPool(ThreadPoolExecutor):
    """Runs each task in a copy of the submitter's context: a listener sees the checks its
    request registered before it (bot.core.acks.check_before_work)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def _context_pool(threads: int, name: str) -> Callable[[], ThreadPoolExecutor]:
    return lambda: ContextPool(max_workers=threads, thread_name_prefix=name)


@dataclass
class Runtime:
    settings: RuntimeSettings
    registry: Registry
    services: Services
    telemetry: Telemetry
    listener_pool: ThreadPoolExecutor = field(
        default_factory=_context_pool(LISTENER_THREADS, "meshbot-listener")
    )
    work_pool: ThreadPoolExecutor = field(default_factory=_pool(WORK_THREADS, "meshbot-work"))
    acks: AckGate = field(default_factory=AckGate)
    _stoppers: list[Callable[[], None]] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _closed: threading.Event = field(default_factory=threading.Event)

    @property
    def store(self) -> Store:
        return self.services.store

    def after_acks(self, work: Callable[[], None]) -> None:
        """Run `work` on the work pool once pending Slack acks are out, if the checks its
        request registered pass (see bot.core.acks)."""
        self.work_pool.submit(self.acks.after_acks(work, checks_before_work()))

    def on_stop(self, stopper: Callable[[], None]) -> None:
        """Stop a background job first when the runtime closes, before the pools end."""
        self._stoppers.append(stopper)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Release a resource when the runtime closes, after the pools (last in, first out)."""
        self._closers.append(closer)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        _call_all(reversed(self._stoppers))
        self.listener_pool.shutdown(wait=True, cancel_futures=True)
        self.work_pool.shutdown(wait=True, cancel_futures=True)
        _call_all(reversed(self._closers))

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _call_all(calls: Iterable[Callable[[], None]]) -> None:
    for call in calls:
        try:
            call()
        except Exception:
            log.exception("closing the runtime: %r failed", call)
