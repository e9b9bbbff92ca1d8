"""Everything a preflight reads from a cluster, read once and in parallel.

Why this exists: a preflight of 2,000 nodes must not wait for one list after another,
and a list the bot may not read (RBAC) must not stop the other checks. So every list,
the access review, the control plane, the CRDs and the Prometheus queries run at once;
each answer is a value or the reason there is none, and only an unreachable API server
stops the preflight.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from commands.core.errors import ClusterUnavailable
from commands.core.model import Failure
from commands.core.ports import Cluster, Services
from commands.preflight.checks_cluster import GATEWAY_CRDS, PERMISSIONS
from commands.preflight.model import (
    InventoryForbidden,
    NamespaceInfo,
    NodeInfo,
    PodInfo,
    PreflightSettings,
    ServiceInfo,
)
from commands.preflight.ports import inventory_of
from commands.preflight.queries import NodeMetrics, fetch

T = TypeVar("T")


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """A read that may have been refused: the value, or why there is none."""

    value: T | None
    reason: str | None = None


def _read(read: Callable[[], T]) -> Fetched[T]:
    try:
        return Fetched(read())
    except InventoryForbidden as exc:
        return Fetched(None, str(exc))


@dataclass(frozen=True)
class ClusterReads:
    """Everything the checks need, read once and in parallel; each list may be refused."""

    server: str
    nodes: Fetched[Sequence[NodeInfo]]
    pods: Fetched[Sequence[PodInfo]]
    namespaces: Fetched[Sequence[NamespaceInfo]]
    services: Fetched[Sequence[ServiceInfo]]
    access: Fetched[Sequence[bool]]
    plane: Fetched[Any]
    crds: Fetched[Mapping[str, Sequence[str]]]
    metrics: NodeMetrics


def read_cluster(
    services: Services, cluster_name: str, settings: PreflightSettings, now: float
) -> ClusterReads | Failure:
    """Read every list and query at once; only an unreachable API server stops here."""
    cluster: Cluster = services.clusters[cluster_name]
    inventory = inventory_of(cluster)
    try:
        server = cluster.server_version()
    except InventoryForbidden as exc:
        server = f"unknown ({exc})"
    except ClusterUnavailable as exc:
        return Failure(f"preflight of {cluster_name} stopped: {exc}")
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="preflight") as pool:
        f_nodes = pool.submit(_read, inventory.list_nodes)
        f_pods = pool.submit(_read, inventory.list_pods)
        f_ns = pool.submit(_read, inventory.list_namespaces)
        f_svc = pool.submit(_read, inventory.list_services)
        f_access = pool.submit(_read, lambda: inventory.review_access(PERMISSIONS))
        f_plane = pool.submit(_read, inventory.istio_control_plane)
        f_crds = pool.submit(_read, lambda: inventory.crd_served_versions(GATEWAY_CRDS))
        f_metrics = pool.submit(fetch, services.metrics.get(cluster_name), settings, now)
        try:
            return ClusterReads(
                server=server,
                nodes=f_nodes.result(),
                pods=f_pods.result(),
                namespaces=f_ns.result(),
                services=f_svc.result(),
                access=f_access.result(),
                plane=f_plane.result(),
                crds=f_crds.result(),
                metrics=f_metrics.result(),
            )
        except ClusterUnavailable as exc:
            return Failure(f"preflight of {cluster_name} stopped: {exc}")
