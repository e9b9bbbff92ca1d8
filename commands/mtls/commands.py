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
from commands.core.model import Failure, Result, Role, Text, UsageError
from commands.core.names import namespace_or
from commands.core.ports import Cluster, Services
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from commands.core.wording import listing
from commands.mtls.model import (
    MtlsSettings,
    MtlsStatus,
    NamespaceMtls,
    PeerAuth,
)
from commands.mtls.policy import (
    is_meshed,
    mesh_mode,
    overrides_against,
    peer_auth,
)
from commands.mtls.readiness import empty_traffic, namespace_report, read_traffic

JSON = Any
SECURITY_GROUP = "security.istio.io"
PREFERRED_VERSIONS = ("v1", "v1beta1")
KIND_STRICT = "mtls-strict"
KIND_PERMISSIVE = "mtls-permissive"
MANAGED_BY = {"app.kubernetes.io/managed-by": "meshbot"}


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
                f"namespace `{unknown[0]}` does not exist in cluster {cluster_name} "
                f"(it has {listing(sorted(all_ns), shown=8)})"
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
    traffic = read_traffic(
        services.metrics.get(cluster_name), settings, single, services.clock.now()
    )
    reports = tuple(
        namespace_report(
            n, policies, pods_by_ns.get(n, []), traffic.get(n, empty_traffic(traffic)), settings
        )
        for n in chosen
    )
    return Facts(api_version, policies, raw, reports, mesh_mode(policies, settings.root_namespace))


# ---- commands ---------------------------------------------------------------------------


def _scope(args: Args) -> str | UsageError | None:
    """`namespace=NS` → NS, `mesh` or `namespace=mesh` → None (mesh-wide)."""
    namespace = args.get("namespace")
    if args.get("scope") == "mesh" or namespace == "mesh":
        if namespace not in (None, "mesh"):
            return UsageError("give either `mesh` or `namespace=`, not both")
        return None
    if not namespace:
        return UsageError("say which namespace with `namespace=` (or `mesh` for mesh-wide)")
    return str(namespace)


def _status(ctx: Context, args: Args) -> Result:
    cluster = pick_cluster(ctx, args)
    if not isinstance(cluster, str):
        return cluster
    settings = mtls_settings(ctx.services)
    namespace = args.get("namespace")
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
NAMESPACE_OPT = Param("namespace", "the namespace", placeholder="NS", convert=namespace_or("mesh"))


def register(registry: Registry) -> None:
    registry.register_all(
        [
            CommandSpec(
                "mtls status",
                "Per namespace: effective mTLS mode, sidecar coverage, plaintext traffic, verdict",
                _status,
                needs=(ChangesKit, MtlsSettings),
                options=(
                    Param(
                        "namespace",
                        "one namespace, or all meshed ones (the default)",
                        placeholder="NS|all",
                        convert=namespace_or("all"),
                    ),
                    CLUSTER,
                ),
                details="A namespace is ready for STRICT when its policy is understood, every "
                "pod has a sidecar and nothing arrived in plaintext over the readiness window "
                "(1 h by default) with enough traffic seen.",
                examples=("mtls status", "mtls status namespace=shop"),
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
                examples=("mtls strict namespace=shop", "mtls strict mesh"),
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
                examples=("mtls permissive namespace=shop",),
            ),
        ]
    )
