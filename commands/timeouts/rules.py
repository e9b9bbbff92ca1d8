"""The route rules of `/mesh timeouts`, pure, as named steps over one `RouteView`.

Istio checks none of this (`istioctl analyze` has no rule for it), so the bot states
its own rules, judged on the route Envoy actually runs (after delegation, with Istio's
default retry policy where none is written), and applies them the same way in the
audit and when refusing a `set`:

- Bounds: a route with no `timeout` lets a request hang as long as the upstream holds
  it (Istio sets none by default). That is `info` unless something makes it matter: a
  caller's app timeout is known, the observed p99 is slow, or explicit retries are on.
- Per-try: `perTryTimeout` only helps below the route timeout, and a try that hits it
  is retried only when `retryOn` has `5xx`, `gateway-error` or `reset`; otherwise the
  request ends with a 504 after the first slow try.
- Fit: `(attempts + 1) x perTryTimeout ≤ timeout` when timed-out tries are retried:
  `attempts` counts retries *after* the first try and the route timeout covers them.
- App first: the mesh timeout must be above the calling application's own timeout
  (else the mesh gives up first), and retried tries must fit inside it.
- Against live traffic: a timeout (or an unretried per-try timeout) at or below the
  observed p99 cuts off normal requests; a retried one makes retries fire on every
  slow request.

Routes that never reach an upstream (`redirect`, `directResponse`) or that Envoy never
gets have no timeout to judge: no finding. Every finding says what to change and where
(`fix`), and the command that does it (`run`) when the bot can.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from commands.timeouts.durations import format_duration
from commands.timeouts.istio import half_qualified
from commands.timeouts.model import (
    AppTimeout,
    Finding,
    Route,
    Severity,
    Suggestion,
    TimeoutsSettings,
    finding_id,
)
from commands.timeouts.policy import RetryPolicy
from commands.timeouts.suggest import DestinationFacts, describe_route, short, suggest


@dataclass(frozen=True)
class Registry:
    """Hosts that exist: Kubernetes Services (FQDNs) and ServiceEntry hosts."""

    services: Collection[str] = frozenset()
    entries: Collection[str] = frozenset()


@dataclass(frozen=True)
class RouteView:
    """One route with what every step reads, worked out once."""

    route: Route
    policy: RetryPolicy
    facts: tuple[DestinationFacts, ...]
    evidence: str

    @property
    def timeout(self) -> int | None:
        return self.route.timeout_ms

    @property
    def per_try(self) -> int | None:
        return self.policy.per_try_ms if self.policy.attempts > 0 else None

    @property
    def host(self) -> str:
        return short(self.route.destinations[0] if self.route.destinations else "?")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a route, before it becomes a `Finding`."""

    rule: str
    severity: Severity
    message: str
    evidence: tuple[str, ...] = ()
    host: str | None = None
    fix: str = ""  # empty: the route's suggestion (or a `timeouts set` to fill in)
    wants_timeout: bool = True  # the fix is a timeout (so `timeouts set` can do it)


def view_of(route: Route, facts: Sequence[DestinationFacts]) -> RouteView:
    return RouteView(route, route.policy, tuple(facts), describe_route(route))


def check_route(
    route: Route,
    facts: Sequence[DestinationFacts],
    settings: TimeoutsSettings,
    registry: Registry | None = None,
) -> list[Finding]:
    """Every finding for one route, each with its fix."""
    if not route.forwards or route.unused is not None:
        return []
    view = view_of(route, facts)
    problems = [
        *_invalid_durations(view),
        *_half_qualified(view, registry),
        *_unbounded(view, settings),
        *_per_try(view),
    ]
    for fact in view.facts:
        problems.extend(_against_app(view, fact))
        problems.extend(_against_p99(view, fact))
    suggestion = suggest(view.route, view.policy, view.facts, settings)
    return [_finding(view, p, suggestion) for p in problems]


def violations(
    route: Route,
    facts: Sequence[DestinationFacts],
    settings: TimeoutsSettings,
    registry: Registry | None = None,
) -> list[Finding]:
    """What `timeouts set` refuses without force: errors and warnings, not unknowns."""
    found = check_route(route, facts, settings, registry)
    return [f for f in found if f.severity is not Severity.INFO]


# ---- steps -----------------------------------------------------------------------------


def _invalid_durations(view: RouteView) -> list[Problem]:
    return [
        Problem(
            "invalid-duration",
            Severity.WARNING,
            f"{problem} — only a cluster without Istio's validation accepts it",
            (view.evidence,),
            fix="write a duration of at least 1ms in whole milliseconds (e.g. 1.5s), or remove it",
            wants_timeout=False,
        )
        for problem in view.route.problems
    ]


