"""The data of a preflight: what the cluster port returns, and what the report holds.

The inventory types are deliberately small (only the fields a check reads, slotted):
a 30,000-pod cluster is held as 30,000 small records rather than the client's model
objects, which is what keeps a preflight of a large cluster within seconds and a few
hundred megabytes. The report types are the stable shape the CLI JSON documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from commands.core.errors import ClusterUnavailable
from commands.core.model import Result
from commands.core.wording import count


class InventoryForbidden(ClusterUnavailable):
    """Our credentials may not read something (403): that check is unknown, not a crash."""


# -- what the cluster port returns -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeCondition:
    type: str
    status: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    labels: dict[str, str]
    allocatable_cpu_m: int | None
    allocatable_mem: int | None
    conditions: tuple[NodeCondition, ...] = ()
    kernel: str = ""
    os_image: str = ""
    runtime: str = ""
    kubelet: str = ""
    architecture: str = ""
    unschedulable: bool = False


@dataclass(frozen=True, slots=True)
class PodInfo:
    namespace: str
    name: str
    node: str | None
    cpu_request_m: int
    mem_request: int
    host_network: bool = False
    has_sidecar: bool = False
    # (container name, effective runAsUser) for containers whose UID is known.
    uids: tuple[tuple[str, int], ...] = ()
    # (container name, containerPort)
    ports: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    name: str
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    name: str | None
    app_protocol: str | None
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    namespace: str
    name: str
    ports: tuple[ServicePort, ...]


@dataclass(frozen=True, slots=True)
class AccessQuery:
    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None

    @property
    def label(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        kind = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {kind}{where}"


@dataclass(frozen=True, slots=True)
class ControlPlaneRevision:
    revision: str
    namespace: str
    version: str | None
    ready_replicas: int = 0


@dataclass(frozen=True)
class ControlPlane:
    revisions: tuple[ControlPlaneRevision, ...] = ()
    webhooks: tuple[str, ...] = ()


# -- settings the bot builds from its config file ----------------------------------------


@dataclass(frozen=True)
class PreflightSettings:
    steal_warn_pct: float = 5.0
    steal_fail_pct: float = 10.0
    headroom_warn_pct: float = 10.0
    node_label: str = "node"
    instance_to_node: dict[str, str] = field(default_factory=dict)
    system_namespaces: tuple[str, ...] = (
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "istio-system",
    )
    redirection: str = "iptables"
    default_istio: str = "1.30"
    default_profile: str = "default"
    base_overlay: dict[str, Any] | None = None
    top_subjects: int = 10


# -- the report --------------------------------------------------------------------------


class Status(Enum):
    FAIL = "fail"
    WARN = "warn"
    UNKNOWN = "unknown"
    PASS = "pass"

    @property
    def rank(self) -> int:
        """Worst first: fail, warn, unknown, pass."""
        return _RANK[self]


_RANK = {Status.FAIL: 0, Status.WARN: 1, Status.UNKNOWN: 2, Status.PASS: 3}


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # Cluster | Node | Namespace | Pod | Service
    name: str
    namespace: str | None = None

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    status: Status
    subject: Subject
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str | None = None


@dataclass(frozen=True)
class PreflightReport(Result):
    cluster: str
    istio: str
    profile: str
    generated_at: str
    checks: tuple[CheckResult, ...]
    recommendation: dict[str, Any]
    notes: tuple[str, ...] = ()

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status is status)

    @property
    def summary(self) -> dict[str, int]:
        counts = {s.value: 0 for s in (Status.PASS, Status.WARN, Status.FAIL, Status.UNKNOWN)}
        for check in self.checks:
            counts[check.status.value] += 1
        return counts

    @property
    def failed(self) -> bool:
        return any(c.status is Status.FAIL for c in self.checks)

    @property
    def verdict(self) -> str:
        """`ready` only when nothing failed and nothing is unknown: missing data is no pass."""
        if self.failed:
            return "not ready"
        unknown = self.count(Status.UNKNOWN)
        if unknown:
            return f"not known to be ready: {count(unknown, 'result')} unknown"
        return "ready"

    def worst_first(self) -> list[CheckResult]:
        return sorted(self.checks, key=lambda c: (c.status.rank, c.id, c.subject.label))

    def groups(self) -> list[tuple[str, Status, list[CheckResult]]]:
        """Results grouped by check id, each group's results worst first, worst group first."""
        by_id: dict[str, list[CheckResult]] = {}
        for check in self.checks:
            by_id.setdefault(check.id, []).append(check)
        groups = []
        for check_id, results in by_id.items():
            results.sort(key=lambda c: (c.status.rank, c.subject.label))
            groups.append((check_id, results[0].status, results))
        groups.sort(key=lambda g: (g[1].rank, g[0]))
        return groups


def report_to_dict(report: PreflightReport) -> dict[str, Any]:
    """The documented, stable JSON schema of a preflight report (see docs/preflight.md)."""
    return {
        "cluster": report.cluster,
        "istio": report.istio,
        "profile": report.profile,
        "generated_at": report.generated_at,
        "summary": report.summary,
        "checks": [
            {
                "id": c.id,
                "status": c.status.value,
                "subject": {
                    "kind": c.subject.kind,
                    "name": c.subject.name,
                    "namespace": c.subject.namespace,
                },
                "message": c.message,
                "evidence": c.evidence,
                "fix": c.fix,
            }
            for c in report.worst_first()
        ],
        "recommendation": report.recommendation,
    }
