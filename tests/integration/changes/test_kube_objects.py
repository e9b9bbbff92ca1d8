"""The ClusterObjects port on the official client against the Kubernetes test server
serving Istio 1.30's CRDs: discovery, paging, dry runs, preconditions, clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.kube import KubeCluster
from bot.sandbox.kube import KubeTestServer
from commands.changes.model import ObjectConflict, ObjectInvalid, ObjectMissing, ObjectRef
from commands.core.errors import ClusterUnavailable

REF = ObjectRef(
    "security.istio.io/v1", "PeerAuthentication", "peerauthentications", "default", "shop"
)


def pa(mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "shop"},
        "spec": {"mtls": {"mode": mode}},
    }


@pytest.fixture
def cluster(kube_server_with_istio: KubeTestServer, kubeconfig: Path) -> Iterator[KubeCluster]:
    kube_server_with_istio.load_seed("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    c = KubeCluster("prod", kubeconfig=str(kubeconfig), context="sandbox", timeout_s=5)
    yield c
    c.close()


def test_discovery_says_which_versions_a_group_serves(cluster: KubeCluster) -> None:
    versions = cluster.served_versions("security.istio.io")
    assert versions[0] == "v1" and "v1beta1" in versions
    assert cluster.served_versions("nothing.example.com") == ()
    assert cluster.served_versions("") == ("v1",)


def test_create_dry_run_writes_nothing_then_create_and_replace_with_precondition(
    cluster: KubeCluster, kube_server_with_istio: KubeTestServer
) -> None:
    cluster.create_object(REF, pa("STRICT"), dry_run=True)
    assert cluster.get_object(REF) is None
    created = cluster.create_object(REF, pa("STRICT"))
    rv = created["metadata"]["resourceVersion"]
    body = pa("PERMISSIVE")
    body["metadata"]["resourceVersion"] = rv
    replaced = cluster.replace_object(REF, body)
    assert replaced["spec"]["mtls"]["mode"] == "PERMISSIVE"
    with pytest.raises(ObjectConflict, match="409 Conflict"):
        cluster.replace_object(REF, body)  # stale resourceVersion now
    with pytest.raises(ObjectConflict):
        cluster.delete_object(REF, resource_version=rv)
    cluster.delete_object(REF, resource_version=replaced["metadata"]["resourceVersion"])
    assert cluster.get_object(REF) is None
    with pytest.raises(ObjectMissing):
        cluster.delete_object(REF)


def test_schema_violations_are_invalid_with_the_field(cluster: KubeCluster) -> None:
    with pytest.raises(ObjectInvalid) as caught:
        cluster.create_object(REF, pa("STRIKT"), dry_run=True)
    assert "spec.mtls.mode" in str(caught.value)


def test_a_500_is_cluster_unavailable_with_the_action(
    cluster: KubeCluster, kube_server_with_istio: KubeTestServer
) -> None:
    kube_server_with_istio.faults.add("POST", "peerauthentications", status=500, count=1)
    with pytest.raises(ClusterUnavailable, match="create PeerAuthentication shop/default"):
        cluster.create_object(REF, pa("STRICT"))


def test_lists_page_through_everything(
    cluster: KubeCluster, kube_server_with_istio: KubeTestServer
) -> None:
    docs = "\n---\n".join(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: shop}}\n"
        "spec: {containers: [{name: app, image: app:1}]}"
        for i in range(1205)
    )
    kube_server_with_istio.load_seed(docs)
    pods = cluster.list_objects("v1", "pods", namespace="shop")
    assert len(pods) == 1205 and pods[0]["kind"] == "Pod"
    assert cluster.list_objects("security.istio.io/v1", "peerauthentications") == []
