"""`/mesh preflight`: is this cluster, node by node, ready for the mesh? With sizing advice.

Reads everything once (lists paged by the adapter, three PromQL queries for all nodes),
in parallel, then runs pure checks over the data. Only an unreachable API server stops
the preflight; a list we may not read or Prometheus being down makes the checks that
needed it `unknown` with the reason, and the rest still run. Read-only: viewer is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from commands.core.clusters import pick_cluster
from commands.core.model import Failure, Result, Role, UsageError
from commands.core.ports import Services
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from commands.preflight.checks_cluster import (
    control_plane,
    gateway_api,
    injection_labels,
    install_permissions,
    kubernetes_version,
    unknown,
)
from commands.preflight.checks_nodes import headroom, node_checks
from commands.preflight.checks_workloads import pod_checks, pod_security, service_protocols
from commands.preflight.model import (
    CheckResult,
    NamespaceInfo,
    PreflightReport,
    PreflightSettings,
    Subject,
)
from commands.preflight.ports import ClusterInventory
from commands.preflight.queries import NodeMetrics
from commands.preflight.reads import ClusterReads, read_cluster
from commands.preflight.releases import PROFILES, find_release, known_versions
from commands.preflight.sizing import Sizing, recommend


def settings_of(services: Services) -> PreflightSettings:
    return services.kit(PreflightSettings)


def _run(ctx: Context, args: Args) -> Result:
    services = ctx.services
    settings = settings_of(services)
    chosen = pick_cluster(services, args.get("cluster"), ctx.caller)
    if not isinstance(chosen, str):
        return chosen
    version = args.get("istio") or settings.default_istio
    release = find_release(version)
    if release is None:
        return UsageError(f"unknown Istio version `{version}` (known: {known_versions()})")
    profile = args.get("profile") or settings.default_profile
    wanted_ns: tuple[str, ...] = args.get("namespace", ())
    return run_preflight(services, chosen, release.version, profile, wanted_ns, settings)


def run_preflight(
    services: Services,
    cluster_name: str,
    istio: str,
    profile: str,
    wanted_ns: Sequence[str],
    settings: PreflightSettings,
) -> Result:
    release = find_release(istio)
    assert release is not None
    now = services.clock.now()
    reads = read_cluster(services, cluster_name, settings, now)
    if isinstance(reads, Failure):
        return reads
    scope, scope_error = _scope(reads.namespaces.value, wanted_ns, settings)
    if scope_error is not None:
        return scope_error
    meshed = {ns.name for ns in scope}
    sizing = _sizing(reads, meshed, profile, settings)
    checks = _cluster_checks(cluster_name, reads, release, scope)
    checks += _node_checks(cluster_name, reads, meshed, sizing, settings)
    with_cni = profile == "ambient" or _cni_enabled(sizing.istio_operator)
    checks += _workload_checks(cluster_name, reads, scope, with_cni)
    return PreflightReport(
        cluster=cluster_name,
        istio=release.version,
        profile=profile,
        generated_at=datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        checks=tuple(checks),
        recommendation={"istio_operator": sizing.istio_operator, "reasons": list(sizing.reasons)},
        notes=tuple(_notes(reads.metrics)),
    )


def _sizing(
    reads: ClusterReads, meshed: set[str], profile: str, settings: PreflightSettings
) -> Sizing:
    """Advice sized by the pods that will get a sidecar (not already meshed, not hostNetwork)."""
    pods = reads.pods.value or ()
    to_mesh = sum(
        1 for p in pods if p.namespace in meshed and not p.host_network and not p.has_sidecar
    )
    return recommend(
        reads.nodes.value or (),
        pods,
        to_mesh,
        len(reads.services.value or ()),
        profile,
        settings.base_overlay,
    )


def _node_checks(
    cluster_name: str,
    reads: ClusterReads,
    meshed: set[str],
    sizing: Sizing,
    settings: PreflightSettings,
) -> list[CheckResult]:
    """Each node's checks, and whether the proxies fit next to what already runs there."""
    subject = Subject("Cluster", cluster_name)
    nodes, pods = reads.nodes, reads.pods
    if nodes.value is None:
        return [unknown("node.*", subject, "cannot list nodes", nodes.reason or "")]
    checks = node_checks(nodes.value, reads.metrics, settings)
    if pods.value is None:
        checks.append(unknown("node.headroom", subject, "cannot list pods", pods.reason or ""))
        return checks
    return checks + headroom(
        nodes.value,
        pods.value,
        meshed,
        (sizing.proxy_cpu_m, sizing.proxy_mem),
        (sizing.per_node_cpu_m, sizing.per_node_mem),
        settings,
    )


