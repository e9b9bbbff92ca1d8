"""The test server's built-in kinds as Helm and kubectl use them: protobuf bodies, the
kinds Istio's charts create, schema validation of built-in objects, watch-list."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

import httpx
import pytest
from kubernetes import client

from bot.sandbox.kube import KubeTestServer
from tests.fixtures.kube_proto import KubeProto

Kubectl = Callable[..., CompletedProcess[str]]
PROTOBUF = "application/vnd.kubernetes.protobuf"


def test_kubectl_create_shortcuts_send_protobuf_and_are_stored(
    kube_server: KubeTestServer, kubectl: Kubectl
) -> None:
    kubectl("create", "namespace", "shop")
    kubectl("create", "configmap", "settings", "-n", "shop", "--from-literal=mode=fast")
    kubectl("create", "secret", "generic", "db", "-n", "shop", "--from-literal=password=hunter2")

    sent = [r for r in kube_server.requests if r.method == "POST"]
    assert [r.status for r in sent] == [201, 201, 201]
    secret = json.loads(kubectl("get", "secret", "db", "-n", "shop", "-o", "json").stdout)
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"
    assert secret["type"] == "Opaque"  # defaulted as the real server does
    config = json.loads(kubectl("get", "configmap", "settings", "-n", "shop", "-o", "json").stdout)
    assert config["data"] == {"mode": "fast"}
    labels = kube_server.get_object("v1", "namespaces", "shop")["metadata"]["labels"]  # type: ignore[index]
    assert labels == {"kubernetes.io/metadata.name": "shop"}


def test_protobuf_secret_and_delete_options_over_http(
    kube_server: KubeTestServer, kube_proto: KubeProto
) -> None:
    secret = kube_proto.core.Secret()
    secret.metadata.name = "sh.helm.release.v1.base.v1"
    secret.metadata.labels["owner"] = "helm"
    secret.type = "helm.sh/release.v1"
    secret.data["release"] = b"H4sIAAAA"
    base = f"{kube_server.url}/api/v1/namespaces/default/secrets"
    headers = {"Content-Type": PROTOBUF, "Accept": f"{PROTOBUF}, */*"}

    created = httpx.post(base, content=kube_proto.body("v1", "Secret", secret), headers=headers)

    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    stored = created.json()
    assert stored["type"] == "helm.sh/release.v1"
    assert base64.b64decode(stored["data"]["release"]) == b"H4sIAAAA"
    stale = kube_proto.meta.DeleteOptions()
    stale.preconditions.resourceVersion = "1"
    refused = httpx.request(
        "DELETE",
        f"{base}/{secret.metadata.name}",
        content=kube_proto.body("v1", "DeleteOptions", stale),
        headers=headers,
    )
    assert refused.status_code == 409  # the decoded precondition is honoured
    fresh = kube_proto.meta.DeleteOptions()
    fresh.preconditions.resourceVersion = stored["metadata"]["resourceVersion"]
    deleted = httpx.request(
        "DELETE",
        f"{base}/{secret.metadata.name}",
        content=kube_proto.body("v1", "DeleteOptions", fresh),
        headers=headers,
    )
    assert deleted.status_code == 200
    assert kube_server.get_object("v1", "secrets", secret.metadata.name, "default") is None


def test_protobuf_of_an_unsupported_kind_is_415_naming_it(
    kube_server: KubeTestServer, kube_proto: KubeProto
) -> None:
    pod = kube_proto.core.Pod()
    pod.metadata.name = "p"
    reply = httpx.post(
        f"{kube_server.url}/api/v1/namespaces/default/pods",
        content=kube_proto.body("v1", "Pod", pod),
        headers={"Content-Type": PROTOBUF},
    )
    assert reply.status_code == 415
    assert reply.json()["reason"] == "UnsupportedMediaType"
    assert "v1/Pod" in reply.json()["message"]
    assert kube_server.get_object("v1", "pods", "p", "default") is None


@pytest.mark.parametrize(
    ("group", "plural"),
    [
        ("autoscaling", "horizontalpodautoscalers"),
        ("policy", "poddisruptionbudgets"),
        ("apps", "replicasets"),
        ("networking.k8s.io", "networkpolicies"),
        ("discovery.k8s.io", "endpointslices"),
        ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ],
)
def test_kinds_istio_charts_create_are_discovered(
    kubectl: Kubectl, group: str, plural: str
) -> None:
    listing = kubectl("api-resources", "--api-group", group, "-o", "name").stdout
    assert f"{plural}.{group}" in listing.split()


def test_hpa_and_pdb_through_the_official_client(kube_api_client: Any) -> None:
    autoscaling = client.AutoscalingV2Api(kube_api_client)
    policy = client.PolicyV1Api(kube_api_client)
    hpa = client.V2HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name="istiod"),
        spec=client.V2HorizontalPodAutoscalerSpec(
            min_replicas=2,
            max_replicas=5,
            scale_target_ref=client.V2CrossVersionObjectReference(
                api_version="apps/v1", kind="Deployment", name="istiod"
            ),
        ),
    )
    autoscaling.create_namespaced_horizontal_pod_autoscaler("default", hpa)
    pdb = client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="istiod"),
        spec=client.V1PodDisruptionBudgetSpec(
            min_available=1, selector=client.V1LabelSelector(match_labels={"app": "istiod"})
        ),
    )
    policy.create_namespaced_pod_disruption_budget("default", pdb)

    read = autoscaling.read_namespaced_horizontal_pod_autoscaler("istiod", "default")
    assert read.spec.min_replicas == 2
    assert policy.read_namespaced_pod_disruption_budget("istiod", "default").spec.min_available == 1


DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": "two",
        "replicaz": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {"name": "web", "image": "nginx", "ports": [{"containerPort": "http"}]}
                ]
            },
        },
    },
}


def test_invalid_builtin_object_is_422_naming_every_bad_field(
    kube_server: KubeTestServer, kube_api_client: Any
) -> None:
    # The typed client would refuse this body itself; meshbot's adapter sends raw JSON.
    request = kube_api_client.param_serialize(
        method="POST",
        resource_path="/apis/apps/v1/namespaces/default/deployments",
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=DEPLOYMENT,
        auth_settings=["BearerToken"],
    )
    response = kube_api_client.call_api(*request)
    status = json.loads(response.read())
    assert response.status == 422
    assert status["reason"] == "Invalid"
    fields = {c["field"] for c in status["details"]["causes"]}
    assert fields == {
        "spec.replicas",
        "spec.replicaz",
        "spec.template.spec.containers[0].ports[0].containerPort",
    }
    assert 'spec.replicas: Invalid value: "two"' in status["message"]
    assert kube_server.get_object("apps/v1", "deployments", "web", "default") is None


def test_kubectl_apply_of_an_invalid_deployment_names_the_field(kubectl: Kubectl) -> None:
    result = kubectl("apply", "-f", "-", stdin=json.dumps(DEPLOYMENT), check=False)
    assert result.returncode != 0
    assert "spec.replicas" in result.stderr
    assert "spec.replicaz" in result.stderr


def test_watch_list_ends_its_initial_events_with_a_bookmark(kube_server: KubeTestServer) -> None:
    kube_server.load_seed(
        "\n---\n".join(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm{i}, namespace: default}}"
            for i in range(3)
        )
    )
    url = (
        f"{kube_server.url}/api/v1/namespaces/default/configmaps?watch=true&"
        "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
        "&timeoutSeconds=1"
    )
    with httpx.stream("GET", url, timeout=10) as reply:
        events = [json.loads(line) for line in reply.iter_lines() if line]

    assert [e["type"] for e in events] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
    bookmark = events[-1]["object"]
    assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["metadata"]["resourceVersion"]) >= max(
        int(e["object"]["metadata"]["resourceVersion"]) for e in events[:3]
    )


def test_get_object_returns_a_copy(kube_server: KubeTestServer) -> None:
    kube_server.load_seed("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}")
    got = kube_server.get_object("v1", "configmaps", "c", "default")
    assert got is not None
    got["data"]["a"] = "changed"
    assert kube_server.get_object("v1", "configmaps", "c", "default")["data"] == {"a": "1"}  # type: ignore[index]
