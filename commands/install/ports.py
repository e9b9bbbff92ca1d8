"""The Helm port of the staged install (the shared part the Helm adapter implements)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from commands.core.errors import PortError


@dataclass(frozen=True)
class Release:
    name: str  # e.g. "istiod-1-30-3"
    namespace: str  # "istio-system"
    chart: str  # "base" | "istiod" | "gateway"
    chart_version: str  # "1.30.3"
    revision: int  # Helm's release revision number
    status: str  # Helm's status: "deployed", "failed", "pending-install", ...
    values: Mapping[str, Any]  # the values given at install
    objects: tuple[Mapping[str, str], ...] = ()  # {"apiVersion","kind","namespace","name"}


class HelmUnavailable(PortError):
    """helm-sdkpy missing / Python < 3.12: pip install 'meshbot[install]' (Python >= 3.12)."""


class HelmFailed(PortError):
    """An install/uninstall failed; Helm's message, no secrets."""


class Helm(Protocol):
    """Helm for one cluster, with Istio's charts from that cluster's configured source."""

    def describe(self) -> str: ...

    def chart_versions(self) -> Sequence[str]: ...

    def release(self, namespace: str, name: str) -> Release | None: ...

    def install(
        self,
        namespace: str,
        name: str,
        chart: str,
        version: str,
        values: Mapping[str, Any],
        *,
        dry_run: bool = False,
        timeout_s: float = 300.0,
    ) -> Release:
        """Install chart@version as release `name`. dry_run renders only (objects listed,
        nothing written). On failure everything it created is removed, then HelmFailed."""
        ...

    def uninstall(self, namespace: str, name: str, *, timeout_s: float = 300.0) -> None:
        """Remove the release and exactly its objects; an absent release is not an error."""
        ...


class HelmClients(Protocol):
    def for_cluster(self, cluster: str) -> Helm: ...
