"""Run the watcher jobs on exactly one replica: APScheduler 3 plus a Redis lease.

Why this exists: every replica runs a `BackgroundScheduler` with in-memory job stores
(APScheduler 3's RedisJobStore would run a shared job on every process), and a lease
in Redis decides which one runs the watcher jobs:

- a small job on its own one-thread executor renews the lease every `ttl/3`, so a
  slow watcher cycle can never delay the renewal;
- the lease counts as ours only until `renew start + ttl * SAFETY`: a renewal that
  fails or hangs (Redis down) stops the jobs — and every cycle and every Slack send
  checks `LeaseKeeper.valid()` first — before the TTL ends and another replica can
  take over; Redis unreachable means nobody runs the watchers;
- the next replica to renew after the TTL takes over, so a handover takes at most one
  TTL plus one renew interval;
- watcher jobs never overlap themselves: `max_instances=1` and `coalesce=True`; a
  cycle that is still running when the next is due is skipped and counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from commands.core.errors import PortError
from commands.core.ports import Lease

log = logging.getLogger(__name__)
SAFETY = 0.8  # act only within 80 % of the TTL after the renewal started
LEASE_JOB = "meshbot-watch-lease"


class LeaseKeeper:
    """The watcher lease of this replica, and whether it is still safe to act on it."""

    def __init__(
        self,
        lease: Lease,
        name: str,
        holder: str,
        ttl_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.name = name
        self.holder = holder
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._valid_until = 0.0
        self.failed_renewals = 0  # the store did not answer (not: another replica holds it)

    def renew(self) -> bool:
        started = self._monotonic()
        try:
            held = self.lease.acquire(self.name, self.holder, self.ttl_s)
        except PortError as exc:
            log.warning("cannot renew the watcher lease: %s", exc)
            held = False
            with self._lock:
                self.failed_renewals += 1
        with self._lock:
            self._valid_until = started + self.ttl_s * SAFETY if held else 0.0
        return held

    def valid(self) -> bool:
        with self._lock:
            return self._monotonic() < self._valid_until

    def drop(self) -> None:
        with self._lock:
            self._valid_until = 0.0
        try:
            self.lease.release(self.name, self.holder)
        except PortError as exc:
            log.warning("cannot release the watcher lease: %s", exc)


class WatcherScheduler:
    """Starts the watcher jobs while this replica holds the lease, stops them otherwise."""

    def __init__(
        self,
        keeper: LeaseKeeper,
        jobs: Mapping[str, Callable[[], None]],
        cycle_s: float,
        *,
        on_skipped: Callable[[str], None] = lambda job_id: None,
        on_leadership: Callable[[bool], None] = lambda leader: None,
    ) -> None:
        self.keeper = keeper
        self.jobs = dict(jobs)
        self.cycle_s = cycle_s
        self.on_skipped = on_skipped
        self.on_leadership = on_leadership
        self.skipped = 0
        self._leading = False
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={
                "default": ThreadPoolExecutor(max(2, len(self.jobs))),
                "lease": ThreadPoolExecutor(1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        self._scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)

    @property
    def leading(self) -> bool:
        return self._leading

    def start(self) -> WatcherScheduler:
        self._scheduler.start()
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=max(0.2, self.keeper.ttl_s / 3),
            id=LEASE_JOB,
            executor="lease",
            next_run_time=_now(),
        )
        return self

    def tick(self) -> None:
        """Renew (or take) the lease, and start or stop the watcher jobs to match."""
        held = self.keeper.renew()
        with self._lock:
            if held and not self._leading:
                self._leading = True
                for job_id, job in self.jobs.items():
                    self._scheduler.add_job(
                        self._guarded(job),
                        "interval",
                        seconds=self.cycle_s,
                        id=job_id,
                        next_run_time=_now(),
                        replace_existing=True,
                    )
                log.info("this replica (%s) now runs the watchers", self.keeper.holder)
            elif not held and self._leading:
                self._stop_jobs()
                log.warning("watcher lease lost: this replica stopped its watchers")
            else:
                return
        self.on_leadership(held)

    def _guarded(self, job: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            if not self.keeper.valid():
                with self._lock:
                    if self._leading:
                        self._stop_jobs()  # renewal is stuck: stop before the TTL ends
                return
            try:
                job()
            except PortError as exc:
                log.warning("watcher cycle failed: %s", exc)
            except Exception:
                log.exception("watcher cycle crashed")

        return run

    def _stop_jobs(self) -> None:
        self._leading = False
        for job_id in self.jobs:
            if self._scheduler.get_job(job_id) is not None:
                self._scheduler.remove_job(job_id)

    def _skipped(self, event: JobEvent) -> None:
        if event.job_id == LEASE_JOB:
            return
        self.skipped += 1
        self.on_skipped(event.job_id)

    def stop(self, release: bool = True) -> None:
        if not self._scheduler.running:
            return
        with self._lock:
            self._stop_jobs()
        self._scheduler.shutdown(wait=True)
        if release:
            self.keeper.drop()


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
