"""The controller loop: what kube-controller-manager and the kubelets do, in outline.

A staged install is watched through workloads: a rolling restart must replace pods with
new names, Deployment status must say when the rollout is done, and a pod must become
Ready on its own — or never, when a test says so. This loop follows the store's event
log like an informer, reconciles the Deployments, ReplicaSets, StatefulSets and
DaemonSets touched by each event (``workloads``), gives LoadBalancer Services an
address, and plays the kubelet for pods: a new
pod is scheduled (round-robin over Ready nodes; a server without nodes runs pods
anyway), reported Running at once and Ready after ``ready_seconds``, unless a
``pods_never_ready`` fault matches it (then it runs but never passes readiness).

Opt-in (``KubeTestServer(controllers=True)``), because a seed describes a steady state:
with controllers on, a seeded workload adopts the seeded pods that match its selector
and have no owner, instead of creating new ones beside them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .owners import OWNED_BY, is_ready
from .store import obj_key
from .workloads import Workloads

if TYPE_CHECKING:
    from .server import KubeTestServer

log = logging.getLogger(__name__)
PODS = ("", "pods")
HOLD_RECHECK_SECONDS = 0.5
NODES = ("", "nodes")
SERVICES = ("", "services")
WATCHED = {
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
}
Key = tuple[tuple[str, str], str, str]  # (group+resource, namespace, name)


class Controllers:
    """Runs in one thread beside the HTTP server; writes through the server's Writer."""

    def __init__(self, server: KubeTestServer, ready_seconds: float = 0.2) -> None:
        self.server = server
        self.ready_seconds = ready_seconds
        self.workloads = Workloads(server, self)
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._dirty: dict[Key, None] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._timer_lock = threading.Lock()
        self._rr = itertools.count()
        self._addresses = itertools.count()
        self.passes = 0  # reconcile passes done (for tests waiting on a quiet loop)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        store = self.server.store
        with store.lock:
            self._index = store.log_length()
            for resource in (*WATCHED, PODS):
                for ns, name in store.sorted_keys(resource):
                    self._dirty[(resource, ns, name)] = None
        self._thread = threading.Thread(target=self._run, name="kube-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self.server.store.cond:
            self.server.store.cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` in the loop thread ``seconds`` from now."""
        with self._timer_lock:
            heapq.heappush(self._timers, (time.monotonic() + seconds, next(self._seq), action))
        with self.server.store.cond:
            self.server.store.cond.notify_all()

    def touch(self, resource: tuple[str, str], namespace: str, name: str) -> None:
        """Reconcile this object on the next pass (from the loop thread)."""
        self._dirty[(resource, namespace, name)] = None

    # -- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        store = self.server.store
        while not self._stop.is_set():
            with store.cond:
                events, self._index = store.events_after(0, start=self._index)
                if not events and not self._dirty and not self._due():
                    store.cond.wait(timeout=self._wait_time())
                    if store.closed:
                        return
                    continue
            for event in events:
                self._route(event.resource, event.type, event.obj)
            for action in self._pop_due():
                self._guard(action)
            dirty, self._dirty = list(self._dirty), {}
            for key in dirty:
                self._guard(lambda k=key: self._reconcile(k))  # type: ignore[misc]
            self.passes += 1

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except ApiError as exc:
            # A conflict or a failed webhook: the real controllers retry with backoff.
            log.debug("kube sandbox controller: %s", exc.message)
            self.after(0.2, lambda: None)
        except Exception:
            log.exception("kube sandbox controller failed")

    def _due(self) -> bool:
        with self._timer_lock:
            return bool(self._timers) and self._timers[0][0] <= time.monotonic()

    def _wait_time(self) -> float:
        with self._timer_lock:
            if not self._timers:
                return 0.5
            return max(0.0, min(0.5, self._timers[0][0] - time.monotonic()))

    def _pop_due(self) -> list[Callable[[], None]]:
        due = []
        now = time.monotonic()
        with self._timer_lock:
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers)[2])
        return due

    def _route(self, resource: tuple[str, str], kind: str, obj: dict[str, Any]) -> None:
        ns, name = obj_key(obj)
        if resource in WATCHED:
            self._dirty[(resource, ns, name)] = None
        if resource in WATCHED or resource == PODS:
            for owner in (obj.get("metadata") or {}).get("ownerReferences") or ():
                owner_resource = OWNED_BY.get(str(owner.get("kind")))
                if owner.get("controller") and owner_resource:
                    self._dirty[(owner_resource, ns, str(owner.get("name")))] = None
        if resource == PODS and kind != "DELETED":
            self._dirty[(PODS, ns, name)] = None
        if resource == SERVICES and kind != "DELETED":
            self._load_balancer(obj)
        if resource == NODES:
            for ds_ns, ds_name in self.server.store.sorted_keys(("apps", "daemonsets")):
                self._dirty[(("apps", "daemonsets"), ds_ns, ds_name)] = None
        if (
            resource == PODS
            and kind == "ADDED"
            and not (obj.get("metadata") or {}).get("ownerReferences")
        ):
            self.workloads.adopt_candidates(ns)

    def _reconcile(self, key: Key) -> None:
        resource, ns, name = key
        if resource == PODS:
            self._kubelet(ns, name)
        else:
            self.workloads.reconcile(resource, ns, name)

    def _load_balancer(self, service: dict[str, Any]) -> None:
        """The cloud controller's part: a LoadBalancer Service gets an address (from the
        192.0.2.0/24 documentation range; nothing is ever sent there), which Helm's wait
        and ``kubectl get svc`` look for."""
        spec, status = service.get("spec") or {}, service.get("status") or {}
        if spec.get("type") != "LoadBalancer" or (status.get("loadBalancer") or {}).get("ingress"):
            return
        rt = self.server.table.get("", "v1", "services")
        assert rt is not None
        address = f"192.0.2.{next(self._addresses) % 254 + 1}"
        ports = [
            {"port": p.get("port"), "protocol": p.get("protocol", "TCP")}
            for p in spec.get("ports") or ()
        ]
        ingress = {"ip": address, "ipMode": "VIP", "ports": ports}
        body = {**service, "status": {**status, "loadBalancer": {"ingress": [ingress]}}}
        namespace, name = obj_key(service)
        self._guard(lambda: self.server.writer.update(rt, namespace, name, body, "status"))

    # -- the kubelet -----------------------------------------------------------------------

    def _kubelet(self, namespace: str, name: str) -> None:
        pod = self.server.store.get(PODS, (namespace, name))
        if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return
        status = pod.get("status") or {}
        if not status.get("phase"):
            self._start(pod)
        elif self._held(pod):
            if self.server.faults.never_ready(pod):
                self.after(HOLD_RECHECK_SECONDS, lambda: self.touch(PODS, namespace, name))
            else:
                self._set_ready(namespace, name, pod["metadata"]["uid"])

    @staticmethod
    def _held(pod: dict[str, Any]) -> bool:
        """Held back by a ``pods_never_ready`` fault (only pods this kubelet started)."""
        conditions = (pod.get("status") or {}).get("conditions") or ()
        return not is_ready(pod) and any(c.get("reason") == "SandboxFault" for c in conditions)

    def _start(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        node = spec.get("nodeName") or self._pick_node()
        updated = {**pod, "spec": {**spec}}
        if node:
            updated["spec"]["nodeName"] = node
        self._write_pod(updated, status=_running(pod, ready=False, held=False))
        fresh = self.server.store.get(PODS, obj_key(pod))
        if fresh is None:
            return
        if self.server.faults.never_ready(fresh):
            self._hold(fresh)
            return
        uid = meta.get("uid")
        self.after(
            self.ready_seconds, lambda: self._set_ready(meta["namespace"], meta["name"], uid)
        )

    def _set_ready(self, namespace: str, name: str, uid: str | None) -> None:
        pod = self.server.store.get(PODS, (namespace, name))
        if pod is None or pod["metadata"].get("uid") != uid:
            return
        if self.server.faults.never_ready(pod):
            self._hold(pod)
            return
        self._write_pod(pod, status=_running(pod, ready=True, held=False))

    def _hold(self, pod: dict[str, Any]) -> None:
        """Running but not Ready; looked at again every half second until the fault goes."""
        self._write_pod(pod, status=_running(pod, ready=False, held=True))
        namespace, name = obj_key(pod)
        self.after(HOLD_RECHECK_SECONDS, lambda: self.touch(PODS, namespace, name))

    def _write_pod(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        rt = self.server.table.get("", "v1", "pods")
        assert rt is not None
        meta = pod["metadata"]
        body = {**pod, "status": status}
        if body["spec"] != (self.server.store.get(PODS, obj_key(pod)) or {}).get("spec"):
            body = self.server.writer.update(rt, meta["namespace"], meta["name"], body)[0]
            body = {**body, "status": status}
        self.server.writer.update(rt, meta["namespace"], meta["name"], body, "status")

    def _pick_node(self) -> str | None:
        with self.server.store.lock:
            nodes = dict(self.server.store.objects(NODES))
        ready = [
            name
            for (_ns, name), node in sorted(nodes.items())
            if not (node.get("spec") or {}).get("unschedulable")
            and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (node.get("status") or {}).get("conditions") or ()
            )
        ]
        return ready[next(self._rr) % len(ready)] if ready else None


def _running(pod: dict[str, Any], ready: bool, held: bool) -> dict[str, Any]:
    """A running pod's status: every container started, ready or held back by a fault."""
    from .writes import now

    started = (pod.get("status") or {}).get("startTime") or now()
    spec = pod.get("spec") or {}
    flag = "True" if ready else "False"
    reason = None if ready else ("SandboxFault" if held else "ContainersNotReady")

    def statuses(containers: list[dict[str, Any]], sidecars_only: bool) -> list[dict[str, Any]]:
        out = []
        for c in containers:
            native = c.get("restartPolicy") == "Always"
            if sidecars_only and not native:
                out.append(
                    {
                        "name": c.get("name"),
                        "image": c.get("image"),
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                    }
                )
                continue
            out.append(
                {
                    "name": c.get("name"),
                    "image": c.get("image"),
                    "imageID": "",
                    "ready": ready,
                    "restartCount": 0,
                    "started": True,
                    "state": {"running": {"startedAt": started}},
                }
            )
        return out

    conditions = [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "ContainersReady", "status": flag},
        {"type": "Ready", "status": flag},
    ]
    for condition in conditions[2:]:
        condition["lastTransitionTime"] = now()
        if reason:
            condition["reason"] = reason
    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": conditions,
        "startTime": started,
        "containerStatuses": statuses(spec.get("containers") or [], False),
    }
    if spec.get("initContainers"):
        status["initContainerStatuses"] = statuses(spec["initContainers"], True)
    if spec.get("nodeName"):
        status["hostIP"] = "10.0.0.1"
    return status
