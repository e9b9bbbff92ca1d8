"""Gathers what the timeout rules judge (VirtualServices, app timeouts, live traffic) and
runs the audit; the last audit's findings are kept per cluster for `timeouts fix`.

Reading is split from judging so `timeouts set` runs the very same rules on a proposed
route that the audit runs on live ones (`Facts.with_objects`: the routes Envoy would get
after the change, delegates merged again). Every source is read whole, once: all
VirtualServices (a path crosses namespaces), ServiceEntries (their hosts are real
destinations), Gateways and the pod labels of the workloads calls come from (to tell
a gateway hop from a sidecar one), all annotated workloads, one PromQL query for the
call graph and one for every service's p99. Prometheus being down or absent does not
stop the audit: the config checks still run and a note says what was skipped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from commands.core.errors import MetricsUnavailable, PortError
from commands.core.ports import JSON, Cluster, Services
from commands.core.wiring import MissingWiring
from commands.timeouts.call_graph import amplification_findings
from commands.timeouts.durations import DurationError, parse_duration
from commands.timeouts.gateways import GatewayIndex, read_gateways
from commands.timeouts.model import (
    AppTimeout,
    Edge,
    Finding,
    Route,
    ServiceRecord,
    TimeoutAudit,
    TimeoutsSettings,
)
from commands.timeouts.ports import VirtualServices
from commands.timeouts.queries import edges_query, p99_query, parse_by_host, parse_edges
from commands.timeouts.routes import effective_routes
from commands.timeouts.rules import Registry, check_route
from commands.timeouts.suggest import DestinationFacts

FINDINGS_KEY = "timeouts:findings"
WORKLOAD_KINDS = (("apps/v1", "deployments"), ("apps/v1", "daemonsets"))


def settings_of(services: Services) -> TimeoutsSettings:
    return services.kit(TimeoutsSettings)


def vs_port(services: Services, cluster: str) -> VirtualServices:
    port = services.clusters[cluster]
    if not isinstance(port, VirtualServices):
        raise MissingWiring(f"cluster {cluster}: this adapter cannot read VirtualServices")
    return port


@dataclass(frozen=True)
class Facts:
    api_version: str | None
    virtual_services: tuple[JSON, ...]
    routes: tuple[Route, ...]
    services: tuple[ServiceRecord, ...]
    apps: dict[str, AppTimeout]  # caller node (service host or ns/workload) → app timeout
    edges: tuple[Edge, ...] | None  # None: no traffic data
    p99: dict[str, float] | None
    notes: tuple[str, ...]
    entries: dict[str, str] = field(default_factory=dict)  # ServiceEntry host → its namespace
    gateways: GatewayIndex = field(default_factory=GatewayIndex)

    @cached_property
    def _callers(self) -> dict[str, set[str]]:
        """Destination → the services calling it (one pass over the edges)."""
        found: dict[str, set[str]] = {}
        for edge in self.edges or ():
            if edge.source_is_service:
                found.setdefault(edge.destination, set()).add(edge.source)
        return found

    @property
    def registry(self) -> Registry:
        return Registry(frozenset(r.host for r in self.services), frozenset(self.entries))

    def destination(self, host: str, *, mesh: bool = True) -> DestinationFacts:
        p99 = None if self.p99 is None else self.p99.get(host)
        if not mesh:
            return DestinationFacts(host, None, p99_ms=p99, from_gateway=True)
        if self.edges is None:
            return DestinationFacts(host, None, p99_ms=p99, traffic_known=False)
        callers = sorted(self._callers.get(host, ()))
        known = [self.apps[c] for c in callers if c in self.apps]
        unknown = tuple(c.removesuffix(".svc.cluster.local") for c in callers if c not in self.apps)
        app = min(known, key=lambda a: a.ms) if known else None
        return DestinationFacts(host, app, unknown, p99)

    def facts_for(self, route: Route) -> list[DestinationFacts]:
        return [self.destination(h, mesh=route.mesh) for h in route.destinations]

    def with_objects(self, objects: Sequence[JSON]) -> Facts:
        """These facts with some VirtualServices replaced (or added): to judge a proposal
        on the routes Envoy would get after it."""
        keyed = {_key(vs): vs for vs in self.virtual_services}
        keyed.update({_key(vs): vs for vs in objects})
        routes, _ = effective_routes(keyed.values())
        return dataclasses.replace(
            self, virtual_services=tuple(keyed.values()), routes=tuple(routes)
        )


def _key(vs: JSON) -> tuple[str, str]:
    meta = vs.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "?")


def _list(
    cluster: Cluster,
    api_version: str,
    plural: str,
    notes: list[str],
    namespace: str | None = None,
) -> list[JSON]:
    try:
        return list(cluster.list_objects(api_version, plural, namespace=namespace))
    except PortError as exc:
        notes.append(f"could not read {plural} ({exc}): they are not taken into account")
        return []


def gather(services: Services, cluster: str) -> Facts:
    settings = settings_of(services)
    port = vs_port(services, cluster)
    objects = services.clusters[cluster]
    notes: list[str] = []
    api_version = port.virtual_service_api_version()
    vss: tuple[JSON, ...] = ()
    entries: dict[str, str] = {}
    gateways: tuple[JSON, ...] = ()
    if api_version is None:
        notes.append("networking.istio.io is not served here: no VirtualServices to read")
    else:
        vss = tuple(port.list_virtual_services())
        for entry in _list(objects, api_version, "serviceentries", notes):
            namespace = str((entry.get("metadata") or {}).get("namespace") or "default")
            for host in (entry.get("spec") or {}).get("hosts") or []:
                entries.setdefault(str(host).lower(), namespace)
        gateways = tuple(_list(objects, api_version, "gateways", notes))
    routes, route_notes = effective_routes(vss)
    notes.extend(route_notes)
    records = tuple(port.service_records())
    apps = _app_timeouts(
        settings, records, port.app_timeout_annotations(settings.annotation), notes
    )
    edges: tuple[Edge, ...] | None = None
    p99: dict[str, float] | None = None
    metrics = services.metrics.get(cluster)
    if metrics is None:
        notes.append(
            f"no Prometheus is configured for {cluster}: call-path and p99 checks skipped, "
            "and app timeouts of callers are unknown"
        )
    else:
        try:
            edges = tuple(parse_edges(metrics.query(edges_query(settings.window))))
            p99 = parse_by_host(metrics.query(p99_query(settings.window)))
        except MetricsUnavailable as exc:
            edges, p99 = None, None
            notes.append(f"Prometheus did not answer ({exc}): call-path and p99 checks skipped")
        else:
            if not edges:
                notes.append(
                    f"no mesh traffic in the last {settings.window}: no call paths or p99 to check"
                )
    index = GatewayIndex(read_gateways(gateways), _workload_labels(objects, edges, notes))
    return Facts(
        api_version, vss, tuple(routes), records, apps, edges, p99, tuple(notes), entries, index
    )


def _workload_labels(
    cluster: Cluster, edges: Sequence[Edge] | None, notes: list[str]
) -> dict[str, dict[str, str]]:
    """Pod labels of the workloads calls come from that are no service (gateways, jobs),
    to tell a gateway from a plain client."""
    wanted = {e.source for e in edges or () if not e.source_is_service}
    labels: dict[str, dict[str, str]] = {}
    for namespace in sorted({w.split("/", 1)[0] for w in wanted}):
        for api_version, plural in WORKLOAD_KINDS:
            for obj in _list(cluster, api_version, plural, notes, namespace=namespace):
                meta = obj.get("metadata") or {}
                key = f"{meta.get('namespace') or namespace}/{meta.get('name')}"
                template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
                if key in wanted:
                    found = template.get("labels") or {}
                    labels.setdefault(key, {str(k): str(v) for k, v in found.items()})
    return labels


def _app_timeouts(
    settings: TimeoutsSettings,
    records: Sequence[ServiceRecord],
    annotated: Sequence[Any],
    notes: list[str],
) -> dict[str, AppTimeout]:
    apps: dict[str, AppTimeout] = {}
    for source in annotated:
        try:
            ms = parse_duration(source.value)
        except DurationError as exc:
            notes.append(
                f"{source.kind} {source.namespace}/{source.name}: {settings.annotation} {exc}"
            )
            continue
        found = AppTimeout(ms, f"annotation on {source.kind} {source.namespace}/{source.name}")
        apps.setdefault(f"{source.namespace}/{source.name}", found)
        for record in records:
            if (
                record.namespace == source.namespace
                and record.selector
                and all(source.labels.get(k) == v for k, v in record.selector.items())
            ):
                apps.setdefault(record.host, found)
    for key, ms in settings.app_timeouts_ms.items():
        for record in records:
            if key in (record.name, f"{record.namespace}/{record.name}", record.host):
                apps[record.host] = AppTimeout(ms, "config")
        if key.endswith(".svc.cluster.local"):
            apps[key] = AppTimeout(ms, "config")
    return apps


def in_scope(namespace: str | None, *names: str) -> bool:
    """Is a host (`n.ns.svc…`) or workload (`ns/w`) node in the namespace?"""
    if namespace is None:
        return True
    for name in names:
        if "/" in name and name.split("/", 1)[0] == namespace:
            return True
        parts = name.split(".")
        if len(parts) > 1 and parts[1] == namespace:
            return True
    return False


def _in_namespace(route: Route, namespace: str) -> bool:
    """A delegated route belongs to both its delegate's and its root's namespace."""
    return namespace in (route.ref.namespace, (route.root or route.ref).namespace)


def audit(
    facts: Facts, cluster: str, namespace: str | None, settings: TimeoutsSettings, now: float
) -> TimeoutAudit:
    findings: list[Finding] = []
    notes = list(facts.notes)
    scoped = [r for r in facts.routes if namespace is None or _in_namespace(r, namespace)]
    registry = facts.registry
    for route in scoped:
        findings.extend(check_route(route, facts.facts_for(route), settings, registry))
    if facts.edges:
        paths, path_notes = amplification_findings(
            facts.edges, facts.routes, settings, facts.gateways
        )
        notes.extend(path_notes)
        for finding in paths:
            nodes = [n.strip() for n in finding.subject.split("→")]
            if in_scope(namespace, *nodes):
                findings.append(finding)
    unique = {f.id: f for f in findings}
    ordered = sorted(unique.values(), key=lambda f: (f.severity.rank, f.subject, f.rule))
    return TimeoutAudit(
        cluster=cluster,
        scope=namespace or "all namespaces",
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        api_version=facts.api_version,
        routes=len(scoped),
        virtual_services=len(
            {(r.ref.namespace, r.ref.vs_name) for r in scoped}
            | {
                (vs["metadata"]["namespace"], vs["metadata"]["name"])
                for vs in facts.virtual_services
                if namespace is None or vs["metadata"].get("namespace") == namespace
            }
        ),
        findings=tuple(ordered),
        notes=tuple(notes),
        edges=len(facts.edges or ()),
    )


def remember(services: Services, report: TimeoutAudit, now: float) -> None:
    """Keep the findings the user saw, so `timeouts fix ID` proposes exactly those."""
    settings = settings_of(services)
    fresh = {
        f.id: {**f.to_json(), "scope": report.scope, "at": now}
        for f in report.findings
        if f.suggestion is not None
    }

    def merge(current: JSON | None) -> JSON:
        kept = {
            fid: entry
            for fid, entry in ((current or {}).get("findings") or {}).items()
            if now - float(entry.get("at", 0)) < settings.findings_ttl_s
            and report.scope != "all namespaces"
            and entry.get("scope") != report.scope
        }
        return {"at": now, "findings": {**kept, **fresh}}

    services.store.update(
        FINDINGS_KEY, merge, cluster=report.cluster, ttl_s=settings.findings_ttl_s
    )


def recall(services: Services, cluster: str, finding: str, now: float) -> Finding | str:
    """The stored finding, or why there is none (said to the user)."""
    settings = settings_of(services)
    stored = services.store.get(FINDINGS_KEY, cluster=cluster)
    hours = settings.findings_ttl_s / 3600
    if not stored:
        return (
            f"no timeouts audit of {cluster} is stored (findings are kept {hours:g}h): run "
            f"`/mesh timeouts audit` first, then `/mesh timeouts fix ID`"
        )
    entry = (stored.get("findings") or {}).get(finding)
    if entry is None or now - float(entry.get("at", 0)) >= settings.findings_ttl_s:
        return (
            f"no finding `{finding}` with a suggested fix in the last audit of {cluster} (it may "
            "be fixed, expired or have no suggestion): run `/mesh timeouts audit` again"
        )
    return Finding.from_json(entry)
