"""Sidecar injection by the test server, from stored MutatingWebhookConfigurations.

The webhook configurations here have the selectors Istio's istiod chart (1.30) renders:
``istio-sidecar-injector`` for the default revision, ``istio-sidecar-injector-1-30-3``
for revision 1-30-3 and ``istio-revision-tag-default`` for a default tag pointing at
1-30-3. (test_kube_server_helm.py installs the real charts with Helm on Python 3.12.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

import httpx
import pytest
import yaml

from bot.sandbox.kube import KubeTestServer

Kubectl = Callable[..., CompletedProcess[str]]
STATUS = "sidecar.istio.io/status"


def _webhook(
    prefix: str, service: str, ns_exprs: list[Any], obj_exprs: list[Any]
) -> dict[str, Any]:
    return {
        "name": f"{prefix}sidecar-injector.istio.io",
        "clientConfig": {
            "service": {
                "name": service,
                "namespace": "istio-system",
                "path": "/inject",
                "port": 443,
            }
        },
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
            }
        ],
        "namespaceSelector": {"matchExpressions": ns_exprs},
        "objectSelector": {"matchExpressions": obj_exprs},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Fail",
    }


def _rev_webhooks(service: str, revision: str) -> list[dict[str, Any]]:
    not_false = {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}
    return [
        _webhook(
            "rev.namespace.",
            service,
            [
                {"key": "istio.io/rev", "operator": "In", "values": [revision]},
                {"key": "istio-injection", "operator": "DoesNotExist"},
            ],
            [not_false],
        ),
        _webhook(
            "rev.object.",
            service,
            [
                {"key": "istio.io/rev", "operator": "DoesNotExist"},
                {"key": "istio-injection", "operator": "DoesNotExist"},
            ],
            [not_false, {"key": "istio.io/rev", "operator": "In", "values": [revision]}],
        ),
    ]


def _default_webhooks(service: str) -> list[dict[str, Any]]:
    return [
        _webhook(
            "namespace.",
            service,
            [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}],
            [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}],
        ),
        _webhook(
            "object.",
            service,
            [
                {"key": "istio-injection", "operator": "DoesNotExist"},
                {"key": "istio.io/rev", "operator": "DoesNotExist"},
            ],
            [
                {"key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]},
                {"key": "istio.io/rev", "operator": "DoesNotExist"},
            ],
        ),
    ]


def _mwc(name: str, webhooks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": webhooks,
    }


def _injector_config(
    revision: str, tag: str, extra_global: dict[str, Any] | None = None
) -> dict[str, Any]:
    values = {
        "global": {
            "hub": "docker.io/istio",
            "tag": tag,
            "proxy": {
                "image": "proxyv2",
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "2000m"},
                },
            },
            **(extra_global or {}),
        },
        "revision": revision,
        "pilot": {"env": {}, "cni": {"enabled": False}},
    }
    suffix = f"-{revision}" if revision else ""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"istio-sidecar-injector{suffix}", "namespace": "istio-system"},
        "data": {
            "values": json.dumps(values, indent=2),
            "config": "defaultTemplates: [sidecar]\npolicy: enabled\nalwaysInjectSelector: []\n",
        },
    }


def _service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "istio-system"},
        "spec": {"selector": {"app": "istiod"}, "ports": [{"name": "https-webhook", "port": 443}]},
    }


NODE_132 = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "old-node"},
    "status": {"nodeInfo": {"kubeletVersion": "v1.32.4"}},
}


@pytest.fixture
def istio(kube_server: KubeTestServer) -> KubeTestServer:
    """Two revisions, as the charts install them, and a default tag on 1-30-3."""
    objects = [
        _service("istiod"),
        _service("istiod-1-30-3"),
        _injector_config("", "1.29.6"),
        _injector_config("1-30-3", "1.30.3", {"variant": "distroless"}),
        _mwc(
            "istio-sidecar-injector",
            _rev_webhooks("istiod", "default") + _default_webhooks("istiod"),
        ),
        _mwc("istio-sidecar-injector-1-30-3", _rev_webhooks("istiod-1-30-3", "1-30-3")),
    ]
    kube_server.load_objects(objects)
    return kube_server


def _create_pod(
    kubectl: Kubectl, ns: str, labels: dict[str, str] | None = None, node: str = ""
) -> dict[str, Any]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app", "namespace": ns, "labels": {"app": "shop", **(labels or {})}},
        "spec": {
            "containers": [{"name": "shop", "image": "shop:1"}],
            **({"nodeName": node} if node else {}),
        },
    }
    kubectl("create", "namespace", ns, check=False)
    result = kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(pod))
    return json.loads(result.stdout)


def _proxy(pod: dict[str, Any]) -> tuple[str, str] | None:
    spec = pod["spec"]
    for where in ("initContainers", "containers"):
        for c in spec.get(where) or ():
            if c["name"] == "istio-proxy":
                return where, c["image"]
    return None


def test_namespace_labels_choose_the_revision(istio: KubeTestServer, kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "legacy")
    kubectl("label", "namespace", "legacy", "istio-injection=enabled")
    kubectl("create", "namespace", "canary")
    kubectl("label", "namespace", "canary", "istio.io/rev=1-30-3")

    legacy = _create_pod(kubectl, "legacy")
    canary = _create_pod(kubectl, "canary")
    outside = _create_pod(kubectl, "outside")

    # No node older than 1.33 in the cluster: istiod injects native sidecars.
    assert _proxy(legacy) == ("initContainers", "docker.io/istio/proxyv2:1.29.6")
    assert _proxy(canary) == ("initContainers", "docker.io/istio/proxyv2:1.30.3-distroless")
    assert _proxy(outside) is None and STATUS not in (outside["metadata"].get("annotations") or {})
    status = json.loads(canary["metadata"]["annotations"][STATUS])
    assert status == {
        "initContainers": ["istio-init", "istio-proxy"],
        "containers": None,
        "volumes": [
            "workload-socket",
            "credential-socket",
            "workload-certs",
            "istio-envoy",
            "istio-data",
            "istio-podinfo",
            "istio-token",
            "istiod-ca-cert",
            "istio-ca-crl",
        ],
        "imagePullSecrets": None,
        "revision": "1-30-3",
    }
    assert canary["metadata"]["annotations"]["istio.io/rev"] == "1-30-3"
    assert canary["metadata"]["labels"]["service.istio.io/canonical-name"] == "shop"
    assert canary["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"
    proxy = next(c for c in canary["spec"]["initContainers"] if c["name"] == "istio-proxy")
    assert proxy["restartPolicy"] == "Always"
    assert proxy["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "2000m"},
    }


def test_pod_labels_opt_in_and_out(istio: KubeTestServer, kubectl: Kubectl) -> None:
    by_revision = _create_pod(kubectl, "plain", {"istio.io/rev": "1-30-3"})
    assert _proxy(by_revision) == ("initContainers", "docker.io/istio/proxyv2:1.30.3-distroless")
    kubectl("label", "namespace", "plain", "istio-injection=enabled")
    kubectl("delete", "pod", "app", "-n", "plain")
    opted_out = _create_pod(kubectl, "plain", {"sidecar.istio.io/inject": "false"})
    assert _proxy(opted_out) is None


def test_on_an_older_kubelet_the_proxy_is_a_regular_container(
    istio: KubeTestServer, kubectl: Kubectl
) -> None:
    istio.load_objects([NODE_132])
    kubectl("create", "namespace", "legacy")
    kubectl("label", "namespace", "legacy", "istio-injection=enabled")
    pod = _create_pod(kubectl, "legacy", node="old-node")
    assert _proxy(pod) == ("containers", "docker.io/istio/proxyv2:1.29.6")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["shop", "istio-proxy"]
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-init"]
    raw = pod["metadata"]["annotations"][STATUS]
    assert raw.startswith(
        '{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":['
    )
    assert raw.endswith('"imagePullSecrets":null,"revision":"default"}')


def test_overlapping_webhooks_the_last_in_name_order_decides(
    istio: KubeTestServer, kubectl: Kubectl
) -> None:
    """The API server calls matching webhooks in configuration-name order and istiod
    re-injects an injected pod: with a default tag on 1-30-3 (istio-revision-tag-default)
    AND the default revision's istio-sidecar-injector both matching, the latter wins —
    until it stops matching (istioctl deactivates it when it moves the tag)."""
    tag = _mwc(
        "istio-revision-tag-default",
        _rev_webhooks("istiod-1-30-3", "default") + _default_webhooks("istiod-1-30-3"),
    )
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(tag))
    kubectl("create", "namespace", "legacy")
    kubectl("label", "namespace", "legacy", "istio-injection=enabled")

    both = _create_pod(kubectl, "legacy")
    assert _proxy(both) == ("initContainers", "docker.io/istio/proxyv2:1.29.6")
    status = json.loads(both["metadata"]["annotations"][STATUS])
    assert status["revision"] == "default"
    names = [c["name"] for c in both["spec"]["initContainers"]]
    assert names == ["istio-init", "istio-proxy"]  # replaced, not added twice
    assert len(both["spec"]["volumes"]) == len(status["volumes"])

    kubectl("delete", "mutatingwebhookconfiguration", "istio-sidecar-injector")
    kubectl("delete", "pod", "app", "-n", "legacy")
    tag_only = _create_pod(kubectl, "legacy")
    assert _proxy(tag_only) == ("initContainers", "docker.io/istio/proxyv2:1.30.3-distroless")
    assert json.loads(tag_only["metadata"]["annotations"][STATUS])["revision"] == "1-30-3"


def test_a_webhook_without_its_istiod_fails_pod_creation(
    istio: KubeTestServer, kubectl: Kubectl
) -> None:
    kubectl("delete", "service", "istiod-1-30-3", "-n", "istio-system")
    kubectl("create", "namespace", "canary")
    kubectl("label", "namespace", "canary", "istio.io/rev=1-30-3")
    reply = httpx.post(
        f"{istio.url}/api/v1/namespaces/canary/pods",
        json={"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "c:1"}]}},
    )
    assert reply.status_code == 500
    message = reply.json()["message"]
    assert 'failed calling webhook "rev.namespace.sidecar-injector.istio.io"' in message
    assert 'service "istiod-1-30-3" not found' in message
    assert istio.get_object("v1", "pods", "p", "canary") is None


def test_deployment_pods_are_injected_by_the_controllers() -> None:
    server = KubeTestServer(controllers=True, ready_seconds=0.05)
    server.start()
    try:
        server.load_objects(
            [
                _service("istiod-1-30-3"),
                _injector_config("1-30-3", "1.30.3"),
                _mwc("istio-sidecar-injector-1-30-3", _rev_webhooks("istiod-1-30-3", "1-30-3")),
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": "shop", "labels": {"istio.io/rev": "1-30-3"}},
                },
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": "shop"},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                        },
                    },
                },
            ]
        )
        deadline = time.monotonic() + 30
        while True:
            pods = [
                server.store.get(("", "pods"), k) for k in server.store.sorted_keys(("", "pods"))
            ]
            ready = [p for p in pods if p and p.get("status", {}).get("conditions")]
            if len(ready) == 2 and all(
                any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"]["conditions"]
                )
                for p in ready
            ):
                break
            assert time.monotonic() < deadline, "pods never became Ready"
            time.sleep(0.05)
        for pod in ready:
            assert _proxy(pod) == ("initContainers", "docker.io/istio/proxyv2:1.30.3")
            assert pod["metadata"]["annotations"]["istio.io/rev"] == "1-30-3"
            sidecar = next(
                s for s in pod["status"]["initContainerStatuses"] if s["name"] == "istio-proxy"
            )
            assert sidecar["ready"] is True
    finally:
        server.stop()
