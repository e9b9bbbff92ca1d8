"""Answers to SelfSubjectAccessReview from an allow/deny list.

Preflight asks "may I create clusterroles? deployments in istio-system?" the way
``istioctl x precheck`` does. The sandbox has no users or RBAC evaluation; a test states
the answers instead. Default: allow everything (a fresh sandbox acts as cluster-admin,
which the demo and most tests want); ``default_allow=False`` turns it into deny-all so a
test lists exactly what is allowed. Explicit denies beat allows. Only SSAR answers are
affected: ordinary requests are never refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AccessRule:
    """``"*"`` matches any verb/resource/group; namespace None matches any (and cluster)."""

    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None

    def matches(self, verb: str, resource: str, group: str, namespace: str) -> bool:
        return (
            self.verb in ("*", verb)
            and self.resource in ("*", resource)
            and self.group in ("*", group)
            and (self.namespace is None or self.namespace == namespace)
        )


class AccessPolicy:
    def __init__(self, default_allow: bool = True) -> None:
        self._lock = threading.Lock()
        self.default_allow = default_allow
        self._allow: list[AccessRule] = []
        self._deny: list[AccessRule] = []

    def allow(
        self, verb: str, resource: str, group: str = "", namespace: str | None = None
    ) -> None:
        with self._lock:
            self._allow.append(AccessRule(verb, resource, group, namespace))

    def deny(self, verb: str, resource: str, group: str = "", namespace: str | None = None) -> None:
        with self._lock:
            self._deny.append(AccessRule(verb, resource, group, namespace))

    def reset(self, default_allow: bool) -> None:
        with self._lock:
            self.default_allow = default_allow
            self._allow.clear()
            self._deny.clear()

    def decide(self, verb: str, resource: str, group: str = "", namespace: str = "") -> bool:
        with self._lock:
            if any(r.matches(verb, resource, group, namespace) for r in self._deny):
                return False
            if any(r.matches(verb, resource, group, namespace) for r in self._allow):
                return True
            return self.default_allow

    def review(self, body: dict[str, Any]) -> dict[str, Any]:
        """Fill ``status`` of a SelfSubjectAccessReview body."""
        spec = body.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        if attrs:
            resource = attrs.get("resource", "")
            if attrs.get("subresource"):
                resource = f"{resource}/{attrs['subresource']}"
            allowed = self.decide(
                attrs.get("verb", ""), resource, attrs.get("group", ""), attrs.get("namespace", "")
            )
        else:
            path = (spec.get("nonResourceAttributes") or {}).get("path", "")
            allowed = self.decide((spec.get("nonResourceAttributes") or {}).get("verb", ""), path)
        out = dict(body)
        out.setdefault("apiVersion", "authorization.k8s.io/v1")
        out.setdefault("kind", "SelfSubjectAccessReview")
        out["metadata"] = {"creationTimestamp": None}
        status: dict[str, Any] = {"allowed": allowed}
        if allowed:
            status["reason"] = "allowed by the sandbox access policy"
        else:
            status["denied"] = False
            status["reason"] = "not allowed by the sandbox access policy"
        out["status"] = status
        return out
