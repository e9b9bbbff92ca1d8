"""Conformance of the Kubernetes API test server, seen through the official client."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from bot.sandbox.kube import KubeTestServer


def _pod(name: str, labels: dict[str, str] | None = None, node: str = "n1") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx"}]},
    }


def _status(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def test_version_and_discovery(kube_server: KubeTestServer, kube_api_client: Any) -> None:
    assert client.VersionApi(kube_api_client).get_code().git_version == "v1.33.2"
    groups = {g.name for g in client.ApisApi(kube_api_client).get_api_versions().groups}
    assert {"apps", "rbac.authorization.k8s.io", "apiextensions.k8s.io"} <= groups
    core = client.CoreV1Api(kube_api_client).get_api_resources()
    pods = next(r for r in core.resources if r.name == "pods")
    assert pods.namespaced and pods.kind == "Pod" and "po" in pods.short_names


def test_create_get_list_with_selectors(kube_api_client: Any) -> None:
    core = client.CoreV1Api(kube_api_client)
    created = core.create_namespaced_pod("default", _pod("a", {"app": "web", "tier": "fe"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp and created.metadata.generation == 1
    core.create_namespaced_pod("default", _pod("b", {"app": "api"}, node="n2"))
    core.create_namespaced_pod("default", _pod("c", {"app": "web"}, node="n2"))

    def names(**kw: Any) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod("default", **kw).items]

    assert names(label_selector="app=web") == ["a", "c"]
    assert names(label_selector="app==web,tier") == ["a"]
    assert names(label_selector="app!=web") == ["b"]
    assert names(label_selector="app in (api, web),!tier") == ["b", "c"]
    assert names(label_selector="app notin (web)") == ["b"]
    assert names(field_selector="spec.nodeName=n2") == ["b", "c"]
    assert names(field_selector="metadata.name!=a,spec.nodeName==n2") == ["b", "c"]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", _pod("a"))
    assert err.value.status == 409 and _status(err.value)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("nope", "default")
    body = _status(err.value)
    assert err.value.status == 404
    assert body["reason"] == "NotFound" and body["message"] == 'pods "nope" not found'
    listed = core.list_pod_for_all_namespaces()
    assert listed.metadata.resource_version and len(listed.items) == 3


def test_stale_update_conflicts(kube_api_client: Any) -> None:
    core = client.CoreV1Api(kube_api_client)
    cm = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "cfg"}, "data": {"k": "1"}}
    )
    cm.data = {"k": "2"}
    updated = core.replace_namespaced_config_map("cfg", "default", cm)
    assert int(updated.metadata.resource_version) > int(cm.metadata.resource_version)
    cm.data = {"k": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cfg", "default", cm)
    body = _status(err.value)
    assert err.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "cfg": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "cfg",
            "default",
            {"metadata": {"resourceVersion": cm.metadata.resource_version}, "data": {"k": "4"}},
        )
    assert err.value.status == 409


def test_generation_bumps_on_spec_change_only(kube_api_client: Any) -> None:
    apps = client.AppsV1Api(kube_api_client)
    dep = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
            },
        },
    }
    created = apps.create_namespaced_deployment("default", dep)
    labelled = apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2
    same = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert same.metadata.resource_version == scaled.metadata.resource_version
    assert created.metadata.uid == same.metadata.uid


def test_strategic_merge_patch_merges_containers_by_name(kube_api_client: Any) -> None:
    core = client.CoreV1Api(kube_api_client)
    pod = _pod("p")
    pod["spec"]["containers"] = [
        {"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
        {"name": "side", "image": "s:1"},
    ]
    core.create_namespaced_pod("default", pod)
    patched = core.patch_namespaced_pod(
        "p",
        "default",
        {
            "spec": {
                "containers": [
                    {"name": "app", "image": "a:2", "env": [{"name": "Y", "value": "2"}]}
                ]
            }
        },
    )
    containers = {c.name: c for c in patched.spec.containers}
    assert containers["app"].image == "a:2" and containers["side"].image == "s:1"
    assert [e.name for e in containers["app"].env] == ["X", "Y"]


def test_dry_run_stores_nothing(kube_server: KubeTestServer, kube_api_client: Any) -> None:
    core = client.CoreV1Api(kube_api_client)
    rv = kube_server.store.rv
    core.create_namespaced_config_map("default", {"metadata": {"name": "d"}}, dry_run="All")
    assert kube_server.store.rv == rv
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("d", "default")
    core.create_namespaced_config_map("default", {"metadata": {"name": "d"}, "data": {"a": "1"}})
    rv = kube_server.store.rv
    out = core.patch_namespaced_config_map("d", "default", {"data": {"a": "2"}}, dry_run="All")
    assert out.data == {"a": "2"}
    core.delete_namespaced_config_map("d", "default", dry_run="All")
    assert core.read_namespaced_config_map("d", "default").data == {"a": "1"}
    assert kube_server.store.rv == rv


def test_delete(kube_api_client: Any) -> None:
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "gone"}})
    core.delete_namespaced_config_map("gone", "default")
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("gone", "default")
    assert err.value.status == 404


def test_pagination_returns_every_object_once(
    kube_server: KubeTestServer, kube_api_client: Any
) -> None:
    kube_server.load_objects(
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i:03d}", "namespace": ns},
            }
            for i in range(57)
            for ns in ("default", "other")
        ]
    )
    core = client.CoreV1Api(kube_api_client)
    seen: list[tuple[str, str]] = []
    token = None
    pages = 0
    while True:
        page = core.list_config_map_for_all_namespaces(limit=10, _continue=token)
        seen += [(c.metadata.namespace, c.metadata.name) for c in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert pages == 12 and len(seen) == 114 and len(set(seen)) == 114
    assert seen == sorted(seen)


def test_watch_sees_events_in_order_after_resource_version(kube_api_client: Any) -> None:
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "before"}})
    start = core.list_namespaced_config_map("default").metadata.resource_version

    def mutate() -> None:
        core.create_namespaced_config_map(
            "default", {"metadata": {"name": "w"}, "data": {"a": "1"}}
        )
        core.patch_namespaced_config_map("w", "default", {"data": {"a": "2"}})
        core.delete_namespaced_config_map("w", "default")

    events = []
    w = watch.Watch()
    writer = threading.Thread(target=mutate)
    writer.start()
    for event in w.stream(
        core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=5
    ):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 3:
            w.stop()
    writer.join()
    assert events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_fault_injection_then_recovery(kube_server: KubeTestServer, kube_api_client: Any) -> None:
    kube_api_client.configuration.retries = False
    core = client.CoreV1Api(kube_api_client)
    kube_server.faults.add(
        method="GET", path_regex=r"/api/v1/namespaces/default/configmaps", status=500, count=2
    )
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            core.list_namespaced_config_map("default")
        assert err.value.status == 500
    assert core.list_namespaced_config_map("default").items == []


def _ssar(api: Any, verb: str, resource: str, group: str = "", namespace: str = "") -> bool:
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, resource=resource, group=group, namespace=namespace
            )
        )
    )
    return bool(
        client.AuthorizationV1Api(api).create_self_subject_access_review(review).status.allowed
    )


def test_ssar_answers_from_allow_list(kube_server: KubeTestServer, kube_api_client: Any) -> None:
    assert _ssar(kube_api_client, "create", "clusterroles", "rbac.authorization.k8s.io")
    kube_server.set_default_access(False)
    kube_server.allow("create", "deployments", "apps", namespace="istio-system")
    kube_server.allow("*", "namespaces")
    assert _ssar(kube_api_client, "create", "deployments", "apps", "istio-system")
    assert not _ssar(kube_api_client, "create", "deployments", "apps", "default")
    assert _ssar(kube_api_client, "create", "namespaces")
    assert not _ssar(kube_api_client, "create", "clusterroles", "rbac.authorization.k8s.io")
