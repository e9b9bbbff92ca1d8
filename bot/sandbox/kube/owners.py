"""What the workload controllers share: resource keys, owner references, template hashes,
readiness, int-or-percent scaling and status conditions, as Kubernetes defines them.

Its own module so the Deployment, ReplicaSet, StatefulSet and DaemonSet controllers
(workloads, rollout, sets) build on one set of helpers without importing each other.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from .writes import now

PODS = ("", "pods")
DEPLOYMENTS = ("apps", "deployments")
REPLICASETS = ("apps", "replicasets")
OWNED_BY = {
    "Deployment": DEPLOYMENTS,
    "ReplicaSet": REPLICASETS,
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
}
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.SafeEncodeString alphabet


def template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    out = ""
    for _ in range(10):
        number, index = divmod(number, len(_SAFE))
        out += _SAFE[index]
    return out


def is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


def scaled(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent of ``total`` (Kubernetes' GetScaledValueFromIntOrPercent)."""
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controlled_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"]["uid"]
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return any(r.get("controller") and r.get("uid") == uid for r in refs)


def with_condition(
    old: list[dict[str, Any]], kind: str, status: str, reason: str, message: str, touch: bool
) -> list[dict[str, Any]]:
    """Conditions with ``kind`` set; timestamps move only when something changed."""
    previous = next((c for c in old if c.get("type") == kind), None)
    stamp = now()
    same = previous is not None and (previous.get("status"), previous.get("reason")) == (
        status,
        reason,
    )
    condition = {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp if touch or not same else previous.get("lastUpdateTime", stamp),  # type: ignore[union-attr]
        "lastTransitionTime": (
            previous.get("lastTransitionTime", stamp)  # type: ignore[union-attr]
            if previous is not None and previous.get("status") == status
            else stamp
        ),
        "reason": reason,
        "message": message,
    }
    return [*(c for c in old if c.get("type") != kind), condition]