def _half_qualified(view: RouteView, registry: Registry | None) -> list[Problem]:
    if registry is None:
        return []
    found = []
    for host in view.route.half_qualified:
        name, namespace = half_qualified(host) or ("", "")
        full = f"{name}.{namespace}.svc.cluster.local"
        if host in registry.entries or full not in registry.services:
            continue
        found.append(
            Problem(
                "host-not-expanded",
                Severity.WARNING,
                f"`{host}` is used as written: Istio expands only names without a dot, so it "
                f"is not the service {full} (no cluster for it: requests get 503, or the "
                "VirtualService never applies to that service)",
                (view.evidence,),
                host=full,
                fix=f"write `{name}` (in namespace {namespace}) or the full name `{full}`",
                wants_timeout=False,
            )
        )
    return found


def _unbounded(view: RouteView, settings: TimeoutsSettings) -> list[Problem]:
    if view.timeout is not None:
        return []
    policy = view.policy
    if view.per_try is None:
        if policy.explicit and policy.attempts > 0:
            return [
                Problem(
                    "retries-without-timeout",
                    Severity.WARNING,
                    f"no timeout: a request to {view.host} can hang as long as it holds it — "
                    f"without perTryTimeout a slow try is never retried, so the {policy.tries} "
                    "tries bound nothing",
                    (view.evidence,),
                )
            ]
        return [_no_timeout(view, settings)]
    if not policy.retries_timeouts:
        return []  # one slow try ends it at perTryTimeout: `_per_try` says so
    total = policy.tries * view.per_try
    return [
        Problem(
            "retries-without-timeout",
            Severity.INFO,
            f"no timeout: only perTryTimeout bounds a request to {view.host}, up to "
            f"{policy.tries} x {format_duration(view.per_try)} = {format_duration(total)}",
            (view.evidence,),
        )
    ]


def _no_timeout(view: RouteView, settings: TimeoutsSettings) -> Problem:
    message = (
        f"no timeout (Istio sets none by default): a request to {view.host} can hang as long "
        f"as {view.host} holds it"
    )
    evidence = [view.evidence]
    severity = Severity.INFO
    app = _tightest_app(view)
    slow = [f for f in view.facts if f.p99_ms is not None and f.p99_ms >= settings.slow_p99_ms]
    if app is not None:
        severity = Severity.WARNING
        message += (
            f"; its callers' app gives up at {format_duration(app.ms)}, but the mesh never ends "
            "a slow call for callers without a timeout of their own"
        )
        evidence.append(f"app timeout {format_duration(app.ms)} ({app.source})")
    elif slow:
        severity = Severity.WARNING
        p99 = max(f.p99_ms or 0.0 for f in slow)
        message += (
            f"; its observed p99 is {p99:.0f}ms: slow requests happen and nothing bounds them"
        )
        evidence.append(f"observed p99 of {slow[0].host}: {p99:.0f}ms")
    return Problem("no-timeout", severity, message, tuple(evidence))


def _tightest_app(view: RouteView) -> AppTimeout | None:
    apps = [f.app_timeout for f in view.facts if f.app_timeout is not None]
    return min(apps, key=lambda a: a.ms) if apps else None


