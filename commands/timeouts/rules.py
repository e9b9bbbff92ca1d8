"""The rules of `/mesh timeouts`, pure: durations as Istio reads them, route checks, fixes.

Istio checks none of this (`istioctl analyze` has no rule for it), so the bot states
its own rules and applies them the same way in the audit and when refusing a `set`:

- Durations are Go durations (`2s`, `500ms`, `1.5s`, `1m`, `1h30m`), as the CRD's CEL
  rule `duration(self) >= duration('1ms')` and Istio's webhook read them: at least
  1 ms and whole milliseconds.
- Fit: `(attempts + 1) x perTryTimeout ≤ timeout`. `attempts` counts retries *after*
  the first try, and Envoy's route timeout covers every try, so a policy that writes
  `attempts x perTry` would always leave one try that can never finish. We enforce
  the form that counts every try.
- App first: the mesh timeout must be above the calling application's own timeout
  (else the mesh gives up first), and all tries must fit inside the application's
  timeout (tries after the app gave up are the retry storm: doomed work).
- Against live traffic: a timeout at or below the observed p99 cuts off normal
  requests; a per-try timeout at or below it makes retries fire on every slow one.

Suggested values follow one rule (docs/timeouts.md): mesh timeout = app timeout +
max(margin_min, app x margin_ratio), rounded up to `round_to_ms`; per-try timeout kept
if above p99 x factor, else raised to that (or the budget split over the tries when
nothing else is known); attempts reduced until every try fits in the app's timeout
(or the mesh timeout when the app's is unknown).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from commands.timeouts.durations import (
    format_duration,
)
from commands.timeouts.model import (
    AppTimeout,
    Finding,
    Route,
    RouteEdit,
    Severity,
    Suggestion,
    TimeoutsSettings,
    finding_id,
)

# ---- facts a route is judged against ---------------------------------------------------


@dataclass(frozen=True)
class DestinationFacts:
    """What is known about one destination service of a route."""

    host: str
    app_timeout: AppTimeout | None  # the tightest known timeout of its callers' apps
    callers_unknown: tuple[str, ...] = ()  # callers whose app timeout nobody told us
    p99_ms: float | None = None
    traffic_known: bool = True  # False: no call graph, so its callers are unknown
    from_gateway: bool = False  # a gateway route: the caller is a proxy, not an app


def _ms(value: float) -> str:
    return format_duration(int(value)) if value >= 1 and value == int(value) else f"{value:.0f}ms"


def check_route(
    route: Route, facts: Sequence[DestinationFacts], settings: TimeoutsSettings
) -> list[Finding]:
    """Every finding for one route, each with the route's suggested fix attached."""
    found: list[tuple[str, Severity, str, tuple[str, ...], str | None]] = []
    timeout, retries = route.timeout_ms, route.retries
    per_try = retries.per_try_ms if retries is not None else None
    tries = route.attempts + 1
    evidence_route = _describe_route(route)

    if timeout is None and route.attempts > 0:
        if per_try is None:
            severity = Severity.ERROR if route.explicit_retries else Severity.WARNING
            what = "explicit retries" if route.explicit_retries else "Istio's default 2 retries"
            found.append(
                (
                    "retries-without-timeout",
                    severity,
                    f"{what} and no timeout: a request can hang indefinitely",
                    (evidence_route,),
                    None,
                )
            )
        else:
            found.append(
                (
                    "retries-without-timeout",
                    Severity.WARNING,
                    f"no timeout: only the per-try timeouts bound a request, up to {tries} x "
                    f"{format_duration(per_try)} = {format_duration(tries * per_try)}",
                    (evidence_route,),
                    None,
                )
            )
    if timeout is not None and per_try is not None and route.attempts > 0:
        if per_try > timeout:
            found.append(
                (
                    "per-try-above-timeout",
                    Severity.ERROR,
                    f"perTryTimeout {format_duration(per_try)} is above the route timeout "
                    f"{format_duration(timeout)}: no retry can ever happen",
                    (evidence_route,),
                    None,
                )
            )
        elif tries * per_try > timeout:
            fit = timeout // per_try - 1
            found.append(
                (
                    "retries-exceed-timeout",
                    Severity.ERROR,
                    f"(attempts + 1) x perTryTimeout = {tries} x {format_duration(per_try)} = "
                    f"{format_duration(tries * per_try)} is beyond the timeout "
                    f"{format_duration(timeout)}: the last tries never happen (fits: "
                    f"attempts ≤ {max(fit, 0)})",
                    (evidence_route,),
                    None,
                )
            )
    for fact in facts:
        found.extend(_against_app(route, fact, evidence_route))
        found.extend(_against_p99(route, fact, evidence_route))

    suggestion = suggest(route, facts, settings)
    findings = []
    for rule, severity, message, evidence, host in found:
        about = (route.ref.namespace, route.ref.vs_name, str(route.ref.name or route.ref.index))
        findings.append(
            Finding(
                id=finding_id(rule, *about, host or ""),
                rule=rule,
                severity=severity,
                subject=route.ref.label,
                message=message,
                evidence=evidence,
                suggestion=suggestion,
                host=host or (route.destinations[0] if route.destinations else None),
            )
        )
    return findings


