"""The resource table: which group/version/resource the server serves, and discovery.

Clients find out what a server serves before they touch it (kubectl's RESTMapper,
the Python client's dynamic client), so the same table drives routing and the discovery
documents (``/api``, ``/apis``, ``/apis/<group>/<version>``). Built-in types are fixed;
each CustomResourceDefinition created adds one entry per served version.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One resource at one group/version, e.g. ``apps/v1 deployments``."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    builtin: bool = True
    has_status: bool = False
    categories: tuple[str, ...] = ()
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    storage_version: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: objects are stored once per group+resource, whatever the version."""
        return (self.group, self.plural)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


def _b(
    group: str, version: str, plural: str, kind: str, namespaced: bool, **kw: Any
) -> ResourceType:
    return ResourceType(group, version, plural, kind, namespaced, **kw)


_NO_DC = ("create", "delete", "get", "list", "patch", "update", "watch")

BUILTINS: tuple[ResourceType, ...] = (
    _b(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        short_names=("ns",),
        verbs=_NO_DC,
        has_status=True,
    ),
    _b("", "v1", "nodes", "Node", False, short_names=("no",), has_status=True),
    _b("", "v1", "pods", "Pod", True, short_names=("po",), has_status=True, categories=("all",)),
    _b(
        "",
        "v1",
        "services",
        "Service",
        True,
        short_names=("svc",),
        verbs=_NO_DC,
        has_status=True,
        categories=("all",),
    ),
    _b("", "v1", "configmaps", "ConfigMap", True, short_names=("cm",)),
    _b("", "v1", "secrets", "Secret", True),
    _b("", "v1", "serviceaccounts", "ServiceAccount", True, short_names=("sa",)),
    _b("", "v1", "events", "Event", True, short_names=("ev",)),
    _b(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        short_names=("deploy",),
        has_status=True,
        categories=("all",),
    ),
    _b(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        True,
        short_names=("ds",),
        has_status=True,
        categories=("all",),
    ),
    _b(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        True,
        short_names=("sts",),
        has_status=True,
        categories=("all",),
    ),
    _b(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        True,
        short_names=("rs",),
        has_status=True,
        categories=("all",),
    ),
    _b("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    _b("", "v1", "endpoints", "Endpoints", True, short_names=("ep",)),
    _b("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, short_names=("pvc",)),
    _b(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        short_names=("hpa",),
        has_status=True,
        categories=("all",),
    ),
    _b(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        short_names=("pdb",),
        has_status=True,
    ),
    _b(
        "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, short_names=("netpol",)
    ),
    _b(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        True,
        short_names=("ing",),
        has_status=True,
    ),
    _b("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    _b("coordination.k8s.io", "v1", "leases", "Lease", True),
    _b(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        short_names=("crd", "crds"),
        has_status=True,
    ),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        False,
        has_status=True,
    ),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        False,
    ),
    _b("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _b(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
)

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key giving Kubernetes' version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1."""
    m = _VERSION_RE.match(version)
    if not m:
        return (3, 0, 0, version)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, version)


class ResourceTable:
    """Served resources by (group, version, plural), with discovery documents."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        for rt in BUILTINS:
            self._by_gvr[(rt.group, rt.version, rt.plural)] = rt

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._by_gvr.values())

    def versions_of(self, group: str, plural: str) -> list[ResourceType]:
        with self._lock:
            return [rt for (g, _v, p), rt in self._by_gvr.items() if g == group and p == plural]

    def versions_of_kind(self, group: str, kind: str) -> list[ResourceType]:
        return [rt for rt in self.all() if rt.group == group and rt.kind == kind]

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        """The preferred-version resource of a group+kind (used when loading seed objects)."""
        found = [rt for rt in self.all() if rt.group == group and rt.kind == kind]
        if not found:
            return None
        return sorted(found, key=lambda rt: version_priority(rt.version))[0]

    def register_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """Serve every served version of ``crd``, replacing what it served before."""
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        group = spec["group"]
        plural = names["plural"]
        versions = spec.get("versions", [])
        storage = next((v["name"] for v in versions if v.get("storage")), "")
        added = []
        with self._lock:
            self.unregister(group, plural)
            for v in versions:
                if not v.get("served", True):
                    continue
                schema = (v.get("schema") or {}).get("openAPIV3Schema")
                rt = ResourceType(
                    group=group,
                    version=v["name"],
                    plural=plural,
                    kind=names["kind"],
                    namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                    short_names=tuple(names.get("shortNames") or ()),
                    builtin=False,
                    has_status="status" in (v.get("subresources") or {}),
                    categories=tuple(names.get("categories") or ()),
                    schema=schema,
                    storage_version=storage,
                )
                self._by_gvr[(group, rt.version, plural)] = rt
                added.append(rt)
        return added

    def unregister(self, group: str, plural: str) -> None:
        with self._lock:
            for gvr in [k for k in self._by_gvr if k[0] == group and k[2] == plural]:
                del self._by_gvr[gvr]

    # -- discovery -------------------------------------------------------------------------

    def group_versions(self) -> dict[str, list[str]]:
        """Group → served versions, preferred first (core group under "")."""
        out: dict[str, set[str]] = {}
        for rt in self.all():
            out.setdefault(rt.group, set()).add(rt.version)
        return {g: sorted(vs, key=version_priority) for g, vs in out.items()}

    def api_group(self, group: str) -> dict[str, Any] | None:
        versions = self.group_versions().get(group)
        if not versions or not group:
            return None
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def api_group_list(self) -> dict[str, Any]:
        groups = []
        for g in self.group_versions():
            doc = self.api_group(g)
            if doc:
                groups.append(doc)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        rts = [rt for rt in self.all() if rt.group == group and rt.version == version]
        if not rts:
            return None
        resources: list[dict[str, Any]] = []
        for rt in sorted(rts, key=lambda r: r.plural):
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            if rt.has_status:
                resources.append(
                    {
                        "name": f"{rt.plural}/status",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        gv = f"{group}/{version}" if group else version
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }
