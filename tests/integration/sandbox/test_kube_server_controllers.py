"""The test server's controllers seen through kubectl and the official client: rollouts,
rolling restarts within maxSurge/maxUnavailable, StatefulSets, DaemonSets, a fault that
keeps pods from ever becoming Ready, garbage collection, and restart persistence."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
import pytest
from kubernetes import client, watch

from bot.sandbox.kube import KubeTestServer

Kubectl = Callable[..., CompletedProcess[str]]

NODES = "\n---\n".join(
    f"""
apiVersion: v1
kind: Node
metadata: {{name: node-{i}, labels: {{pool: {pool}}}}}
status: {{conditions: [{{type: Ready, status: "True"}}], nodeInfo: {{kubeletVersion: v1.33.2}}}}
"""
    for i, pool in ((1, "web"), (2, "web"), (3, "batch"))
)

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
  replicas: 4
  progressDeadlineSeconds: {deadline}
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1, maxUnavailable: 1}}}}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: "nginx:1"}}]}}
"""


@pytest.fixture
def kube_server() -> Iterator[KubeTestServer]:
    """Overrides the plain server: this one runs the controllers, with three nodes."""
    server = KubeTestServer(controllers=True, ready_seconds=0.05)
    server.start()
    server.load_seed(NODES)
    try:
        yield server
    finally:
        server.stop()


