"""StatefulSet and DaemonSet controllers (see ``workloads`` for why they exist).

StatefulSet: pods ``<name>-0..N-1`` created in order (OrderedReady waits for each to be
Ready; Parallel does not), labelled ``controller-revision-hash=<name>-<hash>``; a
template change replaces them one at a time from the highest ordinal down to
``partition``, each only once the others are Ready (OnDelete leaves that to the user).
DaemonSet: one pod per node whose labels match the template's ``nodeSelector`` (taints
and affinity are not simulated); a template change replaces pods while at most
``maxUnavailable`` are not Ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .owners import PODS, is_ready, scaled, template_hash
from .selectors import selector_matches

if TYPE_CHECKING:
    from .workloads import Workloads

STATEFULSETS = ("apps", "statefulsets")
DAEMONSETS = ("apps", "daemonsets")
REVISION_LABEL = "controller-revision-hash"


def _revision_of(pod: dict[str, Any]) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL, ""))


class Sets:
    def __init__(self, work: Workloads) -> None:
        self.work = work

    def reconcile(self, resource: tuple[str, str], obj: dict[str, Any]) -> None:
        selector = (obj.get("spec") or {}).get("selector") or {}
        for orphan in self.work.orphans(obj["metadata"]["namespace"], selector):
            self.work.adopt(orphan, obj, {})
        if resource == STATEFULSETS:
            self.statefulset(obj)
        else:
            self.daemonset(obj)

    # -- StatefulSet -----------------------------------------------------------------------

    def statefulset(self, sts: dict[str, Any]) -> None:
        work, spec, name = self.work, sts.get("spec") or {}, sts["metadata"]["name"]
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        update = f"{name}-{template_hash(template)}"
        pods = {p["metadata"]["name"]: p for p in work.children(PODS, sts)}
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        for i in range(replicas):
            pod_name = f"{name}-{i}"
            if pod_name in pods:
                continue
            if ordered and not all(is_ready(pods[f"{name}-{j}"]) for j in range(i)):
                break
            labels = {
                REVISION_LABEL: update,
                "statefulset.kubernetes.io/pod-name": pod_name,
                "apps.kubernetes.io/pod-index": str(i),
            }
            work.new_pod(sts, template, labels, name=pod_name)
            if ordered:
                break
        extra = sorted(
            (p for n, p in pods.items() if _ordinal(n, name) >= replicas),
            key=lambda p: -_ordinal(p["metadata"]["name"], name),
        )
        for pod in extra[:1] if ordered else extra:
            work.delete(PODS, pod)
        strategy = spec.get("updateStrategy") or {}
        all_there = all(f"{name}-{i}" in pods for i in range(replicas))
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and all_there:
            partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0) or 0)
            members = [pods[f"{name}-{i}"] for i in range(replicas)]
            if all(is_ready(p) for p in members):
                stale = [p for p in members[partition:] if _revision_of(p) != update]
                if stale:
                    work.delete(PODS, stale[-1])
        pods_now = work.children(PODS, sts)
        previous = sts.get("status") or {}
        current_rev = previous.get("currentRevision") or update
        updated = sum(1 for p in pods_now if _revision_of(p) == update)
        ready = sum(1 for p in pods_now if is_ready(p))
        if updated == replicas and ready == replicas == len(pods_now):
            current_rev = update
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods_now),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": sum(1 for p in pods_now if _revision_of(p) == current_rev),
            "updatedReplicas": updated,
            "currentRevision": current_rev,
            "updateRevision": update,
            "collisionCount": 0,
        }
        work.set_status(STATEFULSETS, sts, status)

    # -- DaemonSet -------------------------------------------------------------------------

    def daemonset(self, ds: dict[str, Any]) -> None:
        work, spec = self.work, ds.get("spec") or {}
        template = spec.get("template") or {}
        revision = template_hash(template)
        selector = (template.get("spec") or {}).get("nodeSelector") or {}
        with work.server.store.lock:
            all_nodes = list(work.server.store.objects(("", "nodes")).values())
        nodes = [
            n["metadata"]["name"]
            for n in all_nodes
            if selector_matches({"matchLabels": selector}, n["metadata"].get("labels"))
        ]
        by_node: dict[str, list[dict[str, Any]]] = {}
        for pod in work.children(PODS, ds):
            by_node.setdefault(str((pod.get("spec") or {}).get("nodeName")), []).append(pod)
        for node, pods in by_node.items():
            for pod in pods[1:] if node in nodes else pods:
                work.delete(PODS, pod)
        for node in sorted(nodes):
            if node not in by_node:
                work.new_pod(ds, template, {REVISION_LABEL: revision}, node=node)
        rolling = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
        if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            budget = max(1, scaled(rolling.get("maxUnavailable", 1), len(nodes), round_up=True))
            current = [p for n, ps in by_node.items() if n in nodes for p in ps[:1]]
            budget -= sum(1 for p in current if not is_ready(p)) + (len(nodes) - len(current))
            for pod in sorted(current, key=lambda p: p["spec"].get("nodeName", "")):
                if budget <= 0:
                    break
                if _revision_of(pod) != revision:
                    work.delete(PODS, pod)
                    budget -= 1
        pods_now = work.children(PODS, ds)
        placed = {str(p["spec"].get("nodeName")) for p in pods_now}
        ready = sum(1 for p in pods_now if is_ready(p))
        status = {
            "observedGeneration": ds["metadata"].get("generation", 1),
            "desiredNumberScheduled": len(nodes),
            "currentNumberScheduled": len(placed & set(nodes)),
            "numberMisscheduled": len(placed - set(nodes)),
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": sum(1 for p in pods_now if _revision_of(p) == revision),
        }
        if len(nodes) - ready > 0:
            status["numberUnavailable"] = len(nodes) - ready
        work.set_status(DAEMONSETS, ds, status)


def _ordinal(pod_name: str, sts_name: str) -> int:
    tail = pod_name[len(sts_name) + 1 :]
    return int(tail) if tail.isdigit() else -1
