"""RBAC rule matching as kube-apiserver's rbac authorizer does it (k8s.io/kubernetes
plugin/pkg/auth/authorizer/rbac): wildcards, subresources, names, non-resource URLs."""

from __future__ import annotations

from bot.sandbox.kube.rbac import Attributes, _matches, forbidden


def test_resources_subresources_and_wildcards() -> None:
    pods = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
    assert _matches(pods, Attributes("list", "", "pods"))
    assert not _matches(pods, Attributes("delete", "", "pods"))
    assert not _matches(pods, Attributes("get", "apps", "pods"))
    assert not _matches(pods, Attributes("get", "", "pods", "status"))  # subresource apart
    status = {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["*"]}
    assert _matches(status, Attributes("update", "apps", "deployments", "status"))
    assert not _matches(status, Attributes("update", "apps", "deployments"))
    everything = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
    assert _matches(everything, Attributes("create", "x.io", "things", "scale"))


def test_resource_names_never_allow_create_or_list() -> None:
    named = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"],
             "resourceNames": ["meshbot"]}  # fmt: skip
    assert _matches(named, Attributes("get", "", "configmaps", name="meshbot"))
    assert not _matches(named, Attributes("get", "", "configmaps", name="other"))
    assert not _matches(named, Attributes("create", "", "configmaps"))
    assert not _matches(named, Attributes("list", "", "configmaps"))


def test_non_resource_urls_match_exactly_or_by_trailing_star() -> None:
    rule = {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*"]}
    assert _matches(rule, Attributes("get", path="/healthz"))
    assert _matches(rule, Attributes("get", path="/apis/security.istio.io/v1"))
    assert not _matches(rule, Attributes("get", path="/healthz/etcd"))
    assert not _matches(rule, Attributes("post", path="/healthz"))
    assert not _matches({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                        Attributes("get", path="/metrics"))  # fmt: skip


def test_forbidden_reads_like_the_real_server() -> None:
    user = "system:serviceaccount:meshbot:meshbot"
    named = forbidden(user, Attributes("get", "", "secrets", namespace="shop", name="db"))
    assert named.message == (
        'secrets "db" is forbidden: User "system:serviceaccount:meshbot:meshbot" cannot get '
        'resource "secrets" in API group "" in the namespace "shop"'
    )
    assert named.details == {"kind": "secrets", "name": "db"}
    scaled = forbidden(user, Attributes("update", "apps", "deployments", "scale", "shop", "web"))
    assert scaled.message.startswith('deployments.apps "web" is forbidden: User "')
    assert 'cannot update resource "deployments/scale" in API group "apps"' in scaled.message
    assert scaled.details == {"kind": "deployments", "group": "apps", "name": "web"}
    path = forbidden(user, Attributes("get", path="/metrics"))
    assert path.message == f'forbidden: User "{user}" cannot get path "/metrics"'
    assert (path.code, path.reason, path.details) == (403, "Forbidden", {})