def _json(result: CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def _wait_for(predicate: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _pods(kubectl: Kubectl, *args: str) -> list[dict[str, Any]]:
    return _json(kubectl("get", "pods", "-o", "json", *args))["items"]


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _rolled_out(kubectl: Kubectl) -> None:
    result = kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert 'deployment "web" successfully rolled out' in result.stdout


def test_rolling_restart_replaces_every_pod_within_surge_and_unavailability(
    kubectl: Kubectl, kube_api_client: Any
) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.format(deadline=600))
    _rolled_out(kubectl)
    before = {p["metadata"]["name"] for p in _pods(kubectl, "-l", "app=web")}
    assert len(before) == 4 and all(_ready(p) for p in _pods(kubectl))
    core = client.CoreV1Api(kube_api_client)
    since = core.list_namespaced_pod("default").metadata.resource_version

    kubectl("rollout", "restart", "deployment/web")
    _rolled_out(kubectl)

    after = _pods(kubectl, "-l", "app=web")
    assert len(after) == 4 and not before & {p["metadata"]["name"] for p in after}
    assert all(_ready(p) for p in after)
    deployment = _json(kubectl("get", "deployment", "web", "-o", "json"))
    status = deployment["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (4, 4, 4)
    assert status["observedGeneration"] == deployment["metadata"]["generation"] == 2
    reasons = {c["type"]: c["reason"] for c in status["conditions"]}
    assert reasons == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    # Replay the pod events of the restart: never more than replicas+maxSurge pods, never
    # fewer than replicas-maxUnavailable Ready ones.
    live = dict.fromkeys(before, True)
    worst_ready, most_pods = 4, 4
    stream = watch.Watch().stream(
        core.list_namespaced_pod, "default", resource_version=since, timeout_seconds=1
    )
    for event in stream:
        pod = event["object"]
        if event["type"] == "DELETED":
            live.pop(pod.metadata.name, None)
        else:
            conditions = (pod.status.conditions if pod.status else None) or []
            live[pod.metadata.name] = any(
                c.type == "Ready" and c.status == "True" for c in conditions
            )
        most_pods = max(most_pods, len(live))
        worst_ready = min(worst_ready, sum(live.values()))
    assert most_pods <= 5
    assert worst_ready >= 3


def test_rollout_undo_goes_back_to_the_earlier_replicaset(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.format(deadline=600))
    _rolled_out(kubectl)
    kubectl("set", "image", "deployment/web", "web=nginx:2")
    _rolled_out(kubectl)
    kubectl("rollout", "undo", "deployment/web")
    _rolled_out(kubectl)

    images = {p["spec"]["containers"][0]["image"] for p in _pods(kubectl, "-l", "app=web")}
    assert images == {"nginx:1"}
    sets = _json(kubectl("get", "replicasets", "-o", "json"))["items"]
    assert len(sets) == 2  # the first template's ReplicaSet was reused
    by_image = {r["spec"]["template"]["spec"]["containers"][0]["image"]: r for r in sets}
    assert by_image["nginx:1"]["spec"]["replicas"] == 4
    assert by_image["nginx:2"]["spec"]["replicas"] == 0
    assert (
        by_image["nginx:1"]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    )


def test_pods_never_ready_fault_holds_the_rollout_until_cleared(
    kube_server: KubeTestServer, kubectl: Kubectl
) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.format(deadline=2))
    _rolled_out(kubectl)
    armed = httpx.post(
        f"{kube_server.url}/_sandbox/faults",
        json={"pods_never_ready": {"namespace": "default", "image_regex": "nginx:2$"}},
    )
    assert armed.status_code == 201

    kubectl("set", "image", "deployment/web", "web=nginx:2")

    def progressing() -> dict[str, Any]:
        status = _json(kubectl("get", "deployment", "web", "-o", "json"))["status"]
        return next(c for c in status["conditions"] if c["type"] == "Progressing")

    _wait_for(lambda: progressing()["reason"] == "ProgressDeadlineExceeded", "the deadline")
    pods = _pods(kubectl, "-l", "app=web")
    stuck = [p for p in pods if p["spec"]["containers"][0]["image"] == "nginx:2"]
    serving = [p for p in pods if p["spec"]["containers"][0]["image"] == "nginx:1"]
    assert stuck and not any(_ready(p) for p in stuck)
    assert all(p["status"]["phase"] == "Running" for p in stuck)
    assert len([p for p in serving if _ready(p)]) >= 3  # maxUnavailable 1 of 4
    assert progressing()["status"] == "False"

    httpx.delete(f"{kube_server.url}/_sandbox/faults")
    _wait_for(lambda: progressing()["reason"] == "NewReplicaSetAvailable", "the rollout to end")
    images = {p["spec"]["containers"][0]["image"] for p in _pods(kubectl, "-l", "app=web")}
    assert images == {"nginx:2"}


STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:16"}]}
"""


def test_statefulset_creates_in_order_and_updates_from_the_highest_ordinal(
    kubectl: Kubectl, kube_api_client: Any
) -> None:
    core = client.CoreV1Api(kube_api_client)
    since = core.list_namespaced_pod("default").metadata.resource_version
    kubectl("apply", "-f", "-", stdin=STATEFULSET)
    kubectl("rollout", "status", "statefulset/db", "--timeout=60s")
    kubectl("set", "image", "statefulset/db", "db=postgres:17")
    kubectl("rollout", "status", "statefulset/db", "--timeout=60s")

    events = [
        (event["type"], event["object"].metadata.name)
        for event in watch.Watch().stream(
            core.list_namespaced_pod, "default", resource_version=since, timeout_seconds=1
        )
    ]
    assert [name for kind, name in events if kind == "ADDED"][:3] == ["db-0", "db-1", "db-2"]
    assert [name for kind, name in events if kind == "DELETED"] == ["db-2", "db-1", "db-0"]
    status = _json(kubectl("get", "statefulset", "db", "-o", "json"))["status"]
    assert status["currentRevision"] == status["updateRevision"]
    assert (status["readyReplicas"], status["updatedReplicas"]) == (3, 3)
    images = {p["spec"]["containers"][0]["image"] for p in _pods(kubectl, "-l", "app=db")}
    assert images == {"postgres:17"}


DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {pool: web}
      containers: [{name: agent, image: "agent:1"}]
"""


def test_daemonset_runs_one_pod_per_matching_node(
    kube_server: KubeTestServer, kubectl: Kubectl
) -> None:
    kubectl("apply", "-f", "-", stdin=DAEMONSET)
    kubectl("rollout", "status", "daemonset/agent", "--timeout=60s")
    nodes = sorted(p["spec"]["nodeName"] for p in _pods(kubectl, "-l", "app=agent"))
    assert nodes == ["node-1", "node-2"]

    kube_server.load_seed(NODES.split("---")[0].replace("node-1", "node-4"))
    _wait_for(lambda: len(_pods(kubectl, "-l", "app=agent")) == 3, "a pod on the new node")
    kubectl("set", "image", "daemonset/agent", "agent=agent:2")
    kubectl("rollout", "status", "daemonset/agent", "--timeout=60s")

    status = _json(kubectl("get", "daemonset", "agent", "-o", "json"))["status"]
    assert status["desiredNumberScheduled"] == status["numberReady"] == 3
    assert status["updatedNumberScheduled"] == 3
    images = {p["spec"]["containers"][0]["image"] for p in _pods(kubectl, "-l", "app=agent")}
    assert images == {"agent:2"}


def test_deleting_a_deployment_deletes_its_replicasets_and_pods(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.format(deadline=600))
    _rolled_out(kubectl)
    kubectl("delete", "deployment", "web")
    _wait_for(lambda: not _pods(kubectl), "the pods to go")
    assert _json(kubectl("get", "replicasets", "-o", "json"))["items"] == []


def test_seeded_pods_are_adopted_not_duplicated(
    kube_server: KubeTestServer, kubectl: Kubectl
) -> None:
    kube_server.load_seed(
        DEPLOYMENT.format(deadline=600).replace("replicas: 4", "replicas: 2")
        + "\n---\n"
        + "\n---\n".join(
            f"""
apiVersion: v1
kind: Pod
metadata: {{name: web-seeded-{i}, namespace: default, labels: {{app: web}}}}
spec: {{containers: [{{name: web, image: "nginx:1"}}]}}
status: {{phase: Running, conditions: [{{type: Ready, status: "True"}}]}}
"""
            for i in (1, 2)
        )
    )
    _rolled_out(kubectl)
    pods = _pods(kubectl, "-l", "app=web")
    assert sorted(p["metadata"]["name"] for p in pods) == ["web-seeded-1", "web-seeded-2"]
    assert {p["metadata"]["ownerReferences"][0]["kind"] for p in pods} == {"ReplicaSet"}


def test_state_survives_a_restart(
    kube_server: KubeTestServer, kubectl: Kubectl, tmp_path: Path
) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.format(deadline=600))
    _rolled_out(kubectl)
    kubectl("create", "secret", "generic", "keep", "--from-literal=k=v")
    before = _json(kubectl("get", "secret", "keep", "-o", "json"))
    saved = kube_server.save_state(tmp_path / "state.json")
    port = kube_server.port
    kube_server.stop()

    again = KubeTestServer(port=port, controllers=True)
    again.restore_state(saved)
    again.start()
    try:
        after = _json(kubectl("get", "secret", "keep", "-o", "json"))
        assert after["metadata"]["uid"] == before["metadata"]["uid"]
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        _rolled_out(kubectl)
        assert len(_pods(kubectl, "-l", "app=web")) == 4
        kubectl("create", "configmap", "later")
        created = _json(kubectl("get", "configmap", "later", "-o", "json"))
        assert int(created["metadata"]["resourceVersion"]) > int(
            before["metadata"]["resourceVersion"]
        )
    finally:
        again.stop()


def test_a_load_balancer_service_gets_an_address(kubectl: Kubectl) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "gateway", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "gw"}, "ports": [{"port": 443}]},
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(service))

    def ingress() -> list[dict[str, Any]]:
        status = _json(kubectl("get", "service", "gateway", "-o", "json")).get("status") or {}
        return (status.get("loadBalancer") or {}).get("ingress") or []

    _wait_for(lambda: bool(ingress()), "an address")
    assert ingress()[0]["ip"].startswith("192.0.2.")
