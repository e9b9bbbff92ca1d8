"""What the timeouts audit reads from a cluster, beyond the generic objects.

A cluster adapter that can serve the audit implements `VirtualServices`; the registry
checks at start that every configured cluster does (commands.core.wiring).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from commands.core.ports import JSON
from commands.timeouts.model import AppTimeoutSource, ServiceRecord


@runtime_checkable
class VirtualServices(Protocol):
    """VirtualServices in whichever networking.istio.io version the cluster serves, and
    the workloads' `meshbot.io/app-timeout` annotations (with the Services that select
    them, to know which service an annotated workload is)."""

    def virtual_service_api_version(self) -> str | None:
        """`networking.istio.io/v1` (else v1beta1, v1alpha3); None when none is served."""
        ...

    def list_virtual_services(self, namespace: str | None = None) -> Sequence[JSON]: ...

    def app_timeout_annotations(
        self, annotation: str, namespace: str | None = None
    ) -> Sequence[AppTimeoutSource]:
        """Deployments, StatefulSets and pods carrying `annotation` (pods only when no
        owner carries it), with their pod labels."""
        ...

    def service_records(self, namespace: str | None = None) -> Sequence[ServiceRecord]: ...
