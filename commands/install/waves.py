"""How a wave is written and undone, and how its rollout is told apart from its bake.

Why this exists: a wave is ordinary object writes with one twist in order. Namespaces
must move before their workloads restart, both ways: on apply the labels change and then
the restart makes new pods that the webhook injects with the new proxy; on rollback the
labels go back first and then the workloads' templates are restored, which restarts
them once more, onto the old proxy. `WaveWrites` is the object applier with that order
for its undo.

`rollout` reads the wave's pods — one list per namespace of the wave, so the requests
grow with the wave, never with the cluster — and says which still run the old proxy or
are not Ready, and when the last one became Ready (where the bake window starts).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commands.changes.appliers import OBJECT_WRITES, ApplyOutcome, Inspection, Plan
from commands.changes.model import Change, Snapshot
from commands.changes.writes import Restore, restore
from commands.core.ports import Cluster

JSON = Any
GONE_PHASES = ("Succeeded", "Failed")


class WaveWrites:
    """The `Applier` of install-wave: object writes, namespaces restored first."""

    def plan(self, cluster: Cluster, change: Change) -> Plan:
        return OBJECT_WRITES.plan(cluster, change)

    def write(self, cluster: Cluster, change: Change, plan: tuple[Snapshot, ...]) -> ApplyOutcome:
        return OBJECT_WRITES.write(cluster, change, plan)

    def inspect(self, cluster: Cluster, items: tuple[Snapshot, ...]) -> Inspection:
        return OBJECT_WRITES.inspect(cluster, items)

    def undo(self, cluster: Cluster, snapshots: tuple[Snapshot, ...]) -> Restore:
        # `restore` goes newest first: list the workloads first so namespaces go back first.
        workloads = tuple(s for s in snapshots if s.ref.kind != "Namespace")
        namespaces = tuple(s for s in snapshots if s.ref.kind == "Namespace")
        return restore(cluster, (*workloads, *namespaces))


@dataclass(frozen=True)
class Rollout:
    pods: int  # meshed pods of the wave now
    on_new: int
    old: tuple[str, ...]  # `ns/pod (version)` still on another proxy
    not_ready: tuple[str, ...]
    last_ready_at: float | None

    @property
    def done(self) -> bool:
        return not self.old and not self.not_ready


def proxy_revision(pod: JSON) -> tuple[str | None, str]:
    """The revision of the pod's injected proxy (None: no sidecar) and its image tag."""
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    proxy = next((c for c in containers if c.get("name") == "istio-proxy"), None)
    if proxy is None:
        return None, ""
    tag = str(proxy.get("image", "")).rpartition(":")[2]
    status = ((pod.get("metadata") or {}).get("annotations") or {}).get("sidecar.istio.io/status")
    try:
        revision = str(json.loads(status).get("revision") or "default") if status else ""
    except (ValueError, AttributeError):
        revision = ""
    return revision, tag


def _ready(pod: JSON) -> tuple[bool, float | None]:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            at = _time(condition.get("lastTransitionTime"))
            return condition.get("status") == "True", at
    return False, None


def _time(text: object) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def rollout(
    cluster: Cluster,
    namespaces: Iterable[str],
    workloads: Iterable[str],
    revision: str,
    version: str,
) -> Rollout:
    pods: list[JSON] = []
    for ns in namespaces:
        pods.extend(cluster.list_objects("v1", "pods", namespace=ns))
    prefixes: dict[str, list[str]] = {}
    for key in workloads:
        ns, _, name = key.partition("/")
        prefixes.setdefault(ns, []).append(f"{name}-")
    for ns, names in prefixes.items():
        pods.extend(
            p
            for p in cluster.list_objects("v1", "pods", namespace=ns)
            if str(p["metadata"]["name"]).startswith(tuple(names))
        )
    old: list[str] = []
    not_ready: list[str] = []
    on_new = 0
    last: float | None = None
    counted = 0
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in GONE_PHASES:
            continue
        pod_revision, tag = proxy_revision(pod)
        if pod_revision is None:
            continue  # not meshed (opted out): nothing to move
        counted += 1
        label = f"{meta.get('namespace')}/{meta.get('name')}"
        if not (pod_revision == revision or (not pod_revision and tag == version)):
            old.append(f"{label} ({tag or pod_revision})")
            continue
        on_new += 1
        ready, at = _ready(pod)
        if not ready:
            not_ready.append(label)
        elif at is not None:
            last = at if last is None else max(last, at)
    return Rollout(counted, on_new, tuple(sorted(old)), tuple(sorted(not_ready)), last)
