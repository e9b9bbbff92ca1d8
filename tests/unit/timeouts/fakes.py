"""In-memory fakes for `/mesh timeouts` unit tests: a cluster holding VirtualServices,
Services and annotated workloads (with guarded writes, for the change pipeline), and
metrics answering the timeouts queries from a call graph and p99s."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.changes.hooks import ChangeHooks, ChangesKit
from commands.changes.model import ObjectConflict, ObjectMissing, ObjectRef
from commands.core.ports import Sample
from commands.core.wiring import Kits
from commands.timeouts.fix import KIND
from commands.timeouts.model import AppTimeoutSource, ServiceRecord, TimeoutsSettings
from commands.timeouts.queries import edges_query, p99_query
from commands.timeouts.verify import TimeoutsBakeVerifier
from tests.unit.fakes import FakeCluster, FakeMetrics, MemoryStore, services

VS_API = "networking.istio.io/v1"


def vs(
    name: str,
    namespace: str,
    host: str,
    *,
    timeout: str | None = None,
    retries: dict[str, Any] | None = None,
    routes: list[dict[str, Any]] | None = None,
    gateways: list[str] | None = None,
) -> dict[str, Any]:
    http = routes
    if http is None:
        route: dict[str, Any] = {"route": [{"destination": {"host": host}}]}
        if timeout:
            route["timeout"] = timeout
        if retries is not None:
            route["retries"] = retries
        http = [route]
    spec: dict[str, Any] = {"hosts": [host], "http": http}
    if gateways:
        spec["gateways"] = gateways
    return {
        "apiVersion": VS_API,
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"},
        "spec": spec,
    }


@dataclass
class MeshCluster(FakeCluster):
    """FakeCluster + the VirtualServices port + guarded object writes."""

    objects: dict[tuple[str, str | None, str], dict[str, Any]] = field(default_factory=dict)
    records: list[ServiceRecord] = field(default_factory=list)
    annotated: list[AppTimeoutSource] = field(default_factory=list)
    served: tuple[str, ...] = ("v1", "v1beta1", "v1alpha3")
    writes: list[str] = field(default_factory=list)
    version_counter: int = 100

    def add(self, obj: dict[str, Any], plural: str = "virtualservices") -> None:
        meta = obj["metadata"]
        self.objects[(plural, meta["namespace"], meta["name"])] = copy.deepcopy(obj)

    # VirtualServices port
    def virtual_service_api_version(self) -> str | None:
        for v in ("v1", "v1beta1", "v1alpha3"):
            if v in self.served:
                return f"networking.istio.io/{v}"
        return None

    def list_virtual_services(self, namespace: str | None = None) -> list[Any]:
        return [
            copy.deepcopy(o)
            for (plural, ns, _), o in sorted(self.objects.items())
            if plural == "virtualservices" and (namespace is None or ns == namespace)
        ]

    def app_timeout_annotations(
        self, annotation: str, namespace: str | None = None
    ) -> list[AppTimeoutSource]:
        return list(self.annotated)

    def service_records(self, namespace: str | None = None) -> list[ServiceRecord]:
        return list(self.records)

    # ClusterObjects port (what the pipeline uses)
    def served_versions(self, group: str) -> Sequence[str]:
        return self.served

    def get_object(self, ref: ObjectRef) -> Any:
        found = self.objects.get((ref.plural, ref.namespace, ref.name))
        return copy.deepcopy(found)

    def list_objects(
        self, api_version: str, plural: str, *, namespace: str | None = None, **_: Any
    ) -> list[Any]:
        return [
            copy.deepcopy(o)
            for (p, ns, _), o in self.objects.items()
            if p == plural and namespace in (None, ns)
        ]

    def _store(self, ref: ObjectRef, body: Any, dry_run: bool) -> Any:
        stored = copy.deepcopy(body)
        self.version_counter += 1
        stored.setdefault("metadata", {})["resourceVersion"] = str(self.version_counter)
        if not dry_run:
            self.objects[(ref.plural, ref.namespace, ref.name)] = stored
            self.writes.append(ref.label)
        return copy.deepcopy(stored)

    def create_object(self, ref: ObjectRef, body: Any, *, dry_run: bool = False) -> Any:
        if (ref.plural, ref.namespace, ref.name) in self.objects:
            raise ObjectConflict(f"{ref.label} exists")
        return self._store(ref, body, dry_run)

    def replace_object(self, ref: ObjectRef, body: Any, *, dry_run: bool = False) -> Any:
        live = self.objects.get((ref.plural, ref.namespace, ref.name))
        if live is None:
            raise ObjectMissing(f"{ref.label} missing")
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != live["metadata"].get("resourceVersion"):
            raise ObjectConflict(f"{ref.label} changed")
        return self._store(ref, body, dry_run)

    def patch_object(self, ref: ObjectRef, patch: Any, *, dry_run: bool = False) -> Any:
        raise NotImplementedError

    def delete_object(
        self, ref: ObjectRef, *, resource_version: str | None = None, dry_run: bool = False
    ) -> None:
        if not dry_run:
            self.objects.pop((ref.plural, ref.namespace, ref.name), None)
            self.writes.append(f"delete {ref.label}")


def edge(
    source: str, source_ns: str, host: str, workload: str, workload_ns: str, rps: float = 10.0
) -> Sample:
    return Sample(
        {
            "source_workload": source,
            "source_workload_namespace": source_ns,
            "destination_service": host,
            "destination_workload": workload,
            "destination_workload_namespace": workload_ns,
        },
        rps,
    )


FRONTEND = "frontend.shop.svc.cluster.local"
CHECKOUT = "checkout.shop.svc.cluster.local"
PAYMENTS = "payments.payments.svc.cluster.local"


def three_hop_samples() -> list[Sample]:
    """ingress → frontend → checkout → payments, as `istio_requests_total` edges."""
    return [
        edge("istio-ingressgateway", "istio-system", FRONTEND, "frontend", "shop"),
        edge("frontend", "shop", CHECKOUT, "checkout", "shop"),
        edge("checkout", "shop", PAYMENTS, "payments", "payments"),
    ]


def mesh_metrics(edges: list[Sample], p99: Mapping[str, float], window: str = "5m") -> FakeMetrics:
    return FakeMetrics(
        samples={
            edges_query(window): edges,
            p99_query(window): [Sample({"destination_service": h}, v) for h, v in p99.items()],
        }
    )


def seed_cluster() -> MeshCluster:
    """The seed's numbers: checkout's app times out at 1.5 s calling payments, whose
    route has timeout 1s and 3 retries of 500ms."""
    cluster = MeshCluster("prod")
    cluster.add(
        vs(
            "payments",
            "payments",
            "payments",
            timeout="1s",
            retries={"attempts": 3, "perTryTimeout": "500ms", "retryOn": "5xx,connect-failure"},
        )
    )
    cluster.records = [
        ServiceRecord("shop", "frontend", {"app": "frontend"}),
        ServiceRecord("shop", "checkout", {"app": "checkout"}),
        ServiceRecord("payments", "payments", {"app": "payments"}),
    ]
    cluster.annotated = [
        AppTimeoutSource("shop", "Deployment", "checkout", {"app": "checkout"}, "1.5s")
    ]
    return cluster


def mesh_services(
    cluster: MeshCluster, metrics: FakeMetrics | None = None, store: MemoryStore | None = None
) -> Any:
    base = services(
        store=store,
        clusters={cluster.name: cluster},
        metrics={cluster.name: metrics} if metrics is not None else {},
    )
    settings = TimeoutsSettings()
    hooks = ChangeHooks()
    hooks.register_verifier(KIND, TimeoutsBakeVerifier(settings))
    return dataclasses.replace(base, kits=Kits([ChangesKit(hooks=hooks), settings]))
