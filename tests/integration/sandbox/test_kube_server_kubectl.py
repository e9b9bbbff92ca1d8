"""Conformance of the Kubernetes API test server, seen through kubectl."""

from __future__ import annotations

import json
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

from bot.sandbox.kube import KubeTestServer

Kubectl = Callable[..., CompletedProcess[str]]

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default, labels: {{app: web}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {image}
        ports: [{{containerPort: 80, name: http}}]
        env: [{{name: MODE, value: "a"}}]
"""


def _json(result: CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_get_with_label_and_field_selectors(kube_server: KubeTestServer, kubectl: Kubectl) -> None:
    kube_server.load_seed(
        "\n---\n".join(
            f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default, labels: {{app: {app}}}}}
spec: {{nodeName: {node}, containers: [{{name: c, image: busybox}}]}}
status: {{phase: {phase}}}
"""
            for name, app, node, phase in (
                ("a", "web", "n1", "Running"),
                ("b", "web", "n2", "Pending"),
                ("c", "db", "n2", "Running"),
            )
        )
    )

    def names(*args: str) -> list[str]:
        return [
            i["metadata"]["name"]
            for i in _json(kubectl("get", "pods", "-o", "json", *args))["items"]
        ]

    assert names("-l", "app=web") == ["a", "b"]
    assert names("-l", "app!=web") == ["c"]
    assert names("--field-selector", "spec.nodeName=n2") == ["b", "c"]
    assert names("--field-selector", "status.phase=Running", "-l", "app in (web,db)") == ["a", "c"]
    assert "pod/c" in kubectl("get", "po", "-o", "name", "-A").stdout


def test_apply_create_then_update(kube_server: KubeTestServer, kubectl: Kubectl) -> None:
    out = kubectl("apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=1, image="nginx:1"))
    assert "deployment.apps/web created" in out.stdout
    out = kubectl("apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=1, image="nginx:1"))
    assert "unchanged" in out.stdout
    out = kubectl("apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=3, image="nginx:2"))
    assert "configured" in out.stdout
    dep = _json(kubectl("get", "deploy", "web", "-o", "json"))
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert dep["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in dep["metadata"]["annotations"]


def test_patch_merge_json_strategic(kube_server: KubeTestServer, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=1, image="nginx:1"))
    kubectl("patch", "deploy", "web", "--type", "merge", "-p", '{"spec":{"replicas":2}}')
    kubectl(
        "patch",
        "deploy",
        "web",
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:3"}]',
    )
    kubectl(
        "patch",
        "deploy",
        "web",
        "--type",
        "strategic",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"EXTRA","value":"1"}]}]}}}}',
    )
    dep = _json(kubectl("get", "deploy", "web", "-o", "json"))
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert dep["spec"]["replicas"] == 2 and container["image"] == "nginx:3"
    assert [e["name"] for e in container["env"]] == ["MODE", "EXTRA"]


def test_server_dry_run_stores_nothing(kube_server: KubeTestServer, kubectl: Kubectl) -> None:
    rv = kube_server.store.rv
    out = kubectl(
        "apply", "--dry-run=server", "-f", "-", stdin=DEPLOYMENT.format(replicas=1, image="x")
    )
    assert "server dry run" in out.stdout
    assert kube_server.store.rv == rv
    assert kubectl("get", "deploy", "web", check=False).returncode != 0


def test_delete(kube_server: KubeTestServer, kubectl: Kubectl) -> None:
    kubectl("create", "-f", "-", stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1}\n")
    assert 'configmap "c1" deleted' in kubectl("delete", "configmap", "c1").stdout
    result = kubectl("get", "configmap", "c1", check=False)
    assert result.returncode == 1 and 'configmaps "c1" not found' in result.stderr


def test_server_side_apply(kube_server: KubeTestServer, kubectl: Kubectl) -> None:
    kubectl(
        "apply", "--server-side", "-f", "-", stdin=DEPLOYMENT.format(replicas=1, image="nginx:1")
    )
    kubectl(
        "apply", "--server-side", "-f", "-", stdin=DEPLOYMENT.format(replicas=4, image="nginx:1")
    )
    assert _json(kubectl("get", "deploy", "web", "-o", "json"))["spec"]["replicas"] == 4


def test_custom_resources_with_kubectl(
    kube_server_with_istio: KubeTestServer, kubectl: Kubectl
) -> None:
    vs = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    timeout: 5s
"""
    kubectl("apply", "-f", "-", stdin=vs)
    kubectl("apply", "-f", "-", stdin=vs.replace("5s", "7s"))
    got = _json(
        kubectl("get", "virtualservices.v1beta1.networking.istio.io", "reviews", "-o", "json")
    )
    assert got["apiVersion"] == "networking.istio.io/v1beta1"
    assert got["spec"]["http"][0]["timeout"] == "7s"
    assert "reviews" in kubectl("get", "vs").stdout
    bad = kubectl(
        "apply",
        "-f",
        "-",
        check=False,
        stdin="apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: FOO}}\n",
    )
    assert bad.returncode != 0 and 'spec.mtls.mode: Unsupported value: "FOO"' in bad.stderr
