"""The test server holds ServiceAccount tokens to RBAC, as a real API server does.

Tokens come from TokenRequest (``kubectl create token``), travel over HTTPS with the CA
the server wrote into the kubeconfig, and every request made with one is decided by the
stored Roles, ClusterRoles and bindings: kubectl and the official client see the real
server's 403 wording, ``kubectl auth can-i`` answers from the same rules, and the admin
kubeconfig keeps doing everything.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.kube import KubeTestServer
from tests.fixtures.kube import KUBECTL
from tests.fixtures.shared import missing

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

ACCOUNT = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: tools}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: bot, namespace: tools}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop}
spec: {containers: [{name: web, image: registry.example.com/web:1}]}
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: hunter2}
"""
POD_READER = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: shop}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [pods/status], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bot-reads-pods, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: ServiceAccount, name: bot, namespace: tools}]
"""
NODE_READER = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: node-reader}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [list]}
- {apiGroups: [""], resources: [configmaps], verbs: [get], resourceNames: [allowed]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: service-accounts-read-nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-reader}
subjects: [{kind: Group, name: "system:serviceaccounts:tools", apiGroup: rbac.authorization.k8s.io}]
"""
USER = "system:serviceaccount:tools:bot"


@pytest.fixture
def server() -> Any:
    with KubeTestServer() as started:
        started.load_seed(ACCOUNT)
        yield started


def _kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    if not Path(KUBECTL).exists():
        missing(f"kubectl not installed ({KUBECTL} absent)")

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "c")]
        return subprocess.run(
            [*cmd, *args], input=stdin, capture_output=True, text=True, timeout=60
        )

    return run


@pytest.fixture
def admin(server: KubeTestServer, tmp_path: Path) -> Kubectl:
    return _kubectl(server.write_kubeconfig(tmp_path / "admin"), tmp_path / "admin-cache")


@pytest.fixture
def bot(server: KubeTestServer, admin: Kubectl, tmp_path: Path) -> Kubectl:
    created = admin("create", "token", "bot", "-n", "tools")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    kubeconfig = server.write_kubeconfig(tmp_path / "bot", token=token, namespace="shop")
    assert "certificate-authority-data" in kubeconfig.read_text()
    assert server.https_url in kubeconfig.read_text()
    return _kubectl(kubeconfig, tmp_path / "bot-cache")


def test_a_service_account_may_do_only_what_its_roles_grant(
    server: KubeTestServer, admin: Kubectl, bot: Kubectl
) -> None:
    denied = bot("get", "pods", "-n", "shop")
    assert denied.returncode == 1
    assert denied.stderr.strip() == (
        f'Error from server (Forbidden): pods is forbidden: User "{USER}" cannot list '
        'resource "pods" in API group "" in the namespace "shop"'
    )

    assert admin("apply", "-f", "-", stdin=POD_READER).returncode == 0
    listed = bot("get", "pods", "-n", "shop", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["pod/web-1"]
    # a RoleBinding grants in its own namespace only
    everywhere = bot("get", "pods", "-A")
    assert f'User "{USER}" cannot list resource "pods" in API group "" at the cluster scope' in (
        everywhere.stderr
    )
    elsewhere = bot("get", "pods", "-n", "tools")
    assert 'in the namespace "tools"' in elsewhere.stderr
    secret = bot("get", "secret", "db", "-n", "shop")
    assert secret.stderr.strip() == (
        f'Error from server (Forbidden): secrets "db" is forbidden: User "{USER}" cannot get '
        'resource "secrets" in API group "" in the namespace "shop"'
    )
    delete = bot("delete", "pod", "web-1", "-n", "shop")
    assert 'cannot delete resource "pods"' in delete.stderr
    assert server.get_object("v1", "pods", "web-1", "shop") is not None

    # the admin kubeconfig is untouched by RBAC
    assert admin("get", "secret", "db", "-n", "shop").returncode == 0


def test_can_i_answers_from_the_same_rules(admin: Kubectl, bot: Kubectl) -> None:
    assert admin("apply", "-f", "-", stdin=POD_READER + "---\n" + NODE_READER).returncode == 0

    def can(*args: str) -> str:
        return bot("auth", "can-i", *args).stdout.strip()

    assert can("list", "pods", "-n", "shop") == "yes"
    assert can("delete", "pods", "-n", "shop") == "no"
    assert can("get", "pods", "--subresource=status", "-n", "shop") == "yes"
    assert can("list", "pods", "-n", "tools") == "no"
    assert can("list", "nodes") == "yes"  # through the group system:serviceaccounts:tools
    assert can("get", "configmap/allowed", "-n", "shop") == "yes"  # resourceNames
    assert can("get", "configmap/other", "-n", "shop") == "no"
    assert can("get", "/version") == "yes"  # what every authenticated user may do


def test_the_official_client_gets_the_real_status_and_verifies_the_ca(
    server: KubeTestServer, tmp_path: Path
) -> None:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    token = server.create_token("tools", "bot")
    kubeconfig = server.write_kubeconfig(tmp_path / "kc", token=token)
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    assert configuration.verify_ssl and configuration.host == server.https_url
    with client.ApiClient(configuration) as api:
        with pytest.raises(ApiException) as refused:
            client.CoreV1Api(api).list_node()
        assert refused.value.status == 403
        assert json.loads(refused.value.body) == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f'nodes is forbidden: User "{USER}" cannot list resource "nodes" in API '
            'group "" at the cluster scope',
            "reason": "Forbidden",
            "details": {"kind": "nodes"},
            "code": 403,
        }
        server.load_seed(NODE_READER)
        assert client.CoreV1Api(api).list_node().items == []
        review = client.AuthorizationV1Api(api).create_self_subject_access_review(
            {"spec": {"resourceAttributes": {"verb": "list", "resource": "nodes"}}}
        )
        assert review.status.allowed
        assert review.status.reason == (
            'RBAC: allowed by ClusterRoleBinding "service-accounts-read-nodes" of ClusterRole '
            '"node-reader" to ServiceAccount "bot/tools"'
        )

    # another CA does not verify this server
    other = KubeTestServer()
    strict = ssl.create_default_context(cadata=other.tls.ca_pem.decode())
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(server.https_url + "/version", context=strict, timeout=10)
    good = ssl.create_default_context(cadata=server.tls.ca_pem.decode())
    with urllib.request.urlopen(server.https_url + "/version", context=good, timeout=10) as r:
        assert json.loads(r.read())["gitVersion"] == server.git_version


