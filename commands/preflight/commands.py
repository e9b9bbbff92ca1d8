"""`/mesh preflight`: is this cluster, node by node, ready for the mesh? With sizing advice.

Reads everything once (lists paged by the adapter, three PromQL queries for all nodes),
in parallel, then runs pure checks over the data. Only an unreachable API server stops
the preflight; a list we may not read or Prometheus being down makes the checks that
needed it `unknown` with the reason, and the rest still run. Read-only: viewer is enough.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from commands.core.clusters import pick_cluster
from commands.core.deadline import carried, current
from commands.core.errors import ClusterUnavailable, DeadlineExceeded
from commands.core.model import Failure, Result, Role, UsageError
from commands.core.ports import Cluster, Services
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from commands.preflight.checks_cluster import (
    GATEWAY_CRDS,
    PERMISSIONS,
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
    InventoryForbidden,
    NamespaceInfo,
    PreflightReport,
    PreflightSettings,
    Subject,
)
from commands.preflight.ports import ClusterInventory, inventory_of
from commands.preflight.queries import NodeMetrics, fetch
from commands.preflight.releases import PROFILES, find_release, known_versions
from commands.preflight.sizing import recommend

T = TypeVar("T")


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """A read that may have been refused: the value, or why there is none."""

    value: T | None
    reason: str | None = None


def _read(read: Callable[[], T]) -> Fetched[T]:
    try:
        return Fetched(read())
    except (InventoryForbidden, DeadlineExceeded) as exc:
        return Fetched(None, str(exc))


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
    cluster: Cluster = services.clusters[cluster_name]
    inventory = inventory_of(cluster)
    now = services.clock.now()
    try:
        server = cluster.server_version()
    except InventoryForbidden as exc:
        server = f"unknown ({exc})"
    except ClusterUnavailable as exc:
        return Failure(f"preflight of {cluster_name} stopped: {exc}")
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="preflight") as pool:
        f_nodes = pool.submit(carried(_read), inventory.list_nodes)
        f_pods = pool.submit(carried(_read), inventory.list_pods)
        f_ns = pool.submit(carried(_read), inventory.list_namespaces)
        f_svc = pool.submit(carried(_read), inventory.list_services)
        f_access = pool.submit(carried(_read), lambda: inventory.review_access(PERMISSIONS))
        f_plane = pool.submit(carried(_read), inventory.istio_control_plane)
        f_crds = pool.submit(carried(_read), lambda: inventory.crd_served_versions(GATEWAY_CRDS))
        f_metrics = pool.submit(carried(fetch), services.metrics.get(cluster_name), settings, now)
        try:
            nodes, pods, nss, svcs = (
                f_nodes.result(),
                f_pods.result(),
                f_ns.result(),
                f_svc.result(),
            )
            access, plane, crds = f_access.result(), f_plane.result(), f_crds.result()
        except ClusterUnavailable as exc:
            return Failure(f"preflight of {cluster_name} stopped: {exc}")
        metrics: NodeMetrics = f_metrics.result()

    scope, scope_error = _scope(nss.value, wanted_ns, settings)
    if scope_error is not None:
        return scope_error
    checks = _cluster_checks(cluster_name, server, release, access, plane, crds, nss, scope)
    node_list = nodes.value or ()
    pod_list = pods.value or ()
    meshed = {ns.name for ns in scope}
    meshed_pods = sum(
        1 for p in pod_list if p.namespace in meshed and not p.host_network and not p.has_sidecar
    )
    sizing = recommend(
        node_list, pod_list, meshed_pods, len(svcs.value or ()), profile, settings.base_overlay
    )
    if nodes.value is None:
        checks.append(
            unknown(
                "node.*", Subject("Cluster", cluster_name), "cannot list nodes", nodes.reason or ""
            )
        )
    else:
        checks += node_checks(node_list, metrics, settings)
        if pods.value is None:
            checks.append(
                unknown(
                    "node.headroom",
                    Subject("Cluster", cluster_name),
                    "cannot list pods",
                    pods.reason or "",
                )
            )
        else:
            checks += headroom(
                node_list,
                pod_list,
                meshed,
                (sizing.proxy_cpu_m, sizing.proxy_mem),
                (sizing.per_node_cpu_m, sizing.per_node_mem),
                settings,
            )
    with_cni = profile == "ambient" or _cni_enabled(sizing.istio_operator)
    checks += pod_security(scope, with_cni)
    if pods.value is None:
        checks.append(
            unknown(
                "pod.*", Subject("Cluster", cluster_name), "cannot list pods", pods.reason or ""
            )
        )
    else:
        checks += pod_checks(pod_list, scope)
    if svcs.value is None:
        checks.append(
            unknown(
                "service.protocol",
                Subject("Cluster", cluster_name),
                "cannot list services",
                svcs.reason or "",
            )
        )
    else:
        checks += service_protocols(svcs.value, scope)
    notes = []
    budget = current()
    if budget is not None and budget.cuts:
        notes.append("not done, the command's deadline ran out: " + "; ".join(budget.cuts))
    if metrics.error:
        notes.append(f"steal time and Prometheus CPU flags unknown: {metrics.error}")
    if metrics.unmapped:
        shown = ", ".join(metrics.unmapped[:5])
        notes.append(
            f"{len(metrics.unmapped)} Prometheus instances map to no node ({shown}…): set "
            "preflight.node_label or preflight.instance_to_node"
        )
    return PreflightReport(
        cluster=cluster_name,
        istio=release.version,
        profile=profile,
        generated_at=datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        checks=tuple(checks),
        recommendation={"istio_operator": sizing.istio_operator, "reasons": list(sizing.reasons)},
        notes=tuple(notes),
    )


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
    cluster: str,
    server: str,
    release: Any,
    access: Fetched[Sequence[bool]],
    plane: Fetched[Any],
    crds: Fetched[Mapping[str, Sequence[str]]],
    nss: Fetched[Sequence[NamespaceInfo]],
    scope: Sequence[NamespaceInfo],
) -> list[CheckResult]:
    subject = Subject("Cluster", cluster)
    checks = [kubernetes_version(cluster, server, release)]
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