def _workload_checks(
    cluster_name: str, reads: ClusterReads, scope: Sequence[NamespaceInfo], with_cni: bool
) -> list[CheckResult]:
    """Pod Security, the pods and the Service ports of the namespaces to be meshed."""
    subject = Subject("Cluster", cluster_name)
    checks = pod_security(scope, with_cni)
    pods, svcs = reads.pods, reads.services
    if pods.value is None:
        checks.append(unknown("pod.*", subject, "cannot list pods", pods.reason or ""))
    else:
        checks += pod_checks(pods.value, scope)
    if svcs.value is None:
        checks.append(
            unknown("service.protocol", subject, "cannot list services", svcs.reason or "")
        )
    else:
        checks += service_protocols(svcs.value, scope)
    return checks


def _notes(metrics: NodeMetrics) -> list[str]:
    notes = []
    if metrics.error:
        notes.append(f"steal time and Prometheus CPU flags unknown: {metrics.error}")
    if metrics.unmapped:
        shown = ", ".join(metrics.unmapped[:5])
        notes.append(
            f"{len(metrics.unmapped)} Prometheus instances map to no node ({shown}…): set "
            "preflight.node_label or preflight.instance_to_node"
        )
    return notes


def _cni_enabled(overlay: Mapping[str, Any]) -> bool:
    cni = overlay.get("spec", {}).get("components", {}).get("cni") or {}
    return bool(cni.get("enabled"))


def _scope(
    namespaces: Sequence[NamespaceInfo] | None, wanted: Sequence[str], settings: PreflightSettings
) -> tuple[list[NamespaceInfo], UsageError | None]:
    """The namespaces to be meshed: those named, else every non-system one not opted out."""
    if namespaces is None:
        return [], None
    if wanted:
        by_name = {ns.name: ns for ns in namespaces}
        missing = [name for name in wanted if name not in by_name]
        if missing:
            return [], UsageError(
                f"no namespace {', '.join(missing)} in this cluster",
                usage="/mesh preflight namespace=NS …",
            )
        return [by_name[name] for name in wanted], None
    return [
        ns
        for ns in namespaces
        if ns.name not in settings.system_namespaces
        and ns.labels.get("istio-injection") != "disabled"
    ], None


def _cluster_checks(
    cluster: str, reads: ClusterReads, release: Any, scope: Sequence[NamespaceInfo]
) -> list[CheckResult]:
    subject = Subject("Cluster", cluster)
    access, plane, crds, nss = reads.access, reads.plane, reads.crds, reads.namespaces
    checks = [kubernetes_version(cluster, reads.server, release)]
    checks.append(
        install_permissions(cluster, access.value)
        if access.value is not None
        else unknown(
            "cluster.install-permissions", subject, "cannot review access", access.reason or ""
        )
    )
    checks.append(
        control_plane(cluster, plane.value, release)
        if plane.value is not None
        else unknown(
            "cluster.control-plane", subject, "cannot read the control plane", plane.reason or ""
        )
    )
    checks.append(
        gateway_api(cluster, crds.value)
        if crds.value is not None
        else unknown("cluster.gateway-api", subject, "cannot read CRDs", crds.reason or "")
    )
    if nss.value is None:
        checks.append(unknown("namespace.*", subject, "cannot list namespaces", nss.reason or ""))
    else:
        checks += injection_labels(nss.value, plane.value)
    return checks


DETAILS = (
    "Checks the Kubernetes version, install permissions, an existing control plane, Gateway "
    "API CRDs; every node's CPU flags (AES-NI/AVX2), steal time over the last hour, headroom "
    "for the proxies, kernel, architecture, runtime and conditions; and the workloads in the "
    "namespaces to be meshed. Ends with an IstioOperator overlay sized for this cluster. "
    "Read-only."
)


def register(registry: Registry) -> None:
    registry.register(
        CommandSpec(
            "preflight",
            "Check a cluster's nodes and workloads before installing Istio, with sizing advice",
            _run,
            needs=(PreflightSettings,),
            cluster_needs=(ClusterInventory,),
            role=Role.VIEWER,
            options=(
                Param("cluster", "a configured cluster", placeholder="NAME"),
                Param("istio", f"Istio release ({known_versions()})", placeholder="1.30"),
                Param("profile", "install profile", choices=PROFILES),
                Param("namespace", "namespaces to be meshed", repeated=True, placeholder="NS"),
            ),
            details=DETAILS,
        )
    )
