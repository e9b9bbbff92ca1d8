"""Benchmark: the timeouts audit's pure core on a large synthetic mesh, read as Istio
does (delegates merged, gateway hops, sidecar precedence), against the same mesh
written without delegation (plain VirtualServices, the cheapest shape to read),
measured in the same run.

Run from the repo root: ``python -m tests.bench.bench_timeouts_audit``. The mesh: N
services in 50 namespaces, one VirtualService each (a quarter of them a root with a
delegate of 3 routes), one ingress Gateway with a gateway-bound VirtualService for a
tenth of them, and a call graph of 3 edges per service plus the ingress edges. Target:
the whole audit of 5,000 services under 3 s of CPU; delegation should cost less than 2x
the plain shape. CPU time is printed first (the machine may be shared).
"""

from __future__ import annotations

import random
import time
from typing import Any

from commands.timeouts.audit import Facts, audit
from commands.timeouts.gateways import GatewayIndex, read_gateways
from commands.timeouts.model import AppTimeout, Edge, ServiceRecord, TimeoutsSettings
from commands.timeouts.routes import effective_routes

API = "networking.istio.io/v1"


def _vs(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": API, "kind": "VirtualService", "metadata": meta, "spec": spec}


def mesh(n: int, delegated: bool, seed: int = 7) -> tuple[list[dict[str, Any]], list[Any]]:
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": API,
            "kind": "Gateway",
            "metadata": {"name": "public", "namespace": "istio-system"},
            "spec": {"selector": {"istio": "ingressgateway"}, "servers": [{"hosts": ["*/*"]}]},
        }
    ]
    edges: list[Any] = []
    hosts = [f"svc{i}.ns{i % 50}.svc.cluster.local" for i in range(n)]
    for i, host in enumerate(hosts):
        name, ns = f"svc{i}", f"ns{i % 50}"
        routes = [
            {
                "name": f"r{k}",
                "match": [{"uri": {"prefix": f"/api/{k}"}}],
                "route": [{"destination": {"host": name}}],
                "retries": {"attempts": rng.choice([0, 1, 2, 3]), "retryOn": "5xx"},
            }
            for k in range(3)
        ]
        if delegated and i % 4 == 0:
            objects.append(
                _vs(
                    name,
                    ns,
                    {
                        "hosts": [name],
                        "http": [
                            {
                                "name": "api",
                                "match": [{"uri": {"prefix": "/api"}}],
                                "timeout": "3s",
                                "delegate": {"name": f"{name}-routes"},
                            }
                        ],
                    },
                )
            )
            objects.append(_vs(f"{name}-routes", ns, {"http": routes}))
        else:
            for route in routes:
                route["timeout"] = "3s"
            objects.append(_vs(name, ns, {"hosts": [name], "http": routes}))
        if i % 10 == 0:
            objects.append(
                _vs(
                    f"{name}-public",
                    ns,
                    {
                        "hosts": [f"{name}.example.com"],
                        "gateways": ["istio-system/public"],
                        "http": [{"route": [{"destination": {"host": host}}], "timeout": "9s"}],
                    },
                )
            )
            edges.append(Edge("istio-system/istio-ingressgateway", host, 1.0, False))
        for _ in range(3):
            j = rng.randrange(i + 1, n) if i + 1 < n else None
            if j is not None:
                edges.append(Edge(host, hosts[j], 1.0))
    return objects, edges


def facts(objects: list[dict[str, Any]], edges: list[Any], n: int) -> Facts:
    vss = [o for o in objects if o["kind"] == "VirtualService"]
    routes, notes = effective_routes(vss)
    records = tuple(ServiceRecord(f"ns{i % 50}", f"svc{i}", {"app": f"svc{i}"}) for i in range(n))
    apps = {f"svc{i}.ns{i % 50}.svc.cluster.local": AppTimeout(2500, "config") for i in range(n)}
    index = GatewayIndex(
        read_gateways(o for o in objects if o["kind"] == "Gateway"),
        {"istio-system/istio-ingressgateway": {"istio": "ingressgateway"}},
    )
    return Facts(
        API, tuple(vss), tuple(routes), records, apps, tuple(edges), {}, tuple(notes), {}, index
    )


def timed(n: int, delegated: bool) -> tuple[float, float, int, int]:
    """CPU seconds (the machine is shared: wall time says more about neighbours), wall
    seconds, routes judged, findings."""
    objects, edges = mesh(n, delegated)
    settings = TimeoutsSettings(max_paths=20)
    cpu, wall = time.process_time(), time.perf_counter()
    report = audit(facts(objects, edges, n), "bench", None, settings, 0.0)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu, wall, report.routes, len(report.findings)


def main() -> None:
    for n in (1000, 5000):
        plain, plain_wall, _, _ = timed(n, delegated=False)
        merged, merged_wall, merged_routes, found = timed(n, delegated=True)
        print(
            f"{n:5d} services, {merged_routes} routes, {found} findings: with delegates and "
            f"gateways {merged:5.2f} s CPU ({merged_wall:5.2f} s wall); the same mesh without "
            f"delegation {plain:5.2f} s CPU ({plain_wall:5.2f} s wall); ratio "
            f"{merged / plain:4.2f}x"
        )


if __name__ == "__main__":
    main()
