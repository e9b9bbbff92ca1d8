"""Retry amplification along call paths, from the live call graph.

Each hop's retries multiply the work of every hop below it: a request that fails at
the bottom of frontend → checkout → payments with Istio's default 2 retries on each
hop is tried 3 x 3 = 9 times at payments (27 with the ingress hop). No single
VirtualService shows this; only the call graph does. The graph comes from
`istio_requests_total` source → destination edges (one query); a hop's factor is
`attempts + 1` of the route the caller's Envoy runs for that destination:

- from a service (a sidecar): the mesh routes forwarding to it (else those of a mesh
  VirtualService for its host), or Istio's default where there is none;
- from a gateway workload: the routes bound to the Gateway(s) that select it and that
  forward to the destination (commands/timeouts/gateways.py) — `attempts: 0`
  there is honoured, and mesh routes never count for that hop;
- from a workload no Gateway selects: like a sidecar.

Istio's default retries only fire on connection failures, refused streams and gRPC
UNAVAILABLE/CANCELLED — exactly what an outage below produces — so they count fully.
A path whose product is above the threshold (default 8x) is a finding naming the path.

The suggested fix keeps retries where the failure is (the innermost hop) and turns
them off on the outer hops, outermost first, until the product fits; it then lowers
the innermost hop's attempts if that is still not enough. Gateway hops count but are
not edited (the gateway's routes are the edge team's), and each edit is written where
the retries live (a delegate route's inherited retries on its root).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from commands.timeouts.gateways import GatewayIndex, any_gateway_routes, gateway_routes
from commands.timeouts.istio import host_matches
from commands.timeouts.model import (
    Edge,
    Finding,
    Route,
    RouteEdit,
    Severity,
    Suggestion,
    TimeoutsSettings,
    finding_id,
)
from commands.timeouts.policy import DEFAULT_ATTEMPTS
from commands.timeouts.suggest import edits_for, short

MAX_DEPTH = 12
MAX_PATHS = 10_000
DEFAULT_HOW = "Istio's default 2 retries"


@dataclass(frozen=True)
class Hop:
    source: str
    destination: str
    factor: int
    route: Route | None  # the route deciding the factor; None: no VirtualService (default)
    editable: bool  # a mesh hop: the mesh route decides its retries and we may change it
    how: str = ""  # why this factor, for the evidence

    @property
    def explicit(self) -> bool:
        return self.route is not None and self.route.retries is not None


class RouteIndex:
    """The routes a hop can run, looked up by destination and host (built once per
    audit: a large graph has thousands of paths over the same edges)."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.mesh_to: dict[str, list[Route]] = defaultdict(list)
        self.mesh_host: dict[str, list[Route]] = defaultdict(list)
        self.mesh_wildcards: list[tuple[str, Route]] = []
        self.gateway_to: dict[str, list[Route]] = defaultdict(list)
        for route in routes:
            if not route.forwards or route.unused is not None:
                continue
            if route.mesh:
                for destination in route.destinations:
                    self.mesh_to[destination].append(route)
                for host in route.hosts:
                    if host in route.hidden_hosts:
                        continue
                    if "*" in host:
                        self.mesh_wildcards.append((host, route))
                    else:
                        self.mesh_host[host].append(route)
            if route.gateways:
                for destination in route.destinations:
                    self.gateway_to[destination].append(route)

    def mesh(self, destination: str) -> list[Route]:
        found = self.mesh_to.get(destination) or self.mesh_host.get(destination)
        if found:
            return found
        return [r for h, r in self.mesh_wildcards if host_matches(h, destination)]


def hop_for(
    edge: Edge, routes: Sequence[Route] | RouteIndex, index: GatewayIndex | None = None
) -> Hop:
    """The retries of one edge, from the route the caller's Envoy uses for it."""
    table = routes if isinstance(routes, RouteIndex) else RouteIndex(routes)
    if edge.source_is_service:
        return _mesh_hop(edge, table)
    gateways = (index or GatewayIndex()).gateways_of(edge.source)
    namespace = edge.source.split("/", 1)[0]
    bound = table.gateway_to.get(edge.destination, [])
    if gateways:
        names = ", ".join(g.key for g in gateways)
        found = gateway_routes(gateways, namespace, edge.destination, bound)
        if not found:
            how = (
                f"gateway {names}: no route bound to it forwards to {short(edge.destination)}; "
                f"{DEFAULT_HOW} assumed"
            )
            return Hop(edge.source, edge.destination, DEFAULT_ATTEMPTS + 1, None, False, how)
        return _worst(edge, found, False, f"via gateway {names}")
    if gateways is None:  # the workload's labels are unknown: is it a gateway?
        found = any_gateway_routes(edge.destination, bound)
        if found:
            return _worst(edge, found, False, "assumed a gateway (its Gateway is unknown)")
        how = f"a workload outside the known services: {DEFAULT_HOW} assumed"
        return Hop(edge.source, edge.destination, DEFAULT_ATTEMPTS + 1, None, False, how)
    return _mesh_hop(edge, table)  # a workload no Gateway selects: a sidecar client


def _mesh_hop(edge: Edge, table: RouteIndex) -> Hop:
    found = table.mesh(edge.destination)
    if not found:
        how = f"no VirtualService: {DEFAULT_HOW}"
        return Hop(edge.source, edge.destination, DEFAULT_ATTEMPTS + 1, None, True, how)
    return _worst(edge, found, True, "")


