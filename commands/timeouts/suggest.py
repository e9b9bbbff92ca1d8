"""The suggested values for a route (one documented rule), aimed at the right object.

Suggested values follow one rule (docs/timeouts.md): mesh timeout = app timeout +
max(margin_min, app x margin_ratio), rounded up to `round_to_ms` (else the route's own
timeout, raised to 2 x p99 if at or below it); a per-try timeout is kept above p99 x
factor, lowered when not even one retry fits, and made retryable (`gateway-error`
added to `retryOn`) when Envoy would not retry it; attempts are reduced until every
try fits in the app's timeout (or the mesh timeout when the app's is unknown).

A delegated route's values may live on its root route: each value is written where it
lives now (the root's `timeout` is changed on the root, for every route inheriting it),
and only where nothing is written on the route's own object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from commands.timeouts.durations import format_duration
from commands.timeouts.model import (
    AppTimeout,
    Route,
    RouteEdit,
    RouteRef,
    Suggestion,
    TimeoutsSettings,
)
from commands.timeouts.policy import RetryPolicy, with_timeout_retries


@dataclass(frozen=True)
class DestinationFacts:
    """What is known about one destination service of a route."""

    host: str
    app_timeout: AppTimeout | None  # the tightest known timeout of its callers' apps
    callers_unknown: tuple[str, ...] = ()  # callers whose app timeout nobody told us
    p99_ms: float | None = None
    traffic_known: bool = True  # False: no call graph, so its callers are unknown
    from_gateway: bool = False  # a gateway route: the caller is a proxy, not an app


def short(host: str) -> str:
    """`payments.payments.svc.cluster.local` → `payments.payments` for messages."""
    return host.removesuffix(".svc.cluster.local")


def describe_route(route: Route) -> str:
    """The route as Envoy runs it, and where each value is written."""
    timeout = format_duration(route.timeout_ms) if route.timeout_ms else "none"
    if route.timeout_from is not None and route.timeout_from != route.ref:
        timeout += f" (inherited from {route.timeout_from.label})"
    retries = route.policy.describe()
    if route.retries_from is not None and route.retries_from != route.ref:
        retries += f" (inherited from {route.retries_from.label})"
    to = ", ".join(short(d) for d in route.destinations) or "?"
    return f"{route.label} → {to}: timeout {timeout}; retries {retries}"


def round_up(ms: float, step: int) -> int:
    return math.ceil(ms / step) * step if step > 0 else math.ceil(ms)


def mesh_timeout_for(app_ms: int, settings: TimeoutsSettings) -> int:
    margin = max(settings.margin_min_ms, app_ms * settings.margin_ratio)
    return round_up(app_ms + margin, settings.round_to_ms)


def _timeout(
    route: Route, app: AppTimeout | None, p99: float | None, settings: TimeoutsSettings
) -> tuple[int | None, list[str]]:
    why: list[str] = []
    timeout: int | None
    if app is not None:
        timeout = mesh_timeout_for(app.ms, settings)
        why.append(
            f"timeout {format_duration(timeout)}: app timeout {format_duration(app.ms)} + "
            f"max({format_duration(settings.margin_min_ms)}, {settings.margin_ratio:g} x app), "
            f"rounded up to {format_duration(settings.round_to_ms)}"
        )
    elif route.timeout_ms is not None:
        timeout = route.timeout_ms
        why.append(f"timeout {format_duration(timeout)} kept (no app timeout known)")
    else:
        timeout = None
    if p99 is not None and (timeout is None or timeout <= p99):
        timeout = max(timeout or 0, round_up(p99 * 2, settings.round_to_ms))
        why.append(f"timeout raised to {format_duration(timeout)}: 2 x observed p99")
    return timeout, why


def suggest(
    route: Route,
    policy: RetryPolicy,
    facts: Sequence[DestinationFacts],
    settings: TimeoutsSettings,
) -> Suggestion | None:
    """The documented rule applied to one route; None when too little is known or
    nothing would change."""
    apps = [f.app_timeout for f in facts if f.app_timeout is not None]
    app = min(apps, key=lambda a: a.ms) if apps else None
    p99s = [f.p99_ms for f in facts if f.p99_ms is not None]
    p99 = max(p99s) if p99s else None
    timeout, why = _timeout(route, app, p99, settings)
    if timeout is None:
        return None
    attempts: int | None = None
    per_try: int | None = None
    retry_on: str | None = None
    current = policy.per_try_ms if policy.attempts > 0 else None
    if current is not None:
        budget = min(app.ms, timeout) if app is not None else timeout
        needed = round_up(p99 * settings.per_try_p99_factor, 10) if p99 is not None else None
        per_try = current
        if needed is not None and per_try < needed:
            per_try = needed
            why.append(
                f"per-try {format_duration(per_try)}: above observed p99 {p99:.0f}ms x "
                f"{settings.per_try_p99_factor:g}"
            )
        if 2 * per_try > budget and (needed is None or budget // 2 >= needed):
            per_try = max(1, budget // 2)
            why.append(f"per-try {format_duration(per_try)}: so that at least one retry fits")
        if not policy.retries_timeouts:
            retry_on = with_timeout_retries(policy)
            why.append(
                "retryOn + gateway-error: Envoy retries a try that hit perTryTimeout only then"
            )
        attempts = policy.attempts
        while attempts > 0 and (attempts + 1) * per_try > budget:
            attempts -= 1
        if attempts != policy.attempts:
            why.append(
                f"attempts {policy.attempts} → {attempts}: (attempts + 1) x per-try must fit in "
                f"{format_duration(budget)}"
            )
        if attempts == 0:
            per_try, retry_on = None, None
        elif retry_on is None and route.retries is not None:
            retry_on = route.retries.retry_on
    written_on = route.retries.retry_on if route.retries else None
    if attempts == policy.attempts and per_try == current and retry_on in (None, written_on):
        attempts = per_try = retry_on = None  # retries stay as they are
    if timeout == route.timeout_ms and attempts is None:
        return None
    edits = edits_for(
        route, None if timeout == route.timeout_ms else timeout, attempts, per_try, retry_on
    )
    why.extend(_where(route, edits))
    return Suggestion(edits, tuple(why))


def _owner(route: Route, written: RouteRef | None) -> tuple[RouteRef, object]:
    target = written or route.ref
    raw = route.root_raw if route.root is not None and target == route.root else route.raw
    return target, raw


def edits_for(
    route: Route,
    timeout_ms: int | None,
    attempts: int | None = None,
    per_try_ms: int | None = None,
    retry_on: str | None = None,
) -> tuple[RouteEdit, ...]:
    """The edits that give `route` these values, each written where the value lives."""
    host = route.destinations[0] if route.destinations else route.hosts[0]
    wants_retries = attempts is not None or per_try_ms is not None or bool(retry_on)
    timeout_at, timeout_raw = _owner(route, route.timeout_from)
    retries_at, retries_raw = _owner(route, route.retries_from)
    if not wants_retries or timeout_ms is None or timeout_at == retries_at:
        at, raw = (retries_at, retries_raw) if timeout_ms is None else (timeout_at, timeout_raw)
        return (RouteEdit(host, at, timeout_ms, attempts, per_try_ms, retry_on, raw),)
    return (
        RouteEdit(host, timeout_at, timeout_ms, None, None, None, timeout_raw),
        RouteEdit(host, retries_at, None, attempts, per_try_ms, retry_on, retries_raw),
    )


def _where(route: Route, edits: Sequence[RouteEdit]) -> list[str]:
    if route.root is None:
        return []
    lines = []
    for edit in edits:
        if edit.route == route.root:
            lines.append(
                f"written on the root route {route.root.label}, where the value lives: every "
                "delegate route inheriting it changes too"
            )
        elif edit.route == route.ref:
            lines.append(f"written on the delegate route {route.ref.label}")
    return lines
