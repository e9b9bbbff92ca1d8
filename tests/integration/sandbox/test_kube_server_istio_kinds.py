"""The test server's built-in Istio kinds: served as Istio serves them, validated on the
rules meshbot relies on, and replaced by Istio's real CRDs when those are created."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from bot.adapters.kube import KubeCluster
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.kube.seeds import parse_yaml, seed_path
from tests.fixtures.kube import KUBECTL
from tests.fixtures.shared import missing

EXPECTED = {
    ("networking.istio.io", "virtualservices"): ("VirtualService", ["v1", "v1beta1", "v1alpha3"]),
    ("networking.istio.io", "destinationrules"): ("DestinationRule", ["v1", "v1beta1", "v1alpha3"]),
    ("networking.istio.io", "gateways"): ("Gateway", ["v1", "v1beta1", "v1alpha3"]),
    ("networking.istio.io", "sidecars"): ("Sidecar", ["v1", "v1beta1", "v1alpha3"]),
    ("networking.istio.io", "serviceentries"): ("ServiceEntry", ["v1", "v1beta1", "v1alpha3"]),
    ("security.istio.io", "peerauthentications"): ("PeerAuthentication", ["v1", "v1beta1"]),
}


def _status(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def test_a_bare_server_serves_istios_kinds_at_istios_versions(kube_api_client: Any) -> None:
    groups = {g.name: g for g in client.ApisApi(kube_api_client).get_api_versions().groups}
    for (group, plural), (kind, versions) in EXPECTED.items():
        served = [v.version for v in groups[group].versions]
        assert served == [v for v in versions if v in served] and set(versions) <= set(served)
        assert groups[group].preferred_version.version == "v1"
        for version in versions:
            resources = client.CustomObjectsApi(kube_api_client).get_api_resources(group, version)
            entry = next(r for r in resources.resources if r.name == plural)
            assert entry.kind == kind and entry.namespaced


def test_objects_are_one_object_at_every_version(kube_api_client: Any) -> None:
    custom = client.CustomObjectsApi(kube_api_client)
    vs = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": {
            "hosts": ["reviews"],
            "http": [{"route": [{"destination": {"host": "reviews"}}], "timeout": "1.5s"}],
        },
    }
    created = custom.create_namespaced_custom_object(
        "networking.istio.io", "v1beta1", "default", "virtualservices", vs
    )
    v1 = custom.get_namespaced_custom_object(
        "networking.istio.io", "v1", "default", "virtualservices", "reviews"
    )
    assert v1["apiVersion"] == "networking.istio.io/v1"
    assert v1["metadata"]["uid"] == created["metadata"]["uid"]
    assert v1["spec"]["http"][0]["timeout"] == "1.5s"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "default"},
                "spec": {"mtls": {"mode": "STRICTEST"}},
            },
            "spec.mtls.mode",
        ),
        (
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "slow"},
                "spec": {"hosts": ["slow"], "http": [{"timeout": "2 seconds"}]},
            },
            "spec.http[0].timeout",
        ),
        (
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "nowhere"},
                "spec": {"hosts": ["a"], "http": [{"route": [{"destination": {"port": {}}}]}]},
            },
            "spec.http[0].route[0].destination.host",
        ),
        (
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": {"name": "nohost"},
                "spec": {"subsets": [{"name": "v1"}]},
            },
            "spec.host",
        ),
    ],
)
def test_what_istio_refuses_is_refused_with_422_naming_the_field(
    kube_api_client: Any, body: dict[str, Any], field: str
) -> None:
    group, version = body["apiVersion"].split("/")
    plural = {"PeerAuthentication": "peerauthentications", "VirtualService": "virtualservices"}
    plural["DestinationRule"] = "destinationrules"
    with pytest.raises(ApiException) as caught:
        client.CustomObjectsApi(kube_api_client).create_namespaced_custom_object(
            group, version, "default", plural[body["kind"]], body
        )
    assert caught.value.status == 422
    assert field in [c["field"] for c in _status(caught.value)["details"]["causes"]]


def test_the_timeouts_seed_works_alone_and_kubectl_and_meshbot_read_it(
    kube_server: KubeTestServer, kubeconfig: Path
) -> None:
    kube_server.load_seed(seed_path("timeouts"))
    cluster = KubeCluster("sandbox", kubeconfig=str(kubeconfig), context="sandbox")
    try:
        assert cluster.virtual_service_api_version() == "networking.istio.io/v1"
        names = sorted(v["metadata"]["name"] for v in cluster.list_virtual_services())
    finally:
        cluster.close()
    assert names == ["payments", "reviews"]
    if not Path(KUBECTL).is_file():
        missing(f"kubectl is not installed (expected at {KUBECTL})")
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "get", "vs", "-A", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == [
        "virtualservice.networking.istio.io/payments",
        "virtualservice.networking.istio.io/reviews",
    ]


def test_istios_real_crd_created_over_the_api_replaces_the_built_in_one(
    kube_server: KubeTestServer, kube_api_client: Any, istio_crds_path: Path
) -> None:
    kube_server.load_seed(
        "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\n"
        "metadata: {name: before, namespace: default}\nspec: {hosts: [before]}\n"
    )
    crd = next(
        d
        for d in parse_yaml(istio_crds_path)
        if d.get("kind") == "CustomResourceDefinition"
        and d["metadata"]["name"] == "virtualservices.networking.istio.io"
    )
    only_v1 = copy.deepcopy(crd)
    for version in only_v1["spec"]["versions"]:
        version["served"] = version["name"] == "v1"
    created = client.ApiextensionsV1Api(kube_api_client).create_custom_resource_definition(only_v1)
    assert created.metadata.name == "virtualservices.networking.istio.io"  # not a 409
    custom = client.CustomObjectsApi(kube_api_client)
    with pytest.raises(ApiException) as caught:  # the CRD now decides what is served
        custom.list_namespaced_custom_object(
            "networking.istio.io", "v1alpha3", "default", "virtualservices"
        )
    assert caught.value.status == 404
    kept = custom.get_namespaced_custom_object(
        "networking.istio.io", "v1", "default", "virtualservices", "before"
    )
    assert kept["spec"]["hosts"] == ["before"]  # objects stored before the CRD are kept
    # the other built-in kinds are untouched
    custom.list_namespaced_custom_object(
        "networking.istio.io", "v1alpha3", "default", "destinationrules"
    )


def test_every_real_istio_crd_loads_over_the_built_ins(
    kube_server_with_istio: KubeTestServer, kube_api_client: Any
) -> None:
    crds = client.ApiextensionsV1Api(kube_api_client).list_custom_resource_definition()
    names = {c.metadata.name for c in crds.items}
    assert {"virtualservices.networking.istio.io", "peerauthentications.security.istio.io"} <= (
        names
    )
