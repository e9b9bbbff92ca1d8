"""`/mesh mtls status|strict|permissive`: PERMISSIVE → STRICT driven by live traffic.

The status command gathers three facts per namespace (effective PeerAuthentication
mode, sidecar coverage, plaintext over the readiness window) and gives a verdict.
`strict` turns the same facts into gates on a PeerAuthentication change proposed
through the change pipeline, so it is approved in Slack, applied with drift checks,
baked against the traffic before it, and can be rolled back. `permissive` is the
reverse change through the same pipeline.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from commands.changes.commands import pick_cluster
from commands.changes.diffs import normalized
from commands.changes.hooks import ChangesKit
from commands.changes.model import Gate, GateStatus, ObjectChange, ObjectRef, Proposal, Risk
from commands.changes.pipeline import Pipeline
from commands.core.errors import MetricsUnavailable
from commands.core.model import Failure, Result, Role, Text, UsageError
from commands.core.ports import Cluster, Metrics, Services
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from commands.mtls.model import (
    MtlsSettings,
    MtlsStatus,
    NamespaceMtls,
    PeerAuth,
    PlaintextEdge,
    Traffic,
)
from commands.mtls.policy import (
    coverage,
    effective_mode,
    is_meshed,
    mesh_mode,
    overrides_against,
    peer_auth,
)
from commands.mtls.queries import (
    NAMESPACE,
    inbound_connections,
    inbound_requests,
    plaintext_connections,
    plaintext_requests,
)

JSON = Any
SECURITY_GROUP = "security.istio.io"
PREFERRED_VERSIONS = ("v1", "v1beta1")
KIND_STRICT = "mtls-strict"
KIND_PERMISSIVE = "mtls-permissive"
MANAGED_BY = {"app.kubernetes.io/managed-by": "meshbot"}
PLAINTEXT_EPSILON = 0.5  # increase() extrapolates; under half a request is no request


def mtls_settings(services: Services) -> MtlsSettings:
    return services.kit(MtlsSettings)


@dataclass(frozen=True)
class Facts:
    """Everything read from one cluster for a set of namespaces."""

    api_version: str
    policies: tuple[PeerAuth, ...]
    raw_policies: tuple[JSON, ...]
    reports: tuple[NamespaceMtls, ...]
    mesh_mode: str


def pa_api_version(cluster: Cluster) -> str | Failure:
    served = cluster.served_versions(SECURITY_GROUP)
    for version in PREFERRED_VERSIONS:
        if version in served:
            return f"{SECURITY_GROUP}/{version}"
    return Failure(
        f"cluster {cluster.name} does not serve {SECURITY_GROUP} v1 or v1beta1 "
        "(PeerAuthentication): is Istio installed?"
    )


def gather(
    services: Services, cluster_name: str, namespaces: Sequence[str] | None, settings: MtlsSettings
) -> Facts | Result:
    """Read policies, pods and traffic. `namespaces=None`: every meshed namespace."""
    cluster = services.clusters[cluster_name]
    api_version = pa_api_version(cluster)
    if isinstance(api_version, Failure):
        return api_version
    raw = tuple(cluster.list_objects(api_version, "peerauthentications"))
    policies = tuple(peer_auth(o) for o in raw)
    all_ns = {
        str((n.get("metadata") or {}).get("name")): n
        for n in cluster.list_objects("v1", "namespaces")
    }
    if namespaces is not None:
        unknown = [n for n in namespaces if n not in all_ns]
        if unknown:
            return UsageError(
                f"namespace `{unknown[0]}` does not exist in cluster {cluster_name}",
                usage="/mesh mtls status namespace=NS",
            )
    single = namespaces[0] if namespaces is not None and len(namespaces) == 1 else None
    pods = cluster.list_objects("v1", "pods", namespace=single)
    pods_by_ns: dict[str, list[JSON]] = {}
    for pod in pods:
        pods_by_ns.setdefault(str((pod.get("metadata") or {}).get("namespace")), []).append(pod)
    if namespaces is None:
        chosen = sorted(
            n
            for n, obj in all_ns.items()
            if n not in settings.ignored_namespaces
            and n != settings.root_namespace
            and is_meshed(obj, pods_by_ns.get(n, []))
        )
    else:
        chosen = list(namespaces)
    traffic = read_traffic(services.metrics.get(cluster_name), settings, single)
    reports = tuple(
        namespace_report(
            n, policies, pods_by_ns.get(n, []), traffic.get(n, _empty(traffic)), settings
        )
        for n in chosen
    )
    return Facts(api_version, policies, raw, reports, mesh_mode(policies, settings.root_namespace))


def _empty(traffic: dict[str, Traffic]) -> Traffic:
    error = next((t.error for t in traffic.values() if t.error), None)
    return Traffic(None if error else 0.0, (), error)


def read_traffic(
    metrics: Metrics | None, settings: MtlsSettings, namespace: str | None
) -> dict[str, Traffic]:
    """Per destination namespace: inbound requests + connections and plaintext edges."""
    if metrics is None:
        return {"": Traffic(None, (), "no Prometheus is configured for this cluster")}
    window = settings.readiness_window_s
    try:
        totals: dict[str, float] = {}
        for query in (inbound_requests(window, namespace), inbound_connections(window, namespace)):
            for s in metrics.query(query):
                ns = s.labels.get("destination_workload_namespace", "")
                totals[ns] = totals.get(ns, 0.0) + s.value
        edges: dict[tuple[str, str], list[float]] = {}
        for index, query in enumerate(
            (plaintext_requests(window, namespace), plaintext_connections(window, namespace))
        ):
            for s in metrics.query(query):
                if s.value < PLAINTEXT_EPSILON:
                    continue
                src_ns = s.labels.get("source_workload_namespace", "unknown")
                src = s.labels.get("source_workload", "unknown")
                source = "outside the mesh" if src == "unknown" else f"{src_ns}/{src}"
                dest = (
                    f"{s.labels.get('destination_workload_namespace', '?')}/"
                    f"{s.labels.get('destination_workload', '?')}"
                )
                edges.setdefault((source, dest), [0.0, 0.0])[index] += s.value
    except MetricsUnavailable as exc:
        return {"": Traffic(None, (), f"cannot read Prometheus: {exc}")}
    result: dict[str, Traffic] = {}
    for ns in set(totals) | {d.split("/")[0] for _, d in edges}:
        plain = tuple(
            PlaintextEdge(src, dest, counts[0], counts[1])
            for (src, dest), counts in sorted(edges.items())
            if dest.split("/")[0] == ns
        )
        result[ns] = Traffic(totals.get(ns, 0.0), plain)
    return result


def namespace_report(
    namespace: str,
    policies: Sequence[PeerAuth],
    pods: Sequence[JSON],
    traffic: Traffic,
    settings: MtlsSettings,
) -> NamespaceMtls:
    effective = effective_mode(policies, namespace, settings.root_namespace)
    cover = coverage(pods)
    return NamespaceMtls(
        namespace, effective, cover, traffic, gates(effective, cover, traffic, settings)
    )


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def gates(effective: Any, cover: Any, traffic: Traffic, settings: MtlsSettings) -> tuple[Gate, ...]:
    window = _hours(settings.readiness_window_s)
    if effective.conflicts:
        policy = Gate("policy", GateStatus.FAIL, "; ".join(effective.conflicts))
    else:
        policy = Gate("policy", GateStatus.PASS, f"{effective.mode} from {effective.source}")
    if cover.without_sidecar:
        names = ", ".join(cover.without_sidecar[:5])
        more = (
            f" and {len(cover.without_sidecar) - 5} more" if len(cover.without_sidecar) > 5 else ""
        )
        sidecars = Gate(
            "sidecars",
            GateStatus.FAIL,
            f"{len(cover.without_sidecar)} of {cover.pods} pods have no istio-proxy: {names}{more}",
        )
    else:
        sidecars = Gate("sidecars", GateStatus.PASS, f"all {cover.pods} pods have istio-proxy")
    if traffic.error or traffic.total is None:
        plain = Gate("plaintext", GateStatus.UNKNOWN, traffic.error or "no traffic data")
    elif traffic.plaintext:
        requests = sum(e.requests for e in traffic.plaintext)
        conns = sum(e.connections for e in traffic.plaintext)
        worst = ", ".join(f"{e.source} → {e.destination}" for e in traffic.plaintext[:5])
        plain = Gate(
            "plaintext",
            GateStatus.FAIL,
            f"{requests:.0f} plaintext requests and {conns:.0f} connections in the last {window}: "
            f"{worst}",
        )
    elif traffic.total < settings.min_requests:
        plain = Gate(
            "plaintext",
            GateStatus.UNKNOWN,
            f"not enough traffic to judge: {traffic.total:.0f} requests and connections in the "
            f"last {window}, need at least {settings.min_requests:.0f}",
        )
    else:
        plain = Gate(
            "plaintext",
            GateStatus.PASS,
            f"no plaintext among {traffic.total:.0f} requests and connections in the last {window}",
        )
    return (policy, sidecars, plain)


# ---- commands ---------------------------------------------------------------------------


def _scope(args: Args) -> str | UsageError | None:
    """`namespace=NS` → NS, `mesh` or `namespace=mesh` → None (mesh-wide)."""
    namespace = args.get("namespace")
    if args.get("scope") == "mesh" or namespace == "mesh":
        if namespace not in (None, "mesh"):
            return UsageError("give either `mesh` or namespace=NS, not both")
        return None
    if not namespace:
        return UsageError("say which namespace: namespace=NS (or `mesh` for mesh-wide)")
    if not NAMESPACE.match(namespace):
        return UsageError(f"`{namespace}` is not a valid namespace name")
    return str(namespace)


def _status(ctx: Context, args: Args) -> Result:
    cluster = pick_cluster(ctx, args)
    if not isinstance(cluster, str):
        return cluster
    settings = mtls_settings(ctx.services)
    namespace = args.get("namespace")
    if namespace and namespace != "all" and not NAMESPACE.match(namespace):
        return UsageError(f"`{namespace}` is not a valid namespace name")
    wanted = None if namespace in (None, "all") else [namespace]
    facts = gather(ctx.services, cluster, wanted, settings)
    if not isinstance(facts, Facts):
        return facts
    notes: tuple[str, ...] = ()
    if not facts.reports:
        notes = ("No meshed namespace found (no injection label, no pod with istio-proxy).",)
    return MtlsStatus(cluster, settings.readiness_window_s, facts.reports, facts.mesh_mode, notes)


def _pa_ref(api_version: str, namespace: str, name: str) -> ObjectRef:
    return ObjectRef(api_version, "PeerAuthentication", "peerauthentications", name, namespace)


def _desired(
    api_version: str,
    raw_policies: Sequence[JSON],
    existing: PeerAuth | None,
    namespace: str,
    mode: str,
) -> tuple[ObjectRef, JSON]:
    if existing is not None:
        live = next(
            o
            for o in raw_policies
            if (o.get("metadata") or {}).get("namespace") == existing.namespace
            and (o.get("metadata") or {}).get("name") == existing.name
        )
        desired: JSON = copy.deepcopy(normalized(live)) or {}
        desired["apiVersion"] = api_version
        desired.setdefault("spec", {}).setdefault("mtls", {})["mode"] = mode
        return _pa_ref(api_version, existing.namespace, existing.name), desired
    desired = {
        "apiVersion": api_version,
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": {"mtls": {"mode": mode}},
    }
    return _pa_ref(api_version, namespace, "default"), desired


def _propose_mode(ctx: Context, args: Args, mode: str) -> Result:
    cluster = pick_cluster(ctx, args)
    if not isinstance(cluster, str):
        return cluster
    scope = _scope(args)
    if isinstance(scope, UsageError):
        return scope
    settings = mtls_settings(ctx.services)
    facts = gather(ctx.services, cluster, None if scope is None else [scope], settings)
    if not isinstance(facts, Facts):
        return facts
    if scope is None:
        return _propose_mesh(ctx, cluster, facts, settings, mode)
    report = facts.reports[0]
    effective = report.effective
    if effective.conflicts:
        return Failure(
            f"Not proposing: {'; '.join(effective.conflicts)}. Istio would use the oldest one; "
            "meshbot does not guess which you meant. Remove or merge them, then try again."
        )
    if effective.mode == mode and (effective.namespace_policy is not None or mode == "PERMISSIVE"):
        return Text(f"Namespace {scope} is already {mode} ({effective.source}); nothing to change")
    ref, desired = _desired(
        facts.api_version, facts.raw_policies, effective.namespace_policy, scope, mode
    )
    if mode == "STRICT":
        gates_ = report.gates
        risks = (
            *tuple(Risk(line) for line in overrides_against(effective, "STRICT")),
            Risk(f"clients without a sidecar can no longer reach services in {scope}"),
        )
        kind = KIND_STRICT
    else:
        gates_ = ()
        risks = (Risk(f"services in {scope} accept plaintext again", "info"),)
        kind = KIND_PERMISSIVE
    proposal = Proposal(
        kind=kind,
        cluster=cluster,
        title=f"mTLS {mode} for namespace {scope}",
        objects=(ObjectChange(ref, desired),),
        gates=gates_,
        risks=risks,
        summary=(f"now: {effective.mode} from {effective.source}", f"verdict: {report.verdict}"),
        verify={"namespaces": [scope]},
    )
    return Pipeline(ctx.services).propose(proposal, ctx.caller)


def _propose_mesh(
    ctx: Context, cluster: str, facts: Facts, settings: MtlsSettings, mode: str
) -> Result:
    root = settings.root_namespace
    mesh = [p for p in facts.policies if p.namespace == root and not p.selector]
    if len(mesh) > 1:
        return Failure(
            "Not proposing: several mesh-wide PeerAuthentications: "
            + ", ".join(p.label for p in mesh)
            + ". meshbot does not guess which you meant; keep one."
        )
    if facts.mesh_mode == mode and mesh:
        return Text(f"The mesh is already {mode}; nothing to change")
    ref, desired = _desired(
        facts.api_version, facts.raw_policies, mesh[0] if mesh else None, root, mode
    )
    if mode == "STRICT":
        not_ready = [r for r in facts.reports if not r.ready and r.effective.mode != "STRICT"]
        if not facts.reports:
            gate = Gate(
                "every meshed namespace ready", GateStatus.UNKNOWN, "no meshed namespace found"
            )
        elif not_ready:
            gate = Gate(
                "every meshed namespace ready",
                GateStatus.FAIL,
                "; ".join(f"{r.namespace}: {r.verdict}" for r in not_ready[:8]),
            )
        else:
            gate = Gate(
                "every meshed namespace ready",
                GateStatus.PASS,
                f"{len(facts.reports)} meshed namespaces ready or already STRICT",
            )
        gates_: tuple[Gate, ...] = (gate,)
        risks = (
            *tuple(
                Risk(f"{r.namespace}: {line}")
                for r in facts.reports
                for line in overrides_against(r.effective, "STRICT")
            ),
            Risk("every workload without a sidecar loses access to meshed services"),
        )
        kind = KIND_STRICT
    else:
        gates_, risks, kind = (
            (),
            (Risk("the whole mesh accepts plaintext again", "info"),),
            KIND_PERMISSIVE,
        )
    proposal = Proposal(
        kind=kind,
        cluster=cluster,
        title=f"mTLS {mode} mesh-wide",
        objects=(ObjectChange(ref, desired),),
        gates=gates_,
        risks=risks,
        summary=(f"now: mesh {facts.mesh_mode}", f"{len(facts.reports)} meshed namespaces"),
        verify={"namespaces": ["*"]},
    )
    return Pipeline(ctx.services).propose(proposal, ctx.caller)


def _strict(ctx: Context, args: Args) -> Result:
    return _propose_mode(ctx, args, "STRICT")


def _permissive(ctx: Context, args: Args) -> Result:
    return _propose_mode(ctx, args, "PERMISSIVE")


CLUSTER = Param("cluster", "the cluster (default: the only configured one)", placeholder="NAME")
SCOPE = Param("scope", "`mesh` for mesh-wide", choices=("mesh",))
NAMESPACE_OPT = Param("namespace", "the namespace", placeholder="NS")


def register(registry: Registry) -> None:
    registry.register_all(
        [
            CommandSpec(
                "mtls status",
                "Per namespace: effective mTLS mode, sidecar coverage, plaintext traffic, verdict",
                _status,
                needs=(ChangesKit, MtlsSettings),
                options=(Param("namespace", "a namespace, or all", placeholder="NS|all"), CLUSTER),
            ),
            CommandSpec(
                "mtls strict",
                "Propose STRICT mTLS for a namespace (or `mesh`), gated on live traffic",
                _strict,
                needs=(ChangesKit, MtlsSettings),
                role=Role.OPERATOR,
                changes_state=True,
                positionals=(SCOPE,),
                options=(NAMESPACE_OPT, CLUSTER),
                details="Gates: every pod has a sidecar; no plaintext for the readiness window "
                "with enough traffic seen. An approver may override a failed gate with a reason.",
            ),
            CommandSpec(
                "mtls permissive",
                "Propose PERMISSIVE mTLS for a namespace (or `mesh`): the way back",
                _permissive,
                needs=(ChangesKit, MtlsSettings),
                role=Role.OPERATOR,
                changes_state=True,
                positionals=(SCOPE,),
                options=(NAMESPACE_OPT, CLUSTER),
            ),
        ]
    )