def test_a_binding_to_a_missing_role_says_so(server: KubeTestServer, tmp_path: Path) -> None:
    server.load_seed(NODE_READER.split("---")[1])  # the binding without its ClusterRole
    token = server.create_token("tools", "bot")
    status, body = _get(server, "/api/v1/nodes", token)
    assert status == 403
    assert body["message"].endswith(
        'at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "node-reader" not found'
    )
    status, body = _get(server, "/metrics", token)
    assert (status, body["message"]) == (
        403,
        f'forbidden: User "{USER}" cannot get path "/metrics": RBAC: '
        'clusterrole.rbac.authorization.k8s.io "node-reader" not found',
    )


def test_tokens_are_refused_when_they_no_longer_hold(server: KubeTestServer) -> None:
    server.load_seed(NODE_READER)
    good = server.create_token("tools", "bot")
    assert _get(server, "/api/v1/nodes", good)[0] == 200
    other_audience = server.create_token("tools", "bot", audiences=["vault"])
    assert _get(server, "/api/v1/nodes", other_audience)[0] == 401
    tampered = good.rsplit(".", 1)[0] + "." + good.rsplit(".", 1)[1][::-1]
    assert _get(server, "/api/v1/nodes", tampered)[0] == 401
    foreign = KubeTestServer()
    foreign.load_seed(ACCOUNT)
    assert _get(server, "/api/v1/nodes", foreign.create_token("tools", "bot"))[0] == 401
    with pytest.raises(Exception, match="less than 10 minutes"):
        server.create_token("tools", "bot", seconds=60)

    # a deleted and re-created ServiceAccount does not revive the old token
    account = server.table.get("", "v1", "serviceaccounts")
    assert account is not None
    server.writer.delete(account, "tools", "bot", None, False)
    assert _get(server, "/api/v1/nodes", good)[0] == 401
    server.load_seed(ACCOUNT)
    assert _get(server, "/api/v1/nodes", good)[0] == 401
    assert _get(server, "/api/v1/nodes", server.create_token("tools", "bot"))[0] == 200


def test_expired_tokens_are_refused(server: KubeTestServer) -> None:
    now = int(time.time())
    uid = server.get_object("v1", "serviceaccounts", "bot", "tools")["metadata"]["uid"]  # type: ignore[index]
    server.create_token("tools", "bot")  # the signing key exists from here on
    claims = {
        "aud": ["https://kubernetes.default.svc.cluster.local"],
        "exp": now - 1,
        "iat": now - 4000,
        "nbf": now - 4000,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": USER,
        "kubernetes.io": {"namespace": "tools", "serviceaccount": {"name": "bot", "uid": uid}},
    }
    assert _get(server, "/version", server.tokens.sign(claims))[0] == 401
    claims["exp"] = now + 600
    assert _get(server, "/version", server.tokens.sign(claims))[0] == 200


def _get(server: KubeTestServer, path: str, token: str) -> tuple[int, Any]:
    context = ssl.create_default_context(cadata=server.tls.ca_pem.decode())
    request = urllib.request.Request(
        server.https_url + path, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
