"""The ports the staged install needs beyond generic cluster objects: Helm and preflight.

Why this exists: installing Istio's charts is Helm's business (bot/adapters/helm.py
speaks it through helm-sdkpy), and running preflight first is the preflight
capability's — which this package may not import (capabilities are independent). Both
reach the core as small Protocols in the runtime's `InstallKit`, so the core plans
and applies with in-memory fakes in tests and with the real thing in production.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from commands.changes.model import Gate
from commands.core.errors import PortError
from commands.core.ports import Services
from commands.install.model import InstallSettings


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

    def describe(self) -> str:
        """e.g. "charts from /path/istio-charts" or the repo URL."""
        ...

    def chart_versions(self) -> Sequence[str]:
        """Versions the chart source offers ("1.29.6", "1.30.3")."""
        ...

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
    def for_cluster(self, cluster: str) -> Helm:
        """Raises HelmUnavailable when Helm can't be used."""
        ...


@dataclass(frozen=True)
class PreflightOutcome:
    """What the install needs of a preflight run: its verdict as gates, and the sizing
    overlay (an IstioOperator) the istiod values are derived from."""

    gates: tuple[Gate, ...]
    overlay: Mapping[str, Any] = field(default_factory=dict)
    verdict: str = ""


class PreflightRunner(Protocol):
    def run(self, services: Services, cluster: str, version: str) -> PreflightOutcome | str:
        """Preflight for `version` on `cluster`; a string says why it could not run."""
        ...


class NoHelm:
    """The HelmClients of a runtime built without the Helm adapter."""

    def __init__(self, why: str) -> None:
        self.why = why

    def for_cluster(self, cluster: str) -> Helm:
        raise HelmUnavailable(self.why)


@dataclass(frozen=True)
class InstallKit:
    """The staged install's kit in `Services`: settings, Helm, preflight."""

    settings: InstallSettings
    helm: HelmClients
    preflight: PreflightRunner
