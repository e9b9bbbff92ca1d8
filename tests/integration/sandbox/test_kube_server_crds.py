"""CRDs in the Kubernetes API test server: served versions, schema validation, patches."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from bot.sandbox.kube import KubeTestServer

VS = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "reviews"},
    "spec": {
        "hosts": ["reviews"],
        "http": [{"route": [{"destination": {"host": "reviews"}}], "timeout": "5s"}],
    },
}


def _custom(api: Any) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def test_crd_served_at_every_version(
    kube_server_with_istio: KubeTestServer, kube_api_client: Any
) -> None:
    co = _custom(kube_api_client)
    created = co.create_namespaced_custom_object(
        "networking.istio.io", "v1", "default", "virtualservices", VS
    )
    assert created["apiVersion"] == "networking.istio.io/v1"
    beta = co.get_namespaced_custom_object(
        "networking.istio.io", "v1beta1", "default", "virtualservices", "reviews"
    )
    assert beta["apiVersion"] == "networking.istio.io/v1beta1"
    assert beta["metadata"]["uid"] == created["metadata"]["uid"]
    listed = co.list_namespaced_custom_object(
        "networking.istio.io", "v1alpha3", "default", "virtualservices"
    )
    assert listed["kind"] == "VirtualServiceList"
    assert [i["apiVersion"] for i in listed["items"]] == ["networking.istio.io/v1alpha3"]
    resources = client.ApisApi(kube_api_client).get_api_versions()
    net = next(g for g in resources.groups if g.name == "networking.istio.io")
    assert net.preferred_version.version == "v1"


def test_crd_created_over_the_api_is_then_served(kube_api_client: Any) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["size"],
                                    "properties": {"size": {"type": "integer", "minimum": 1}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    client.ApiextensionsV1Api(kube_api_client).create_custom_resource_definition(crd)
    co = _custom(kube_api_client)

    def create_widget(name: str, size: object) -> Any:
        return co.create_namespaced_custom_object(
            "example.com",
            "v1",
            "default",
            "widgets",
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": name},
                "spec": {"size": size},
            },
        )

    create_widget("w", 2)
    with pytest.raises(ApiException) as err:
        create_widget("x", "big")
    assert err.value.status == 422
    assert json.loads(err.value.body)["details"]["causes"][0]["field"] == "spec.size"
    client.ApiextensionsV1Api(kube_api_client).delete_custom_resource_definition(
        "widgets.example.com"
    )
    with pytest.raises(ApiException) as err:
        co.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert err.value.status == 404


def test_invalid_peer_authentication_is_422(
    kube_server_with_istio: KubeTestServer, kube_api_client: Any
) -> None:
    pa = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": "FOO"}},
    }
    with pytest.raises(ApiException) as err:
        _custom(kube_api_client).create_namespaced_custom_object(
            "security.istio.io", "v1", "istio-system", "peerauthentications", pa
        )
    body = json.loads(err.value.body)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "FOO": supported values: '
            '"UNSET", "DISABLE", "PERMISSIVE", "STRICT"',
            "field": "spec.mtls.mode",
        }
    ]
    assert 'spec.mtls.mode: Unsupported value: "FOO"' in body["message"]
    pa["spec"]["mtls"]["mode"] = "STRICT"
    _custom(kube_api_client).create_namespaced_custom_object(
        "security.istio.io", "v1", "istio-system", "peerauthentications", pa
    )


def test_custom_resources_reject_strategic_merge(
    kube_server_with_istio: KubeTestServer, kube_api_client: Any
) -> None:
    co = _custom(kube_api_client)
    co.create_namespaced_custom_object(
        "networking.istio.io", "v1", "default", "virtualservices", VS
    )
    request = urllib.request.Request(
        kube_server_with_istio.url
        + "/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews",
        data=b'{"spec": {"hosts": ["x"]}}',
        method="PATCH",
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    with err.value as response:
        assert response.status == 415
        assert json.loads(response.read())["reason"] == "UnsupportedMediaType"
    patched = co.patch_namespaced_custom_object(
        "networking.istio.io",
        "v1",
        "default",
        "virtualservices",
        "reviews",
        {"spec": {"http": [{"route": [{"destination": {"host": "reviews"}}], "timeout": "9s"}]}},
    )
    assert patched["spec"]["http"][0]["timeout"] == "9s"
    assert patched["metadata"]["generation"] == 2


def test_seed_loads_crds_and_objects(kube_server_with_istio: KubeTestServer) -> None:
    kube_server_with_istio.load_seed(
        """
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: dr, namespace: default}
spec: {host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
"""
    )
    got = kube_server_with_istio.get_object(
        "networking.istio.io/v1", "destinationrules", "dr", "default"
    )
    assert got is not None and got["apiVersion"] == "networking.istio.io/v1"
