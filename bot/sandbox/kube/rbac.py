"""RBAC for requests made with a ServiceAccount token, evaluated as kube-apiserver does.

meshbot's chart claims least privilege; the claim is only worth something if an API
server refuses what the role does not grant. Requests authenticated by a ServiceAccount
token (``tokens``) are checked against the Roles, ClusterRoles, RoleBindings and
ClusterRoleBindings stored in the server, with the real rule semantics (``*``
wildcards, ``resource/subresource`` and ``*/subresource``, ``resourceNames``,
``nonResourceURLs`` with a trailing ``*``; a RoleBinding grants only in its namespace);
a refusal is a 403 ``Status`` worded like the real one. The default roles every
cluster binds to ``system:authenticated`` (discovery, ``/version``, self access
reviews) apply without being stored. Aggregated ClusterRoles are not expanded.

The admin kubeconfig (any other token, or none) keeps the server's allow-all.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .store import Store
from .tokens import ServiceAccountUser

RBAC = "rbac.authorization.k8s.io"
PUBLIC_PATHS = (
    *("/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*"),
    *("/healthz", "/livez", "/readyz", "/version", "/version/"),
)
# What every authenticated user may do on a real cluster: system:discovery,
# system:public-info-viewer and system:basic-user, bound to system:authenticated.
BOOTSTRAP_RULES: tuple[dict[str, Any], ...] = (
    {"verbs": ["get"], "nonResourceURLs": list(PUBLIC_PATHS)},
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
    {
        "verbs": ["create"],
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["selfsubjectreviews"],
    },
)


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it (``path`` set for non-resource requests)."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def is_resource(self) -> bool:
        return not self.path


@dataclass(frozen=True)
class Decision:
    user: str
    attributes: Attributes
    allowed: bool
    reason: str
    review: bool = False  # an access review's answer, not a request that was made


def _matches(rule: dict[str, Any], a: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and a.verb not in verbs:
        return False
    if not a.is_resource:
        return any(
            url == "*" or url == a.path or (url.endswith("*") and a.path.startswith(url[:-1]))
            for url in rule.get("nonResourceURLs") or []
        )
    groups = rule.get("apiGroups") or []
    if "*" not in groups and a.group not in groups:
        return False
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    if not any(
        r in ("*", combined) or (a.subresource and r == f"*/{a.subresource}")
        for r in rule.get("resources") or []
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or a.name in names


def _subject_matches(subject: dict[str, Any], user: ServiceAccountUser, namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return (
            subject.get("name") == user.name
            and (subject.get("namespace") or namespace) == user.namespace
        )
    if kind == "User":
        return subject.get("name") == user.username
    if kind == "Group":
        return subject.get("name") in user.groups
    return False


class Authorizer:
    """Decides ServiceAccount requests from the RBAC objects in ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        # recent decisions, for tests to inspect (bounded: a sandbox may serve for days)
        self.decisions: deque[Decision] = deque(maxlen=200_000)

    def decide(self, user: ServiceAccountUser, a: Attributes, review: bool = False) -> Decision:
        allowed, reason = self._evaluate(user, a)
        decision = Decision(user.username, a, allowed, reason, review)
        with self._lock:
            self.decisions.append(decision)
        return decision

    def check(self, user: ServiceAccountUser, a: Attributes) -> None:
        """Raise the real server's 403 when ``user`` may not do ``a``."""
        decision = self.decide(user, a)
        if not decision.allowed:
            raise forbidden(user.username, a, decision.reason)

    def _evaluate(self, user: ServiceAccountUser, a: Attributes) -> tuple[bool, str]:
        if any(_matches(rule, a) for rule in BOOTSTRAP_RULES):
            return True, "RBAC: allowed by the default roles of system:authenticated"
        problems: list[str] = []
        with self.store.lock:
            bindings = [
                ("ClusterRoleBinding", b)
                for b in self.store.objects((RBAC, "clusterrolebindings")).values()
            ]
            if a.namespace:
                bindings += [
                    ("RoleBinding", b)
                    for (ns, _), b in self.store.objects((RBAC, "rolebindings")).items()
                    if ns == a.namespace
                ]
            for kind, binding in bindings:
                meta = binding.get("metadata") or {}
                namespace = meta.get("namespace") or ""
                if not any(
                    _subject_matches(s, user, namespace) for s in binding.get("subjects") or []
                ):
                    continue
                role_ref = binding.get("roleRef") or {}
                rules = self._rules(role_ref, namespace, problems)
                for rule in rules:
                    if _matches(rule, a):
                        shown = (
                            meta.get("name")
                            if kind == "ClusterRoleBinding"
                            else (f"{meta.get('name')}/{namespace}")
                        )
                        return True, (
                            f'RBAC: allowed by {kind} "{shown}" of {role_ref.get("kind")} '
                            f'"{role_ref.get("name")}" to ServiceAccount '
                            f'"{user.name}/{user.namespace}"'
                        )
        return False, ("RBAC: " + ", ".join(problems)) if problems else ""

    def _rules(
        self, role_ref: dict[str, Any], namespace: str, problems: list[str]
    ) -> list[dict[str, Any]]:
        kind, name = role_ref.get("kind"), role_ref.get("name") or ""
        if kind == "ClusterRole":
            role = self.store.get((RBAC, "clusterroles"), ("", name))
        elif kind == "Role":
            role = self.store.get((RBAC, "roles"), (namespace, name))
        else:
            role = None
        if role is None:
            lower = str(kind).lower()
            problems.append(f'{lower}.{RBAC} "{name}" not found')
            return []
        return list(role.get("rules") or [])

    def review(self, user: ServiceAccountUser, body: dict[str, Any]) -> dict[str, Any]:
        """Fill ``status`` of a SelfSubjectAccessReview asked with ``user``'s token."""
        spec = body.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        if attrs:
            a = Attributes(
                verb=attrs.get("verb", ""),
                group=attrs.get("group", ""),
                resource=attrs.get("resource", ""),
                subresource=attrs.get("subresource", ""),
                namespace=attrs.get("namespace", ""),
                name=attrs.get("name", ""),
            )
        else:
            non_resource = spec.get("nonResourceAttributes") or {}
            a = Attributes(verb=non_resource.get("verb", ""), path=non_resource.get("path", ""))
        decision = self.decide(user, a, review=True)
        out = dict(body)
        out.setdefault("apiVersion", "authorization.k8s.io/v1")
        out.setdefault("kind", "SelfSubjectAccessReview")
        out["metadata"] = {"creationTimestamp": None}
        status: dict[str, Any] = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        out["status"] = status
        return out


def forbidden(username: str, a: Attributes, reason: str = "") -> ApiError:
    """kube-apiserver's 403: responsewriters.forbiddenMessage inside errors.NewForbidden."""
    if not a.is_resource:
        message = f'forbidden: User "{username}" cannot {a.verb} path "{a.path}"'
        if reason:
            message += f": {reason}"
        return ApiError(403, "Forbidden", message, {})
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    where = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    why = (
        f'User "{username}" cannot {a.verb} resource "{combined}" in API group "{a.group}" {where}'
    )
    if reason:
        why += f": {reason}"
    resource = f"{a.resource}.{a.group}" if a.group else a.resource
    subject = f'{resource} "{a.name}"' if a.name else resource
    details: dict[str, Any] = {"kind": a.resource}
    if a.group:
        details["group"] = a.group
    if a.name:
        details["name"] = a.name
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", details)
