"""Reads the timeouts regression corpus (tests/unit/timeouts/corpus/*.yaml) and runs
the audit on each case the way `timeouts audit` does, from the objects and the facts a
case declares, so tests can compare with what Istio's semantics imply.

A case file:

    description: what shape this is and why the expected findings follow
    services: [reviews.shop]            # Kubernetes Services, name.namespace
    apps: {checkout.shop: 1.5s}         # a calling service's own client timeout
    edges:                              # live traffic; absent: no traffic data
      - [checkout.shop, payments.payments]
      - [istio-system/istio-ingressgateway, frontend.shop]   # a workload, not a service
    workloads: {istio-system/istio-ingressgateway: {istio: ingressgateway}}  # pod labels
    p99: {payments.payments: 180}       # observed p99 in ms
    kube_valid: true                    # false: only a cluster without Istio's validation
    objects: [...]                      # VirtualServices, Gateways, ServiceEntries
    expect:
      findings:                         # exactly these (rule, severity, subject)
        - {rule: no-timeout, severity: info, subject: "shop/reviews route #0",
           message: "substring", fix: "substring", evidence: "substring"}
      routes:                           # optional: the routes Envoy gets, in order
        - {subject: "...", proxies: [mesh], timeout: 4s, attempts: 3, to: [reviews.shop]}
      notes: ["substring", ...]         # optional: each appears in some note

Short names in `services`, `apps`, `edges`, `p99` and `to` are `name.namespace`, the
test data's shorthand for `name.namespace.svc.cluster.local`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from commands.timeouts.audit import Facts, audit
from commands.timeouts.durations import format_duration, parse_duration
from commands.timeouts.gateways import GatewayIndex, read_gateways
from commands.timeouts.model import AppTimeout, Edge, ServiceRecord, TimeoutAudit, TimeoutsSettings
from commands.timeouts.routes import effective_routes

CORPUS = Path(__file__).parent / "corpus"
GROUP = "networking.istio.io"
VERSIONS = ("v1", "v1beta1", "v1alpha3")


@dataclass(frozen=True)
class Case:
    name: str
    raw: dict[str, Any]

    @property
    def objects(self) -> list[dict[str, Any]]:
        return list(self.raw.get("objects") or [])

    @property
    def expect(self) -> dict[str, Any]:
        return dict(self.raw.get("expect") or {})

    @property
    def kube_valid(self) -> bool:
        return bool(self.raw.get("kube_valid", True))


def cases() -> list[Case]:
    return [
        Case(path.stem, yaml.safe_load(path.read_text())) for path in sorted(CORPUS.glob("*.yaml"))
    ]


def fqdn(short: str) -> str:
    """Test shorthand `name.ns` → `name.ns.svc.cluster.local` (workloads `ns/w` stay)."""
    if "/" in short or short.count(".") != 1:
        return short
    return f"{short}.svc.cluster.local"


def in_version(objects: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """The objects with every networking.istio.io apiVersion set to `version`."""
    out = copy.deepcopy(objects)
    for obj in out:
        if str(obj.get("apiVersion", "")).startswith(GROUP + "/"):
            obj["apiVersion"] = f"{GROUP}/{version}"
    return out


def facts_of(case: Case, objects: list[dict[str, Any]]) -> Facts:
    raw = case.raw
    vss = [o for o in objects if o.get("kind") == "VirtualService"]
    routes, notes = effective_routes(vss)
    records = []
    for short in raw.get("services") or []:
        name, namespace = short.split(".")
        records.append(ServiceRecord(namespace, name, {"app": name}))
    apps = {
        fqdn(k): AppTimeout(parse_duration(str(v)), "config")
        for k, v in (raw.get("apps") or {}).items()
    }
    edges = None
    if "edges" in raw:
        edges = tuple(
            Edge(fqdn(src), fqdn(dst), 1.0, source_is_service="/" not in src)
            for src, dst in raw["edges"] or []
        )
    p99 = {fqdn(k): float(v) for k, v in (raw.get("p99") or {}).items()} if "p99" in raw else None
    if p99 is None and edges is not None:
        p99 = {}
    entries = {
        str(h).lower(): str(o["metadata"].get("namespace") or "default")
        for o in objects
        if o.get("kind") == "ServiceEntry"
        for h in o["spec"].get("hosts") or []
    }
    gateways = read_gateways(o for o in objects if o.get("kind") == "Gateway")
    workloads = {k: dict(v) for k, v in (raw.get("workloads") or {}).items()}
    return Facts(
        f"{GROUP}/v1",
        tuple(vss),
        tuple(routes),
        tuple(records),
        apps,
        edges,
        p99,
        tuple(notes),
        entries,
        GatewayIndex(gateways, workloads),
    )


def run(case: Case, version: str = "v1") -> TimeoutAudit:
    return audit(
        facts_of(case, in_version(case.objects, version)),
        "corpus",
        None,
        TimeoutsSettings(),
        0.0,
    )


def route_rows(case: Case) -> list[dict[str, Any]]:
    """The routes Envoy gets for the case, in the corpus' `routes:` vocabulary."""
    vss = [o for o in case.objects if o.get("kind") == "VirtualService"]
    rows = []
    for route in effective_routes(vss)[0]:
        if route.unused is not None:
            continue
        rows.append(
            {
                "subject": route.label,
                "proxies": list(route.proxies),
                "timeout": None if route.timeout_ms is None else format_duration(route.timeout_ms),
                "attempts": route.attempts,
                "to": [d.removesuffix(".svc.cluster.local") for d in route.destinations],
            }
        )
    return rows