def _describe_route(route: Route) -> str:
    timeout = format_duration(route.timeout_ms) if route.timeout_ms else "none"
    if route.retries is None:
        retries = "none set (Istio default: 2 retries)"
    else:
        per_try = route.retries.per_try_ms
        retries = f"attempts {route.retries.attempts}" + (
            f" x perTry {format_duration(per_try)}" if per_try else ", no perTryTimeout"
        )
    to = ", ".join(route.destinations) or "?"
    return f"{route.ref.label} → {to}: timeout {timeout}; retries {retries}"


Raw = tuple[str, Severity, str, tuple[str, ...], str | None]


def _against_app(route: Route, fact: DestinationFacts, evidence_route: str) -> list[Raw]:
    found: list[Raw] = []
    app = fact.app_timeout
    if fact.from_gateway:
        return found
    if app is None:
        if route.timeout_ms is None and not route.explicit_retries:
            return found
        why = (
            "no traffic data, so its callers are unknown"
            if not fact.traffic_known
            else "none of its callers has an app timeout in config or the "
            f"meshbot.io/app-timeout annotation ({_callers(fact)})"
        )
        found.append(
            (
                "app-timeout-unknown",
                Severity.INFO,
                f"the app timeout for calls to {fact.host} is unknown ({why}): "
                "cannot check the mesh timeout against it",
                (evidence_route,),
                fact.host,
            )
        )
        return found
    evidence = (evidence_route, f"app timeout {format_duration(app.ms)} ({app.source})")
    if route.timeout_ms is not None and route.timeout_ms <= app.ms:
        found.append(
            (
                "mesh-timeout-not-above-app",
                Severity.WARNING,
                f"mesh timeout {format_duration(route.timeout_ms)} is not above the app timeout "
                f"{format_duration(app.ms)}: the mesh gives up first and the app sees a 504 "
                "instead of its own timeout",
                evidence,
                fact.host,
            )
        )
    retries = route.retries
    if retries is not None and retries.attempts > 0:
        per_try = retries.per_try_ms or route.timeout_ms
        if per_try is not None:
            total = (retries.attempts + 1) * per_try
            if route.timeout_ms is not None:
                total = min(total, route.timeout_ms)
            if total > app.ms:
                found.append(
                    (
                        "retries-outlive-app",
                        Severity.ERROR,
                        f"the mesh keeps trying for up to {format_duration(total)} but the app "
                        f"gives up at {format_duration(app.ms)} and retries itself: tries after "
                        "that are doomed work (the retry storm)",
                        evidence,
                        fact.host,
                    )
                )
    return found


def _callers(fact: DestinationFacts) -> str:
    return ", ".join(fact.callers_unknown) or "no callers seen"


