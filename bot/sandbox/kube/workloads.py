"""Deployment and ReplicaSet controllers, after kube-controller-manager's own algorithm.

A Deployment owns one ReplicaSet per pod template (named ``<deployment>-<hash>``, the
``pod-template-hash`` label on it and its pods). A template change (``kubectl rollout
restart`` sets an annotation on it) makes a new ReplicaSet; the rolling update then
scales it up and the old ones down within ``maxSurge``/``maxUnavailable`` (rounded as
Kubernetes does: surge up, unavailable down), counting only Ready pods as available.
Going back to an earlier template reuses that template's ReplicaSet, as a rollback does.
Status carries replicas/updated/ready/available, observedGeneration and the Available
and Progressing conditions (NewReplicaSetAvailable when done, ProgressDeadlineExceeded
after ``progressDeadlineSeconds``) that ``kubectl rollout status`` and Helm's wait read.
Deleting an owner deletes what it owns (garbage collection, foreground at once).
StatefulSets and DaemonSets are in ``sets``.
"""

from __future__ import annotations

import bisect
import copy
from typing import TYPE_CHECKING, Any

from .owners import (
    DEPLOYMENTS,
    OWNED_BY,
    PODS,
    REPLICASETS,
    controlled_by,
    is_ready,
    owner_ref,
)
from .rollout import deployment
from .selectors import selector_matches
from .sets import Sets
from .store import obj_key

if TYPE_CHECKING:
    from .controllers import Controllers
    from .server import KubeTestServer


class Workloads:
    """Reconcilers called by the controller loop; ``sets`` adds StatefulSet/DaemonSet."""

    def __init__(self, server: KubeTestServer, loop: Controllers) -> None:

        self.server = server
        self.loop = loop
        self.sets = Sets(self)

    # -- shared helpers --------------------------------------------------------------------

    def rt(self, resource: tuple[str, str]) -> Any:
        group, plural = resource
        rt = self.server.table.get(group, "v1", plural)
        assert rt is not None
        return rt

    def _in_namespace(self, resource: tuple[str, str], namespace: str) -> list[dict[str, Any]]:
        """A snapshot of the namespace's objects (HTTP requests write meanwhile)."""
        store = self.server.store
        with store.lock:
            objects, keys = store.objects(resource), store.sorted_keys(resource)
            start = bisect.bisect_left(keys, (namespace, ""))
            stop = bisect.bisect_left(keys, (namespace + "\x00", ""))
            return [objects[k] for k in keys[start:stop]]

    def children(self, resource: tuple[str, str], owner: dict[str, Any]) -> list[dict[str, Any]]:
        namespace = owner["metadata"].get("namespace") or ""
        return [o for o in self._in_namespace(resource, namespace) if controlled_by(o, owner)]

    def orphans(self, namespace: str, selector: dict[str, Any]) -> list[dict[str, Any]]:

        return [
            pod
            for pod in self._in_namespace(PODS, namespace)
            if not pod["metadata"].get("ownerReferences")
            and selector_matches(selector, pod["metadata"].get("labels"))
        ]

    def adopt(self, pod: dict[str, Any], owner: dict[str, Any], labels: dict[str, str]) -> None:
        body = copy.deepcopy(pod)
        body["metadata"]["ownerReferences"] = [owner_ref(owner)]
        body["metadata"].setdefault("labels", {}).update(labels)
        namespace, name = obj_key(pod)
        self.server.writer.update(self.rt(PODS), namespace, name, body)

    def new_pod(
        self,
        owner: dict[str, Any],
        template: dict[str, Any],
        labels: dict[str, str],
        name: str | None = None,
        node: str | None = None,
    ) -> None:
        meta = template.get("metadata") or {}
        pod_meta: dict[str, Any] = {
            "labels": {**(meta.get("labels") or {}), **labels},
            "ownerReferences": [owner_ref(owner)],
        }
        if meta.get("annotations"):
            pod_meta["annotations"] = copy.deepcopy(meta["annotations"])
        if name:
            pod_meta["name"] = name
        else:
            pod_meta["generateName"] = owner["metadata"]["name"] + "-"
        spec = copy.deepcopy(template.get("spec") or {})
        if node:
            spec["nodeName"] = node
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}
        self.server.writer.create(self.rt(PODS), owner["metadata"]["namespace"], pod)

    def delete(self, resource: tuple[str, str], obj: dict[str, Any]) -> None:
        ns, name = obj_key(obj)
        if self.server.store.get(resource, (ns, name)) is not None:
            self.server.writer.delete(self.rt(resource), ns or None, name)

    def write(self, resource: tuple[str, str], obj: dict[str, Any], sub: str | None = None) -> None:
        ns, name = obj_key(obj)
        self.server.writer.update(self.rt(resource), ns or None, name, obj, sub)

    def set_status(
        self, resource: tuple[str, str], obj: dict[str, Any], status: dict[str, Any]
    ) -> None:
        if obj.get("status") != status:
            self.write(resource, {**obj, "status": status}, "status")

    def collect(self, resource: tuple[str, str], namespace: str, name: str) -> None:
        """Garbage collection: the owner is gone, so are the objects it controlled."""
        kind = next(k for k, r in OWNED_BY.items() if r == resource)
        for child_resource in (REPLICASETS,) if kind == "Deployment" else (PODS,):
            store = self.server.store
            for key in [k for k in store.sorted_keys(child_resource) if k[0] == namespace]:
                child = store.get(child_resource, key)
                refs = (child or {}).get("metadata", {}).get("ownerReferences") or ()
                if child and any(
                    r.get("controller")
                    and r.get("kind") == kind
                    and r.get("name") == name
                    and store.get(resource, (namespace, name)) is None
                    for r in refs
                ):
                    self.delete(child_resource, child)

    # -- dispatch --------------------------------------------------------------------------

    def reconcile(self, resource: tuple[str, str], namespace: str, name: str) -> None:
        obj = self.server.store.get(resource, (namespace, name))
        if obj is None:
            self.collect(resource, namespace, name)
        elif resource == DEPLOYMENTS:
            deployment(self, obj)
        elif resource == REPLICASETS:
            self.replicaset(obj)
        else:
            self.sets.reconcile(resource, obj)

    def adopt_candidates(self, namespace: str) -> None:
        for resource in (
            REPLICASETS,
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            DEPLOYMENTS,
        ):
            for ns, name in self.server.store.sorted_keys(resource):
                if ns == namespace:
                    self.loop.touch(resource, ns, name)

    # -- ReplicaSet ------------------------------------------------------------------------

    def replicaset(self, rs: dict[str, Any]) -> None:
        spec = rs.get("spec") or {}
        for orphan in self.orphans(rs["metadata"]["namespace"], spec.get("selector") or {}):
            self.adopt(orphan, rs, {})
        pods = [p for p in self.children(PODS, rs) if not p["metadata"].get("deletionTimestamp")]
        wanted = int(spec.get("replicas", 1))
        if len(pods) < wanted:
            for _ in range(wanted - len(pods)):
                self.new_pod(rs, spec.get("template") or {}, {})
        elif len(pods) > wanted:
            # Not-ready first, then the newest: what the real controller removes first.
            newest = sorted(
                pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True
            )
            for pod in sorted(newest, key=is_ready)[: len(pods) - wanted]:
                self.delete(PODS, pod)
        pods = self.children(PODS, rs)
        ready = sum(1 for p in pods if is_ready(p))
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        self.set_status(REPLICASETS, rs, status)
