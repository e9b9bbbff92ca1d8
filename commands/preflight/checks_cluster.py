"""Cluster-level checks: what `istioctl x precheck` checks, and what installing would do.

Kubernetes version against the chosen release's supported range (the table in
commands.preflight.releases), install permissions by SelfSubjectAccessReview (the verbs
and resources precheck asks for), an existing control plane, Gateway API CRD versions
and the namespaces already labelled for injection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from commands.preflight.model import (
    AccessQuery,
    CheckResult,
    ControlPlane,
    NamespaceInfo,
    Status,
    Subject,
)
from commands.preflight.releases import IstioRelease, minor_of

ISTIO_NS = "istio-system"
PERMISSIONS: tuple[AccessQuery, ...] = (
    AccessQuery("create", "namespaces"),
    AccessQuery("create", "clusterroles", "rbac.authorization.k8s.io"),
    AccessQuery("create", "clusterrolebindings", "rbac.authorization.k8s.io"),
    AccessQuery("create", "customresourcedefinitions", "apiextensions.k8s.io"),
    AccessQuery("create", "mutatingwebhookconfigurations", "admissionregistration.k8s.io"),
    AccessQuery("create", "validatingwebhookconfigurations", "admissionregistration.k8s.io"),
    AccessQuery("create", "roles", "rbac.authorization.k8s.io", ISTIO_NS),
    AccessQuery("create", "serviceaccounts", "", ISTIO_NS),
    AccessQuery("create", "services", "", ISTIO_NS),
    AccessQuery("create", "deployments", "apps", ISTIO_NS),
    AccessQuery("create", "configmaps", "", ISTIO_NS),
)
GATEWAY_CRDS: tuple[str, ...] = (
    "gatewayclasses.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
    "httproutes.gateway.networking.k8s.io",
    "referencegrants.gateway.networking.k8s.io",
)


def _cluster(name: str) -> Subject:
    return Subject("Cluster", name)


def unknown(check_id: str, subject: Subject, what: str, reason: str) -> CheckResult:
    fix = (
        "grant the ClusterRole from the Helm chart (helm/meshbot, values `rbac.create`), "
        "see README 'Install in a cluster'"
        if "403" in reason or "may not" in reason
        else None
    )
    return CheckResult(
        check_id, Status.UNKNOWN, subject, f"{what}: {reason}", {"reason": reason}, fix
    )


def kubernetes_version(cluster: str, version: str, release: IstioRelease) -> CheckResult:
    found = minor_of(version)
    evidence = {
        "server": version,
        "supported": release.supported_range,
        "istioctl_minimum": f"1.{release.k8s_enforced_min[1]}",
    }
    subject = _cluster(cluster)
    if found is None:
        return CheckResult(
            "cluster.kubernetes-version",
            Status.UNKNOWN,
            subject,
            f"cannot read {version!r}",
            evidence,
        )
    shown = f"{found[0]}.{found[1]}"
    if found < release.k8s_enforced_min:
        return CheckResult(
            "cluster.kubernetes-version",
            Status.FAIL,
            subject,
            f"Kubernetes {shown} is below {evidence['istioctl_minimum']}, the minimum "
            f"Istio {release.version} installs on (IST0142)",
            evidence,
            f"upgrade the cluster to {release.supported_range}, or pick an older Istio",
        )
    if found < release.k8s_min or found > release.k8s_max:
        return CheckResult(
            "cluster.kubernetes-version",
            Status.WARN,
            subject,
            f"Kubernetes {shown} is outside Istio {release.version}'s supported range "
            f"{release.supported_range}",
            evidence,
            f"use a Kubernetes version in {release.supported_range}",
        )
    return CheckResult(
        "cluster.kubernetes-version",
        Status.PASS,
        subject,
        f"Kubernetes {shown} is supported by Istio {release.version} ({release.supported_range})",
        evidence,
    )


def install_permissions(cluster: str, answers: Sequence[bool]) -> CheckResult:
    denied = [q.label for q, ok in zip(PERMISSIONS, answers, strict=True) if not ok]
    evidence = {"checked": len(PERMISSIONS), "denied": denied}
    if denied:
        return CheckResult(
            "cluster.install-permissions",
            Status.FAIL,
            _cluster(cluster),
            f"the credentials used may not {'; '.join(denied)} (IST0141)",
            evidence,
            "install with cluster-admin, or grant these verbs to the installing identity",
        )
    return CheckResult(
        "cluster.install-permissions",
        Status.PASS,
        _cluster(cluster),
        f"all {len(PERMISSIONS)} install permissions granted",
        evidence,
    )


def control_plane(cluster: str, plane: ControlPlane, release: IstioRelease) -> CheckResult:
    subject = _cluster(cluster)
    revisions = [
        {
            "revision": r.revision,
            "namespace": r.namespace,
            "version": r.version,
            "ready": r.ready_replicas,
        }
        for r in plane.revisions
    ]
    evidence = {"revisions": revisions, "webhooks": list(plane.webhooks)}
    if not plane.revisions:
        if plane.webhooks:
            return CheckResult(
                "cluster.control-plane",
                Status.WARN,
                subject,
                f"no istiod, but Istio webhooks remain: {', '.join(plane.webhooks)}",
                evidence,
                "delete the leftover webhook configurations (they point at a missing istiod)",
            )
        return CheckResult(
            "cluster.control-plane",
            Status.PASS,
            subject,
            f"no Istio control plane: installing {release.version} is a fresh install",
            evidence,
        )
    target = minor_of(release.version)
    too_old = [
        r
        for r in plane.revisions
        if r.version and (m := minor_of(r.version)) and target and target[1] - m[1] > 2
    ]
    names = ", ".join(f"{r.revision} ({r.version or '?'})" for r in plane.revisions)
    if too_old:
        return CheckResult(
            "cluster.control-plane",
            Status.FAIL,
            subject,
            f"installed revisions {names}: more than two minor versions behind {release.version}, "
            "which no upgrade path supports",
            evidence,
            "upgrade through the intermediate releases first",
        )
    return CheckResult(
        "cluster.control-plane",
        Status.WARN,
        subject,
        f"Istio is already installed: {names}. Installing without --revision replaces the "
        "default revision in place",
        evidence,
        f"install {release.version} as a new revision (istioctl install --revision "
        f"{release.version.replace('.', '-')}) and move namespaces one at a time",
    )


def gateway_api(cluster: str, served: Mapping[str, Sequence[str]]) -> CheckResult:
    subject = _cluster(cluster)
    evidence = {name: list(versions) for name, versions in served.items()}
    if not served:
        return CheckResult(
            "cluster.gateway-api",
            Status.PASS,
            subject,
            "Gateway API CRDs not installed (Istio does not need them; install v1 to use them)",
            evidence,
        )
    no_beta = [n for n, v in served.items() if "v1beta1" not in v and "v1" not in v]
    no_v1 = [n for n, v in served.items() if "v1" not in v]
    if no_beta:
        return CheckResult(
            "cluster.gateway-api",
            Status.FAIL,
            subject,
            f"Gateway API CRDs serve neither v1beta1 nor v1: {', '.join(no_beta)} (IST0156)",
            evidence,
            "install the standard Gateway API CRDs v1.x",
        )
    if no_v1:
        return CheckResult(
            "cluster.gateway-api",
            Status.WARN,
            subject,
            f"Gateway API CRDs without v1: {', '.join(no_v1)} (IST0172)",
            evidence,
            "upgrade the Gateway API CRDs to v1.x",
        )
    return CheckResult(
        "cluster.gateway-api", Status.PASS, subject, "Gateway API CRDs serve v1", evidence
    )


def injection_labels(
    namespaces: Sequence[NamespaceInfo], plane: ControlPlane | None
) -> list[CheckResult]:
    results = []
    revisions = {r.revision for r in plane.revisions} if plane else None
    for ns in namespaces:
        injection = ns.labels.get("istio-injection")
        rev = ns.labels.get("istio.io/rev")
        if injection is None and rev is None:
            continue
        subject = Subject("Namespace", ns.name)
        evidence = {"istio-injection": injection, "istio.io/rev": rev}
        if injection == "enabled" and rev:
            results.append(
                CheckResult(
                    "namespace.injection-label",
                    Status.WARN,
                    subject,
                    f"both istio-injection=enabled and istio.io/rev={rev}: istio-injection wins",
                    evidence,
                    "keep one label: istio.io/rev for revision-based installs",
                )
            )
        elif rev and revisions is not None and revisions and rev not in revisions:
            results.append(
                CheckResult(
                    "namespace.injection-label",
                    Status.WARN,
                    subject,
                    f"istio.io/rev={rev} names no installed revision "
                    f"({', '.join(sorted(revisions))})",
                    evidence,
                    "install that revision first, or relabel the namespace",
                )
            )
        else:
            label = f"istio-injection={injection}" if injection else f"istio.io/rev={rev}"
            results.append(
                CheckResult(
                    "namespace.injection-label",
                    Status.PASS,
                    subject,
                    f"labelled {label}: "
                    + (
                        "injection is switched off here"
                        if injection == "disabled"
                        else "pods get sidecars once Istio is installed"
                    ),
                    evidence,
                )
            )
    return results
