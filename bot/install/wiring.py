"""What the staged install takes from the rest of the bot: preflight, Helm, its hooks.

Why this exists: the install core may not import another capability, yet it must run
preflight first and size istiod from preflight's advice. This bridge, at the edge, runs
the preflight capability and hands the core only what it needs (gates, the sizing
overlay). `register_hooks` plugs the install's change kinds into the change pipeline:
Helm releases for the control plane and retire stages, ordered object writes for waves,
and each kind's verifier.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.adapters.helm import HelmFromConfig
from bot.adapters.kube import KubeCluster
from bot.core.settings import ClusterConfig
from commands.changes.hooks import ChangeHooks
from commands.changes.model import Gate, GateStatus
from commands.core.model import Failure, UsageError
from commands.core.ports import Services
from commands.install.model import KIND_CONTROL_PLANE, KIND_RETIRE, KIND_WAVE, InstallSettings
from commands.install.ports import HelmClients, PreflightOutcome
from commands.install.releases import HelmReleases
from commands.install.verify import ControlPlaneVerifier, WaveVerifier
from commands.install.waves import WaveWrites
from commands.preflight.commands import run_preflight, settings_of
from commands.preflight.model import PreflightReport, Status
from commands.preflight.releases import find_release, known_versions

MAX_GATES = 8


class PreflightBridge:
    """The install's `PreflightRunner`: the preflight capability, over every namespace."""

    def run(self, services: Services, cluster: str, version: str) -> PreflightOutcome | str:
        settings = settings_of(services)
        if find_release(version) is None:
            return f"preflight does not know Istio {version} (it knows {known_versions()})"
        report = run_preflight(services, cluster, version, settings.default_profile, (), settings)
        if isinstance(report, Failure):
            return report.message
        if isinstance(report, UsageError):
            return report.problem
        if not isinstance(report, PreflightReport):
            return "preflight gave no report"
        return outcome_of(report)


def outcome_of(report: PreflightReport) -> PreflightOutcome:
    failed = [c for c in report.checks if c.status is Status.FAIL]
    gates = [
        Gate(
            f"preflight {c.id}", GateStatus.FAIL, f"{c.subject.kind} {c.subject.name}: {c.message}"
        )
        for c in failed[:MAX_GATES]
    ]
    if len(failed) > MAX_GATES:
        gates.append(
            Gate(
                "preflight (more)",
                GateStatus.FAIL,
                f"{len(failed) - MAX_GATES} more failed checks: run /mesh preflight to see them",
            )
        )
    if not gates:
        counts = report.summary
        gates.append(
            Gate(
                "preflight",
                GateStatus.PASS,
                f"{report.verdict}: {counts['pass']} passed, {counts['warn']} warnings, "
                f"{counts['unknown']} unknown",
            )
        )
    overlay = (report.recommendation or {}).get("istio_operator") or {}
    return PreflightOutcome(tuple(gates), overlay, report.verdict)


def register_hooks(hooks: ChangeHooks, settings: InstallSettings, helm: HelmClients) -> None:
    releases = HelmReleases(helm, settings.helm_timeout_s)
    hooks.register_applier(KIND_CONTROL_PLANE, releases)
    hooks.register_applier(KIND_RETIRE, releases)
    hooks.register_applier(KIND_WAVE, WaveWrites())
    hooks.register_verifier(KIND_CONTROL_PLANE, ControlPlaneVerifier(settings))
    hooks.register_verifier(KIND_WAVE, WaveVerifier(settings))


def helm_clients(
    clusters: Mapping[str, ClusterConfig], kube: Mapping[str, KubeCluster]
) -> HelmFromConfig:
    """The Helm adapter for the configured clusters, on the same kube clients. Helm loads
    on first use, so a meshbot without the `install` extra starts, and an install then
    says what to install (HelmUnavailable)."""
    return HelmFromConfig(clusters, kube=kube)