def _against_p99(route: Route, fact: DestinationFacts, evidence_route: str) -> list[Raw]:
    found: list[Raw] = []
    p99 = fact.p99_ms
    if p99 is None:
        return found
    evidence = (evidence_route, f"observed p99 of {fact.host}: {p99:.0f}ms")
    if route.timeout_ms is not None and route.timeout_ms <= p99:
        found.append(
            (
                "timeout-below-p99",
                Severity.ERROR,
                f"timeout {format_duration(route.timeout_ms)} is at or below the observed p99 "
                f"({p99:.0f}ms): it cuts off normal traffic",
                evidence,
                fact.host,
            )
        )
    retries = route.retries
    if (
        retries is not None
        and retries.attempts > 0
        and retries.per_try_ms is not None
        and retries.per_try_ms <= p99
    ):
        found.append(
            (
                "per-try-below-p99",
                Severity.WARNING,
                f"perTryTimeout {format_duration(retries.per_try_ms)} is at or below the observed "
                f"p99 ({p99:.0f}ms): retries fire on every slow request",
                evidence,
                fact.host,
            )
        )
    return found


# ---- the suggestion rule -----------------------------------------------------------------


def round_up(ms: float, step: int) -> int:
    return math.ceil(ms / step) * step if step > 0 else math.ceil(ms)


def mesh_timeout_for(app_ms: int, settings: TimeoutsSettings) -> int:
    margin = max(settings.margin_min_ms, app_ms * settings.margin_ratio)
    return round_up(app_ms + margin, settings.round_to_ms)


def suggest(
    route: Route, facts: Sequence[DestinationFacts], settings: TimeoutsSettings
) -> Suggestion | None:
    """The documented rule applied to one route; None when too little is known."""
    apps = [f.app_timeout for f in facts if f.app_timeout is not None]
    app = min(apps, key=lambda a: a.ms) if apps else None
    p99s = [f.p99_ms for f in facts if f.p99_ms is not None]
    p99 = max(p99s) if p99s else None
    why: list[str] = []
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
    if p99 is not None:
        floor = round_up(p99 * 2, settings.round_to_ms)
        if timeout is None or timeout <= p99:
            timeout = max(timeout or 0, floor)
            why.append(f"timeout raised to {format_duration(timeout)}: 2 x observed p99")
    if timeout is None:
        return None
    budget = min(app.ms, timeout) if app is not None else timeout
    attempts = route.attempts
    current = route.retries.per_try_ms if route.retries is not None else None
    needed = round_up(p99 * settings.per_try_p99_factor, 10) if p99 is not None else None
    if current is not None and (needed is None or current >= needed):
        per_try = current
    elif needed is not None:
        per_try = max(needed, current or 0)
        why.append(
            f"per-try {format_duration(per_try)}: above observed p99 {p99:.0f}ms x "
            f"{settings.per_try_p99_factor:g}"
        )
    else:
        per_try = max(1, budget // (attempts + 1)) if attempts > 0 else budget
        why.append(
            f"per-try {format_duration(per_try)}: the budget split over {attempts + 1} tries"
        )
    while attempts > 0 and (attempts + 1) * per_try > budget:
        attempts -= 1
    if attempts != route.attempts:
        why.append(
            f"attempts {route.attempts} → {attempts}: (attempts + 1) x per-try must fit in "
            f"{format_duration(budget)}"
        )
    per_try = min(per_try, timeout)
    edit = RouteEdit(
        host=route.destinations[0] if route.destinations else route.hosts[0],
        route=route.ref,
        timeout_ms=timeout,
        attempts=attempts,
        per_try_ms=per_try if attempts > 0 else None,
        retry_on=route.retries.retry_on if route.retries is not None else None,
        seen=route.raw,
    )
    return Suggestion((edit,), tuple(why))


def violations(
    route: Route, facts: Sequence[DestinationFacts], settings: TimeoutsSettings
) -> list[Finding]:
    """What `timeouts set` refuses without force: errors and warnings, not unknowns."""
    return [f for f in check_route(route, facts, settings) if f.severity is not Severity.INFO]
