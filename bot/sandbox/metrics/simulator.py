"""The simulator: a scenario plus a clock, answering "what would a scrape see now?".

``render(at_seconds)`` is a pure function of the scenario and the time, which is what
makes scraping at any moment consistent. The live clock (``render_now``) adds the two
controls tests need against a real Prometheus that scrapes in real time: jump the
clock forward (``advance``) and apply an event right now (``inject``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.sandbox.metrics.exposition import Family, format_value, header_lines
from bot.sandbox.metrics.scenario import Event, Scenario
from bot.sandbox.metrics.series import FAMILIES, Group, Unit, build_groups

Clock = Callable[[], float]


class MetricsSimulator:
    """Serves a scenario's metrics as of a simulated second.

    ``clock`` is either a zero-argument callable returning seconds (default
    ``time.monotonic``; scenario second 0 is when the simulator is created) or a
    start time (a ``datetime`` or a Unix timestamp): scenario second 0 is then that
    wall-clock moment, so a live exporter can continue a backfilled history.
    """

    def __init__(self, scenario: Scenario, clock: Clock | datetime | float | None = None) -> None:
        self._lock = threading.Lock()
        self._scenario = scenario
        self._groups = build_groups(scenario)
        self._offset = 0.0
        self._last = 0.0
        if clock is None or callable(clock):
            self._clock: Clock = clock or time.monotonic
            self._zero = self._clock()
        else:
            self._clock = time.time
            self._zero = clock.timestamp() if isinstance(clock, datetime) else float(clock)

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    def now(self) -> float:
        """Current scenario time in seconds (never goes backwards)."""
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> float:
        self._last = max(self._last, self._clock() - self._zero + self._offset)
        return self._last

    def advance(self, seconds: float) -> None:
        """Jump the simulated clock forward (counters jump by the integral of that time)."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._offset += seconds

    def set_time_offset(self, seconds: float) -> None:
        """Set the total jump added to the clock; it may not move time backwards."""
        with self._lock:
            if seconds < self._offset:
                raise ValueError("the simulated clock only moves forward")
            self._offset = seconds

    def inject(self, changes: dict[str, Any], at: float | None = None) -> Event:
        """Apply an event now (or at a future ``at``): e.g. ``{"service": "x", "p99_factor": 4}``,
        ``{"revision": "1-30-3", "p99_factor": 3}`` or ``{"namespace": "shop", "revision": R}``.

        The past is never rewritten, so counters stay consistent for every scraper.
        """
        with self._lock:
            now = self._now_locked()
            when = now if at is None else at
            if when < now:
                raise ValueError(f"cannot change the past: at={when} < now={now:.3f}")
            fields = dict(changes)
            event = Event(
                at=when,
                service=fields.pop("service", None),
                node=fields.pop("node", None),
                caller=fields.pop("caller", None),
                revision=fields.pop("revision", None),
                namespace=fields.pop("namespace", None),
                changes=fields,
            )
            if event.namespace is not None:  # a move: the revision is what changes
                event = Event(
                    at=when, changes={"revision": event.revision}, namespace=event.namespace
                )
            self._scenario = self._scenario.with_event(event)
            self._groups = build_groups(self._scenario)
            return event

    def set_revision(self, namespace: str, revision: str) -> Event:
        """From now on the namespace's services run ``revision``'s proxies (a wave restarted
        onto it, or rolled back): their istio_build tag and any regression tied to that
        revision follow."""
        return self.inject({"namespace": namespace, "revision": revision})

    def render_now(self) -> str:
        with self._lock:
            at = self._now_locked()
            groups = self._groups
        return render_groups(groups, at)

    def render(self, at_seconds: float) -> str:
        """Prometheus text exposition (format 0.0.4) as of scenario second ``at_seconds``."""
        with self._lock:
            groups = self._groups
        return render_groups(groups, at_seconds)

    def groups(self) -> list[Group]:
        with self._lock:
            return list(self._groups)


def samples_by_family(
    groups: list[Group], at: float
) -> dict[Family, list[tuple[Unit, list[float]]]]:
    collected: dict[Family, list[tuple[Unit, list[float]]]] = {f: [] for f in FAMILIES}
    for group in groups:
        values = group.values_at(at)
        if values is None:
            continue
        for family, units in group.lines_by_family(values).items():
            collected[family].extend(units)
    return collected


def render_groups(groups: list[Group], at: float) -> str:
    lines: list[str] = []
    for family, units in samples_by_family(groups, at).items():
        if not units:
            continue
        lines.extend(header_lines(family))
        for unit, values in units:
            lines.extend(
                f"{name} {format_value(value)}"
                for name, value in zip(unit.names, values, strict=True)
            )
    return "\n".join(lines) + "\n"