def _per_try(view: RouteView) -> list[Problem]:
    policy, per_try, timeout = view.policy, view.per_try, view.timeout
    if per_try is None:
        return []
    if timeout is not None and per_try >= timeout:
        return [
            Problem(
                "per-try-above-timeout",
                Severity.WARNING,
                f"perTryTimeout {format_duration(per_try)} is not below the route timeout "
                f"{format_duration(timeout)}: the route timeout always ends a slow try first, so "
                "a slow try is never retried (retries still follow fast failures)",
                (view.evidence,),
                wants_timeout=False,
            )
        ]
    if not policy.retries_timeouts:
        return [
            Problem(
                "per-try-timeout-not-retried",
                Severity.WARNING,
                f"a try slower than perTryTimeout {format_duration(per_try)} ends the request "
                "with a 504: Envoy retries a timed-out try only when retryOn has 5xx, "
                f"gateway-error or reset, and it is `{policy.retry_on_text()}`"
                + ("" if view.route.retries and view.route.retries.retry_on else " (the default)"),
                (view.evidence,),
                wants_timeout=False,
            )
        ]
    if timeout is not None and policy.tries * per_try > timeout:
        fit = max(timeout // per_try - 1, 0)
        return [
            Problem(
                "retries-exceed-timeout",
                Severity.ERROR,
                f"(attempts + 1) x perTryTimeout = {policy.tries} x {format_duration(per_try)} = "
                f"{format_duration(policy.tries * per_try)} is beyond the timeout "
                f"{format_duration(timeout)}: the last tries never happen (fits: attempts ≤ {fit})",
                (view.evidence,),
                wants_timeout=False,
            )
        ]
    return []


def _against_app(view: RouteView, fact: DestinationFacts) -> list[Problem]:
    if fact.from_gateway:
        return []
    app = fact.app_timeout
    if app is None:
        if not fact.traffic_known or not fact.callers_unknown:
            return []  # no traffic data is one note for the whole audit, not one per route
        if view.timeout is None and not view.route.explicit_retries:
            return []
        return [
            Problem(
                "app-timeout-unknown",
                Severity.INFO,
                f"the app timeout of the callers of {short(fact.host)} is unknown (none of "
                f"{', '.join(fact.callers_unknown)} has one in config or the "
                "meshbot.io/app-timeout annotation): the mesh timeout is not checked against it",
                (view.evidence,),
                fact.host,
                fix=f"declare the app timeout of {', '.join(fact.callers_unknown)}: "
                "`timeouts.app_timeouts` in the config, or the meshbot.io/app-timeout "
                "annotation on its Deployment",
                wants_timeout=False,
            )
        ]
    evidence = (view.evidence, f"app timeout {format_duration(app.ms)} ({app.source})")
    found = []
    if view.timeout is not None and view.timeout <= app.ms:
        found.append(
            Problem(
                "mesh-timeout-not-above-app",
                Severity.WARNING,
                f"mesh timeout {format_duration(view.timeout)} is not above the app timeout "
                f"{format_duration(app.ms)}: the mesh gives up first and the app sees a 504 "
                "instead of its own timeout",
                evidence,
                fact.host,
            )
        )
    policy, per_try = view.policy, view.per_try
    if policy.explicit and per_try is not None and policy.retries_timeouts:
        span = policy.tries * per_try
        if view.timeout is not None:
            span = min(span, view.timeout)
        if span > app.ms:
            found.append(
                Problem(
                    "retries-outlive-app",
                    Severity.ERROR,
                    f"the mesh keeps retrying for up to {format_duration(span)} but the app gives "
                    f"up at {format_duration(app.ms)} and retries itself: tries after that are "
                    "doomed work (the retry storm)",
                    evidence,
                    fact.host,
                    wants_timeout=False,
                )
            )
    return found


def _against_p99(view: RouteView, fact: DestinationFacts) -> list[Problem]:
    p99 = fact.p99_ms
    if p99 is None:
        return []
    evidence = (view.evidence, f"observed p99 of {short(fact.host)}: {p99:.0f}ms")
    found = []
    if view.timeout is not None and view.timeout <= p99:
        found.append(
            Problem(
                "timeout-below-p99",
                Severity.ERROR,
                f"timeout {format_duration(view.timeout)} is at or below the observed p99 "
                f"({p99:.0f}ms): it cuts off normal traffic",
                evidence,
                fact.host,
            )
        )
    per_try = view.per_try
    if per_try is not None and per_try <= p99 and (view.timeout is None or per_try < view.timeout):
        if view.policy.retries_timeouts:
            found.append(
                Problem(
                    "per-try-below-p99",
                    Severity.WARNING,
                    f"perTryTimeout {format_duration(per_try)} is at or below the observed p99 "
                    f"({p99:.0f}ms): retries fire on every slow request",
                    evidence,
                    fact.host,
                    wants_timeout=False,
                )
            )
        else:
            found.append(
                Problem(
                    "per-try-below-p99",
                    Severity.ERROR,
                    f"perTryTimeout {format_duration(per_try)} is at or below the observed p99 "
                    f"({p99:.0f}ms) and a timed-out try is not retried: it cuts off normal "
                    "traffic with 504s",
                    evidence,
                    fact.host,
                    wants_timeout=False,
                )
            )
    return found


# ---- findings ----------------------------------------------------------------------------


def _finding(view: RouteView, problem: Problem, suggestion: Suggestion | None) -> Finding:
    route = view.route
    finding = finding_id(problem.rule, *route.key, problem.host or "")
    fix, run = problem.fix, None
    if not fix and suggestion is not None:
        fix = "; ".join(e.describe() for e in suggestion.edits)
        run = f"timeouts fix {finding}"
    elif not fix:
        fix, run = _set_line(view, problem)
    attach = suggestion if run == f"timeouts fix {finding}" else None
    return Finding(
        id=finding,
        rule=problem.rule,
        severity=problem.severity,
        subject=route.label,
        message=problem.message,
        evidence=problem.evidence,
        suggestion=attach,
        host=problem.host or (route.destinations[0] if route.destinations else None),
        fix=fix,
        run=run,
    )


def _set_line(view: RouteView, problem: Problem) -> tuple[str, str | None]:
    """A fix with nothing known to base a value on: the command with the value to choose."""
    route = view.route
    target = f"service={view.host} route={route.ref.selector}"
    if problem.wants_timeout:
        return (
            f"set a timeout above the slowest normal response of {view.host} (no app timeout "
            "or p99 known to suggest one)",
            f"timeouts set {target} timeout=DURATION",
        )
    return (
        f"set timeout, retries and perTryTimeout of {route.ref.label} so that (retries + 1) x "
        "per-try ≤ timeout",
        f"timeouts set {target} timeout=DURATION retries=N per-try=DURATION",
    )
