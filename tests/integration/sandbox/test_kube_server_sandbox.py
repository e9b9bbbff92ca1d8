"""The kube test server's own features: seeds, standalone serving, HTTP-driven faults."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from bot.sandbox.kube import KubeTestServer, generate_large_cluster
from bot.sandbox.kube.seeds import SEEDS_DIR

REPO_ROOT = Path(__file__).resolve().parents[3]


def _call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def test_healthy_seed(kube_server: KubeTestServer, kube_api_client: Any) -> None:
    kube_server.load_seed(SEEDS_DIR / "healthy.yaml")
    nodes = client.CoreV1Api(kube_api_client).list_node().items
    assert len(nodes) == 3
    for node in nodes:
        labels = node.metadata.labels
        assert labels["feature.node.kubernetes.io/cpu-cpuid.AESNI"] == "true"
        assert labels["feature.node.kubernetes.io/cpu-cpuid.AVX2"] == "true"
        assert node.status.node_info.kubelet_version.startswith("v1.33")
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True"
    namespaces = {n.metadata.name for n in client.CoreV1Api(kube_api_client).list_namespace().items}
    assert {"default", "istio-system"} <= namespaces
    services = client.CoreV1Api(kube_api_client).list_service_for_all_namespaces().items
    assert all(p.name or p.app_protocol for s in services for p in s.spec.ports)


def test_problems_seed_has_its_documented_subjects(kube_server: KubeTestServer) -> None:
    kube_server.load_seed(SEEDS_DIR / "problems.yaml")
    get = kube_server.get_object
    no_aes = get("v1", "nodes", "node-no-aes")
    assert no_aes and not any("AESNI" in k or "AVX2" in k for k in no_aes["metadata"]["labels"])
    no_nfd = get("v1", "nodes", "node-no-nfd")
    assert no_nfd and not any(k.startswith("feature.node") for k in no_nfd["metadata"]["labels"])
    secure = get("v1", "namespaces", "secure")
    assert (
        secure
        and secure["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    )
    old_app = get("v1", "pods", "old-app-0", "legacy")
    assert old_app and old_app["spec"]["containers"][0]["securityContext"]["runAsUser"] == 1337
    agent = get("v1", "pods", "node-agent-0", "shop")
    assert agent and agent["spec"]["hostNetwork"] is True


def test_large_cluster_loads_fast() -> None:
    server = KubeTestServer()
    started = time.perf_counter()
    loaded = server.load_objects(generate_large_cluster(nodes=200, pods=3000))
    assert loaded == 50 + 200 + 3000
    assert time.perf_counter() - started < 5


def test_faults_over_http(kube_server: KubeTestServer) -> None:
    status, _ = _call(
        kube_server.url + "/_sandbox/faults",
        "POST",
        {"method": "GET", "path_regex": "/api/v1/namespaces$", "status": 503, "count": 1},
    )
    assert status == 201
    status, body = _call(kube_server.url + "/api/v1/namespaces")
    assert status == 503 and body["kind"] == "Status"
    assert _call(kube_server.url + "/api/v1/namespaces")[0] == 200
    kube_server.faults.add(path_regex="/version", hang=0.3, count=1)
    started = time.perf_counter()
    assert _call(kube_server.url + "/version")[1]["gitVersion"] == "v1.33.2"
    assert time.perf_counter() - started >= 0.3


def test_watch_without_resource_version_lists_first(kube_api_client: Any) -> None:
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "one", "labels": {"a": "1"}}}
    )
    core.create_namespaced_config_map("default", {"metadata": {"name": "two"}})
    w = watch.Watch()
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in w.stream(
            core.list_namespaced_config_map, "default", label_selector="a=1", timeout_seconds=1
        )
    ]
    assert seen == [("ADDED", "one")]


def test_status_shapes(kube_api_client: Any) -> None:
    core = client.CoreV1Api(kube_api_client)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("nowhere", {"metadata": {"name": "x"}})
    assert err.value.status == 404
    assert json.loads(err.value.body)["message"] == 'namespaces "nowhere" not found'
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", {"metadata": {"name": "Bad_Name"}})
    body = json.loads(err.value.body)
    assert err.value.status == 422 and body["details"]["causes"][0]["field"] == "metadata.name"
