"""mTLS migration data: settings, PeerAuthentication facts and the status report.

A namespace is ready for STRICT when three independent facts agree: the policy that
applies to it is understood (no conflicting PeerAuthentications), every pod in it has
a sidecar, and nothing arrived in plaintext for a whole readiness window with enough
traffic seen to mean something. Each fact is its own record here so the report can say
exactly which one is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from commands.changes.model import Gate, GateStatus
from commands.core.evidence import History
from commands.core.model import Result

JSON = Any
MODES = ("UNSET", "DISABLE", "PERMISSIVE", "STRICT")
ISTIO_DEFAULT_MODE = "PERMISSIVE"


@dataclass(frozen=True)
class MtlsSettings:
    root_namespace: str = "istio-system"
    readiness_window_s: float = 3600.0
    min_requests: float = 100.0  # requests + connections into the scope over the window
    bake_window_s: float = 600.0
    bake_min_requests: float = 20.0  # client-side requests in the bake window to judge it
    error_ratio_factor: float = 2.0  # 5xx ratio breach: above baseline times factor …
    error_ratio_margin: float = 0.01  # … and above baseline + 1 percentage point
    p99_factor: float = 1.5
    p99_margin_ms: float = 25.0
    connection_failure_margin: float = 5.0  # failures in the window above the baseline's
    ignored_namespaces: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class PeerAuth:
    """One PeerAuthentication, reduced to what decides the effective mode."""

    namespace: str
    name: str
    mode: str  # one of MODES; UNSET when the spec leaves it out
    selector: tuple[tuple[str, str], ...] = ()
    port_modes: tuple[tuple[str, str], ...] = ()
    created: str = ""

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def selector_text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.selector)


@dataclass(frozen=True)
class Effective:
    """The mode a namespace gets, where it comes from, and what overrides it."""

    namespace: str
    mode: str
    source: str
    namespace_policy: PeerAuth | None = None
    mesh_policy: PeerAuth | None = None
    workload_policies: tuple[PeerAuth, ...] = ()
    conflicts: tuple[str, ...] = ()

    def workload_mode(self, policy: PeerAuth) -> str:
        """What a workload policy's pods get outside its port-level overrides."""
        return self.mode if policy.mode == "UNSET" else policy.mode

    def describe(self, policy: PeerAuth) -> str:
        """A workload policy as a user needs it: the mode its pods get and, port by
        port, what stays different (`port 8080 stays PERMISSIVE`)."""
        mode = f"mode UNSET (inherits {self.mode})" if policy.mode == "UNSET" else f"{policy.mode}"
        ports = [
            f"port {port} stays {self.workload_mode(policy) if m == 'UNSET' else m}"
            for port, m in policy.port_modes
        ]
        return f"workload policy {policy.label} ({policy.selector_text}): " + "; ".join(
            [mode, *ports]
        )

    def kept_off(self, target: str) -> list[str]:
        """Workload and port-level policies that keep some pods off `target` mode once
        the namespace is at `target` (UNSET inherits it, so it keeps nothing off)."""
        lines = []
        for policy in self.workload_policies:
            if policy.mode not in ("UNSET", target):
                lines.append(
                    f"workload PeerAuthentication {policy.label} ({policy.selector_text}) "
                    f"keeps {policy.mode} for those pods"
                )
            for port, mode in policy.port_modes:
                if mode not in ("UNSET", target):
                    lines.append(
                        f"PeerAuthentication {policy.label} ({policy.selector_text}) "
                        f"keeps port {port} {mode}"
                    )
        return lines


@dataclass(frozen=True)
class Coverage:
    pods: int
    without_sidecar: tuple[str, ...]


@dataclass(frozen=True)
class PlaintextEdge:
    source: str  # namespace/workload, or "outside the mesh"
    destination: str  # namespace/workload
    requests: float
    connections: float


@dataclass(frozen=True)
class Traffic:
    """Traffic into one namespace over the readiness window; `error` when unknown.
    `history`: how much of the window the namespace's series cover (None: not asked)."""

    total: float | None
    plaintext: tuple[PlaintextEdge, ...] = ()
    error: str | None = None
    history: History | None = None


@dataclass(frozen=True)
class NamespaceMtls:
    namespace: str
    effective: Effective
    coverage: Coverage
    traffic: Traffic
    gates: tuple[Gate, ...]

    @property
    def ready(self) -> bool:
        return all(g.status is GateStatus.PASS for g in self.gates)

    @property
    def verdict(self) -> str:
        if self.effective.mode == "STRICT":
            kept = self.effective.kept_off("STRICT")
            return "already STRICT" + (f", except: {'; '.join(kept)}" if kept else "")
        if self.ready:
            return "ready for STRICT"
        reasons = "; ".join(
            f"{g.name}: {g.detail}" for g in self.gates if g.status is not GateStatus.PASS
        )
        return f"not ready: {reasons}"


@dataclass(frozen=True)
class MtlsStatus(Result):
    """`/mesh mtls status`: per namespace, mode, coverage, plaintext and verdict."""

    cluster: str
    window_s: float
    namespaces: tuple[NamespaceMtls, ...]
    mesh_mode: str = ISTIO_DEFAULT_MODE
    notes: tuple[str, ...] = field(default_factory=tuple)