def _worst(edge: Edge, routes: Sequence[Route], editable: bool, via: str) -> Hop:
    route = max(routes, key=lambda r: (r.attempts, -r.ref.index))
    policy = route.policy
    if route.retries is None:
        how = f"{route.label} sets no retries: {DEFAULT_HOW}"
    elif policy.attempts == 0:
        how = f"{route.label}: retries off"
    else:
        how = f"{route.label}: attempts {policy.attempts}"
    if route.retries_from is not None and route.retries_from != route.ref:
        how += f" (inherited from {route.retries_from.label})"
    if via:
        how = f"{via}, {how}"
    return Hop(edge.source, edge.destination, policy.attempts + 1, route, editable, how)


def paths(edges: Sequence[Edge]) -> list[list[Edge]]:
    """Maximal simple paths, from nodes nobody calls (and from cycles nobody enters)."""
    out: dict[str, list[Edge]] = defaultdict(list)
    incoming: set[str] = set()
    nodes: set[str] = set()
    for e in edges:
        if e.source == e.destination:
            continue
        out[e.source].append(e)
        incoming.add(e.destination)
        nodes.update((e.source, e.destination))
    for targets in out.values():
        targets.sort(key=lambda e: e.destination)
    roots = sorted(nodes - incoming)
    found: list[list[Edge]] = []
    reached: set[str] = set()

    def walk(node: str, path: list[Edge], seen: set[str]) -> None:
        reached.add(node)
        if len(found) >= MAX_PATHS:
            return
        nexts = [e for e in out.get(node, []) if e.destination not in seen]
        if not nexts or len(path) >= MAX_DEPTH:
            if path:
                found.append(list(path))
            return
        for edge in nexts:
            path.append(edge)
            seen.add(edge.destination)
            walk(edge.destination, path, seen)
            seen.discard(edge.destination)
            path.pop()

    for root in roots:
        walk(root, [], {root})
    for node in sorted(nodes - reached):  # cycles with no way in
        if node not in reached:
            walk(node, [], {node})
    return found


def amplification_findings(
    edges: Sequence[Edge],
    routes: Sequence[Route],
    settings: TimeoutsSettings,
    index: GatewayIndex | None = None,
) -> tuple[list[Finding], list[str]]:
    """Findings for paths above the threshold (worst first, capped), and notes."""
    scored: list[tuple[int, list[Hop]]] = []
    seen_keys: set[tuple[str, ...]] = set()
    table = RouteIndex(routes)
    hop_of: dict[Edge, Hop] = {}
    for path in paths(edges):
        hops = [hop_of.get(e) or hop_of.setdefault(e, hop_for(e, table, index)) for e in path]
        product = 1
        for hop in hops:
            product *= hop.factor
        key = tuple([path[0].source, *(e.destination for e in path)])
        if product > settings.amplification_threshold and key not in seen_keys:
            seen_keys.add(key)
            scored.append((product, hops))
    scored.sort(key=lambda item: (-item[0], [h.destination for h in item[1]]))
    notes = []
    if len(scored) > settings.max_paths:
        notes.append(
            f"{len(scored) - settings.max_paths} more call paths amplify retries beyond "
            f"{settings.amplification_threshold:g}x; the worst {settings.max_paths} are shown"
        )
    findings = [_finding(product, hops, settings) for product, hops in scored[: settings.max_paths]]
    return findings, notes


def _finding(product: int, hops: list[Hop], settings: TimeoutsSettings) -> Finding:
    names = [short(hops[0].source), *(short(h.destination) for h in hops)]
    path = " → ".join(names)
    factors = " x ".join(str(h.factor) for h in hops)
    evidence = [
        f"{short(hop.source)} → {short(hop.destination)}: x{hop.factor} ({hop.how})" for hop in hops
    ]
    explicit = any(h.explicit and h.factor > 1 for h in hops)
    suggestion = _suggest(hops, settings)
    found_id = finding_id("retry-amplification", *names)
    return Finding(
        id=found_id,
        rule="retry-amplification",
        severity=Severity.ERROR if explicit else Severity.WARNING,
        subject=path,
        message=(
            f"stacked retries multiply a failing request at {names[-1]} up to {product}x "
            f"({factors}), above the {settings.amplification_threshold:g}x threshold"
        ),
        evidence=tuple(evidence),
        suggestion=suggestion,
        host=hops[-1].destination,
        fix=(
            "; ".join(e.describe() for e in suggestion.edits)
            if suggestion is not None
            else "turn retries off (retries=0) on all but one hop of this path; the hops that "
            "could be changed here are gateway routes or outside the mesh"
        ),
        run=f"timeouts fix {found_id}" if suggestion is not None else None,
    )


def _suggest(hops: list[Hop], settings: TimeoutsSettings) -> Suggestion | None:
    factors = [h.factor for h in hops]
    editable = [i for i, h in enumerate(hops) if h.editable and h.factor > 1]
    if not editable:
        return None
    limit = settings.amplification_threshold
    innermost = editable[-1]
    changed: dict[int, int] = {}

    def product() -> int:
        total = 1
        for f in factors:
            total *= f
        return total

    for i in editable[:-1]:
        if product() <= limit:
            break
        factors[i] = 1
        changed[i] = 0
    while product() > limit and factors[innermost] > 1:
        factors[innermost] -= 1
        changed[innermost] = factors[innermost] - 1
    if not changed:
        return None
    edits = tuple(e for i, n in sorted(changed.items()) for e in _edit(hops[i], n))
    why = (
        "retry at one layer: retries off on the outer hops (outermost first), kept on the "
        "innermost hop where the failure is",
        f"amplification after the change: {product()}x (threshold "
        f"{settings.amplification_threshold:g}x)",
    )
    return Suggestion(edits, why)


def _edit(hop: Hop, attempts: int) -> tuple[RouteEdit, ...]:
    if hop.route is None:
        return (RouteEdit(host=hop.destination, route=None, timeout_ms=None, attempts=attempts),)
    return edits_for(hop.route, None, attempts)
