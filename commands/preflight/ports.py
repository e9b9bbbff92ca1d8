"""What preflight reads from a cluster, beyond the generic objects every capability has.

A cluster adapter that can serve preflight implements `ClusterInventory`; the registry
checks at start that every configured cluster does (commands.core.wiring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from commands.core.ports import Cluster
from commands.core.wiring import MissingWiring
from commands.preflight.model import (
    AccessQuery,
    ControlPlane,
    NamespaceInfo,
    NodeInfo,
    PodInfo,
    ServiceInfo,
)


@runtime_checkable
class ClusterInventory(Protocol):
    """Cluster reads the preflight checks need (nodes, pods, namespaces, …).

    Lists are whole (the adapter pages through them) and come back as small records
    (commands.preflight.model). A 403 raises InventoryForbidden, so the one check that
    needed the list says unknown and the others still run.
    """

    def list_nodes(self) -> Sequence[NodeInfo]: ...

    def list_pods(self) -> Sequence[PodInfo]:
        """Pods that hold resources (not Succeeded/Failed), in every namespace."""
        ...

    def list_namespaces(self) -> Sequence[NamespaceInfo]: ...

    def list_services(self) -> Sequence[ServiceInfo]: ...

    def review_access(self, queries: Sequence[AccessQuery]) -> Sequence[bool]:
        """SelfSubjectAccessReview of each query, in order: may our credentials do it?"""
        ...

    def istio_control_plane(self) -> ControlPlane:
        """Installed istiod revisions (any namespace) and Istio's injection webhooks."""
        ...

    def crd_served_versions(self, names: Sequence[str]) -> Mapping[str, Sequence[str]]:
        """Served versions of each named CRD that exists; absent CRDs are left out."""
        ...


def inventory_of(cluster: Cluster) -> ClusterInventory:
    """The cluster as preflight reads it (the registry checked this at start)."""
    if not isinstance(cluster, ClusterInventory):
        raise MissingWiring(f"cluster {cluster.name}: this adapter cannot serve preflight")
    return cluster
