"""Which routes a gateway hop of a call path runs: Istio Gateways and the workloads they
configure.

A request entering through an ingress gateway is routed by the gateway's Envoy with the
VirtualServices bound to *that Gateway* (`gateways: [ns/name]`) — not the mesh ones —
and their `hosts` are usually external names, not the service's. So a gateway hop is
matched as Envoy's gateway listeners do: by the Gateway(s) whose `selector` picks the
gateway workload, then by a bound route that forwards to the destination, with the
Gateway's `servers[].hosts` taking the VirtualService's hosts and the VirtualService
exported to the gateway's namespace. A gateway route that turns retries off is
honoured; when no route can be found the hop says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.timeouts.istio import exported_to, server_hosts_accept
from commands.timeouts.model import Route

JSON = Any


@dataclass(frozen=True)
class Gateway:
    namespace: str
    name: str
    selector: Mapping[str, str]
    server_hosts: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def selects(self, labels: Mapping[str, str]) -> bool:
        return bool(self.selector) and all(labels.get(k) == v for k, v in self.selector.items())

    def takes(self, route: Route) -> bool:
        """Does this gateway's Envoy get `route` (bound, hosts accepted)?"""
        owner = route.root or route.ref
        return self.key in route.proxies and server_hosts_accept(
            self.server_hosts, self.namespace, owner.namespace, route.hosts
        )


def read_gateways(objects: Iterable[JSON]) -> tuple[Gateway, ...]:
    found = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        hosts = tuple(
            str(h)
            for server in spec.get("servers") or []
            for h in (server or {}).get("hosts") or []
        )
        found.append(
            Gateway(
                str(meta.get("namespace") or "default"),
                str(meta.get("name") or "?"),
                {str(k): str(v) for k, v in (spec.get("selector") or {}).items()},
                hosts,
            )
        )
    return tuple(found)


@dataclass(frozen=True)
class GatewayIndex:
    """Gateways and the pod labels of the workloads calls come from (`ns/name` keys)."""

    gateways: tuple[Gateway, ...] = ()
    workload_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def gateways_of(self, workload: str) -> list[Gateway] | None:
        """The Gateways configuring `workload`; None when its labels are unknown."""
        labels = self.workload_labels.get(workload)
        if labels is None:
            return None
        return [g for g in self.gateways if g.selects(labels)]


def gateway_routes(
    gateways: Sequence[Gateway], workload_namespace: str, destination: str, routes: Sequence[Route]
) -> list[Route]:
    """The routes these gateways' Envoy uses to reach `destination`."""
    return [
        r
        for r in routes
        if r.forwards
        and r.unused is None
        and destination in r.destinations
        and any(g.takes(r) for g in gateways)
        and exported_to(r.export_to, (r.root or r.ref).namespace, workload_namespace)
    ]


def any_gateway_routes(destination: str, routes: Sequence[Route]) -> list[Route]:
    """Routes bound to some gateway that forward to `destination` (when the workload
    cannot be matched to its Gateway)."""
    return [
        r
        for r in routes
        if r.forwards and r.unused is None and r.gateways and destination in r.destinations
    ]
