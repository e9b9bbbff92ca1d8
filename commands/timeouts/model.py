"""The data of `/mesh timeouts`: routes as the audit reads them, findings, suggestions.

An audit is only useful if a finding can be acted on later (`/mesh timeouts fix ID`),
so a finding's id is a hash of what it is about (rule, VirtualService, route, or the
call path), not a counter: the same problem gets the same id on every run, in every
replica. Suggestions are plain values (durations in whole milliseconds, Istio's
precision), so the one the user saw can be stored and proposed exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from commands.core.model import Result
from commands.timeouts.durations import format_duration
from commands.timeouts.policy import DEFAULT_ATTEMPTS, RetryPolicy, RetrySpec, effective

JSON = Any
MESH = "mesh"


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class RouteRef:
    """One HTTP route of one VirtualService as written (`index` into `spec.http`)."""

    api_version: str
    namespace: str
    vs_name: str
    index: int
    name: str | None = None

    @property
    def route_id(self) -> str:
        return self.name or f"#{self.index}"

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.vs_name} route {self.route_id}"

    @property
    def selector(self) -> str:
        """What `route=` takes to pick this route: `VS/ROUTE` or `VS/#N`."""
        return f"{self.vs_name}/{self.route_id}"


class Action(Enum):
    """What a route does with a request (Istio's `TranslateRoute` order)."""

    FORWARD = "route"  # to upstream clusters: the only kind with timeout and retries
    REDIRECT = "redirect"
    DIRECT_RESPONSE = "directResponse"
    NOTHING = "nothing"  # none of the three (invalid; Envoy gets no upstream)


@dataclass(frozen=True)
class Route:
    """One HTTP route as Envoy gets it, after Istio merged delegates into their root.

    `ref` is the route object that holds it as written (a delegate's route, or the
    route itself); `root` the root route it was merged into. Each of `timeout` and
    `retries` remembers where it is written (`*_from`; None: nowhere, Istio's default)
    — a delegate route inherits both from its root unless it sets them itself, and a
    fix must be written where the value lives. `proxies` are where Envoy builds the
    route: `mesh` (every sidecar) and/or `namespace/gateway`; `unused` says why the route
    never reaches Envoy (after a catch-all, bound to no proxy, hidden by an older
    VirtualService for the same host)."""

    ref: RouteRef
    hosts: tuple[str, ...]  # of the (root) VirtualService, as Istio resolves them
    destinations: tuple[str, ...]  # upstream hosts, as Istio resolves them
    proxies: tuple[str, ...]
    timeout_ms: int | None
    retries: RetrySpec | None
    raw: JSON = field(default=None, compare=False)  # `ref`'s object as read
    action: Action = Action.FORWARD
    root: RouteRef | None = None
    root_raw: JSON = field(default=None, compare=False)
    timeout_from: RouteRef | None = None
    retries_from: RouteRef | None = None
    problems: tuple[str, ...] = ()  # values Istio's validation would refuse, said plainly
    unused: str | None = None
    fault_delay_ms: int | None = None
    mirrors: tuple[str, ...] = ()
    half_qualified: tuple[str, ...] = ()  # hosts Istio keeps as written (`name.ns`)
    export_to: tuple[str, ...] = ()  # of the (root) VirtualService
    hidden_hosts: tuple[str, ...] = ()  # hosts sidecars route with an older VirtualService

    @property
    def mesh(self) -> bool:
        return MESH in self.proxies

    @property
    def gateways(self) -> tuple[str, ...]:
        return tuple(p for p in self.proxies if p != MESH)

    @property
    def policy(self) -> RetryPolicy:
        return effective(self.retries)

    @property
    def attempts(self) -> int:
        """Retries in effect: explicit, else Istio's default of 2."""
        return self.policy.attempts

    @property
    def explicit_retries(self) -> bool:
        return self.retries is not None and self.retries.attempts > 0

    @property
    def forwards(self) -> bool:
        return self.action is Action.FORWARD

    @property
    def label(self) -> str:
        if self.root is None:
            return self.ref.label
        return f"{self.ref.label} (delegated from {self.root.label})"

    @property
    def key(self) -> tuple[str, ...]:
        """What a finding about this route is about (stable across runs)."""
        own = (self.ref.namespace, self.ref.vs_name, str(self.ref.name or self.ref.index))
        if self.root is None:
            return own
        return (*own, self.root.namespace, self.root.vs_name, self.root.route_id)


@dataclass(frozen=True)
class AppTimeoutSource:
    """A workload (or pod) carrying the `meshbot.io/app-timeout` annotation."""

    namespace: str
    kind: str  # Deployment | Pod | StatefulSet …
    name: str
    labels: Mapping[str, str]
    value: str


@dataclass(frozen=True)
class ServiceRecord:
    """A Kubernetes Service: enough to turn a host into ns/name and pods into services."""

    namespace: str
    name: str
    selector: Mapping[str, str]

    @property
    def host(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


@dataclass(frozen=True)
class AppTimeout:
    """A calling service's own client timeout and where it came from."""

    ms: int
    source: str  # "config" | "annotation on Deployment shop/checkout"


@dataclass(frozen=True)
class Edge:
    """Live traffic from a caller (a service host, or `workload ns/name`) to a service."""

    source: str
    destination: str
    rps: float
    source_is_service: bool = True


@dataclass(frozen=True)
class RouteEdit:
    """Set these values on one route (or a new minimal VirtualService when `route` is
    None) for `host`. `attempts` None leaves retries as they are."""

    host: str
    route: RouteRef | None
    timeout_ms: int | None
    attempts: int | None = None
    per_try_ms: int | None = None
    retry_on: str | None = None
    seen: JSON = None  # the route as the audit saw it; `fix` refuses if it moved since

    def describe(self) -> str:
        parts = []
        if self.timeout_ms is not None:
            parts.append(f"timeout={format_duration(self.timeout_ms)}")
        if self.attempts is not None:
            parts.append(f"retries={self.attempts}")
        if self.per_try_ms is not None:
            parts.append(f"per-try={format_duration(self.per_try_ms)}")
        if self.retry_on:
            parts.append(f"retry-on={self.retry_on}")
        where = self.route.label if self.route else "a new VirtualService"
        return f"{self.host}: {' '.join(parts)} ({where})"

    def to_json(self) -> JSON:
        return {
            "host": self.host,
            "route": None if self.route is None else _ref_json(self.route),
            "timeout_ms": self.timeout_ms,
            "attempts": self.attempts,
            "per_try_ms": self.per_try_ms,
            "retry_on": self.retry_on,
            "seen": self.seen,
        }

    @classmethod
    def from_json(cls, raw: JSON) -> RouteEdit:
        route = raw.get("route")
        return cls(
            raw["host"],
            None if route is None else RouteRef(**route),
            raw.get("timeout_ms"),
            raw.get("attempts"),
            raw.get("per_try_ms"),
            raw.get("retry_on"),
            raw.get("seen"),
        )


def _ref_json(ref: RouteRef) -> JSON:
    return {
        "api_version": ref.api_version,
        "namespace": ref.namespace,
        "vs_name": ref.vs_name,
        "index": ref.index,
        "name": ref.name,
    }


@dataclass(frozen=True)
class Suggestion:
    """The audit's fix: one or more route edits and the reasoning, in a line each."""

    edits: tuple[RouteEdit, ...]
    why: tuple[str, ...] = ()

    def to_json(self) -> JSON:
        return {"edits": [e.to_json() for e in self.edits], "why": list(self.why)}

    @classmethod
    def from_json(cls, raw: JSON) -> Suggestion:
        return cls(tuple(RouteEdit.from_json(e) for e in raw["edits"]), tuple(raw["why"]))


@dataclass(frozen=True)
class Finding:
    id: str
    rule: str
    severity: Severity
    subject: str  # the route label, or the call path
    message: str
    evidence: tuple[str, ...] = ()
    suggestion: Suggestion | None = None
    host: str | None = None
    fix: str = ""  # what to change, and where, in one line (every finding has one)
    run: str | None = None  # the meshbot command that does it (without `/mesh`/`meshbot`)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "rule": self.rule,
            "severity": self.severity.value,
            "subject": self.subject,
            "host": self.host,
            "message": self.message,
            "evidence": list(self.evidence),
            "fix": self.fix,
            "run": self.run,
            "suggestion": None if self.suggestion is None else self.suggestion.to_json(),
        }

    @classmethod
    def from_json(cls, raw: JSON) -> Finding:
        suggestion = raw.get("suggestion")
        return cls(
            raw["id"],
            raw["rule"],
            Severity(raw["severity"]),
            raw["subject"],
            raw["message"],
            tuple(raw.get("evidence", ())),
            None if suggestion is None else Suggestion.from_json(suggestion),
            raw.get("host"),
            str(raw.get("fix") or ""),
            raw.get("run"),
        )


def finding_id(rule: str, *about: str) -> str:
    """Stable across runs and replicas: the same rule on the same subject, the same id."""
    digest = hashlib.sha256("\x1f".join((rule, *about)).encode()).hexdigest()
    return f"to-{digest[:8]}"


@dataclass(frozen=True)
class TimeoutAudit(Result):
    """`/mesh timeouts audit`: every finding, worst first, and what could not be checked."""

    cluster: str
    scope: str  # a namespace, or "all namespaces"
    generated_at: str
    api_version: str | None
    routes: int
    virtual_services: int
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    edges: int = 0

    @property
    def counts(self) -> dict[str, int]:
        found = {s.value: 0 for s in Severity}
        for f in self.findings:
            found[f.severity.value] += 1
        return found

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def to_json(self) -> JSON:
        return {
            "cluster": self.cluster,
            "scope": self.scope,
            "generated_at": self.generated_at,
            "api_version": self.api_version,
            "virtual_services": self.virtual_services,
            "routes": self.routes,
            "edges": self.edges,
            "counts": self.counts,
            "findings": [f.to_json() for f in self.findings],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class TimeoutsSettings:
    """Core settings (bot.timeouts.settings builds them from the config file)."""

    app_timeouts_ms: Mapping[str, int] = field(default_factory=dict)  # name|ns/name|host
    amplification_threshold: float = 8.0
    margin_ratio: float = 0.25  # mesh timeout = app + max(margin_min, app x ratio) …
    margin_min_ms: int = 500
    round_to_ms: int = 100  # … rounded up to this step
    per_try_p99_factor: float = 1.25  # a per-try timeout must sit this far above p99
    window: str = "5m"
    findings_ttl_s: float = 86400.0
    bake_window_s: float = 300.0
    bake_min_requests: float = 50.0
    max_paths: int = 20
    annotation: str = "meshbot.io/app-timeout"
    slow_p99_ms: int = 1000  # a route with no timeout matters once its p99 is this slow
    max_timeout_ms: int = 86_400_000  # `set` refuses longer route timeouts (24h)


__all__ = ["DEFAULT_ATTEMPTS", "RetrySpec"]
