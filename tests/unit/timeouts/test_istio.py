"""Istio's naming and delegation rules as the audit reads them: gateway names, match
conflicts between a root and its delegate (Istio's `hasConflict`), what a delegate
inherits, and which Gateway server hosts take a VirtualService."""

from __future__ import annotations

from typing import Any

import pytest

from commands.timeouts.istio import exported_to, resolve_gateway, server_hosts_accept
from commands.timeouts.merge import has_conflict, merge


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mesh", "mesh"),
        ("public", "shop/public"),
        ("./public", "shop/public"),
        ("istio-system/public", "istio-system/public"),
        ("public.istio-system.svc.cluster.local", "istio-system/public"),
        ("public.istio-system", "istio-system/public"),
    ],
)
def test_gateway_names_resolve_like_istio(name: str, expected: str) -> None:
    assert resolve_gateway(name, "shop") == expected


def uri(kind: str, value: str) -> dict[str, Any]:
    return {"uri": {kind: value}}


@pytest.mark.parametrize(
    ("root", "leaf", "conflict"),
    [
        pytest.param({}, uri("prefix", "/x"), False, id="root sets nothing"),
        pytest.param(uri("prefix", "/api"), uri("prefix", "/api/v1"), False, id="narrower prefix"),
        pytest.param(uri("prefix", "/api"), uri("prefix", "/ap"), True, id="wider prefix"),
        pytest.param(uri("prefix", "/api"), uri("exact", "/api/x"), False, id="exact inside"),
        pytest.param(uri("prefix", "/api"), uri("prefix", "/apis"), False, id="string prefix"),
        pytest.param(uri("exact", "/a"), uri("exact", "/a"), False, id="same exact"),
        pytest.param(uri("exact", "/a"), uri("prefix", "/a"), True, id="exact vs prefix"),
        pytest.param(uri("regex", ".*"), uri("regex", ".*"), True, id="two regexes"),
        pytest.param(uri("prefix", "/a"), uri("regex", "/a.*"), True, id="regex vs prefix"),
        pytest.param(uri("prefix", "/a"), {}, False, id="delegate sets nothing"),
        pytest.param(
            {"headers": {"x": {"exact": "1"}}},
            {"headers": {"x": {"exact": "2"}}},
            True,
            id="header differs",
        ),
        pytest.param(
            {"headers": {"x": {"exact": "1"}}},
            {"headers": {"y": {"exact": "2"}}},
            False,
            id="other header",
        ),
        pytest.param({"ignoreUriCase": True}, {}, True, id="ignoreUriCase differs"),
        pytest.param({"port": 80}, {"port": 81}, True, id="ports differ"),
        pytest.param({"port": 80}, {}, False, id="port unset on the delegate"),
        pytest.param({"sourceNamespace": "a"}, {}, True, id="sourceNamespace must match"),
        pytest.param(
            {"sourceLabels": {"app": "a"}}, {"sourceLabels": {"app": "b"}}, True, id="labels"
        ),
        pytest.param(
            {"gateways": ["ns/a"]}, {"gateways": ["ns/a", "ns/b"]}, True, id="gateways superset"
        ),
        pytest.param(
            {"gateways": ["ns/a", "ns/b"]}, {"gateways": ["ns/b"]}, False, id="gateways subset"
        ),
    ],
)
def test_match_conflicts_follow_istio(
    root: dict[str, Any], leaf: dict[str, Any], conflict: bool
) -> None:
    assert has_conflict(root, leaf) is conflict


def vs(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def test_a_delegate_route_inherits_whole_fields_and_takes_joined_names() -> None:
    root = vs(
        "root",
        "web",
        {
            "hosts": ["site.example.com"],
            "gateways": ["public"],
            "http": [
                {
                    "name": "api",
                    "match": [{"name": "m", "uri": {"prefix": "/api"}}],
                    "timeout": "4s",
                    "retries": {"attempts": 2, "perTryTimeout": "1s"},
                    "mirror": {"host": "shadow"},
                    "delegate": {"name": "child", "namespace": "shop"},
                }
            ],
        },
    )
    child = vs(
        "child",
        "shop",
        {
            "http": [
                {
                    "name": "v1",
                    "match": [{"name": "one", "uri": {"prefix": "/api/v1"}}],
                    "route": [{"destination": {"host": "reviews"}}],
                    "retries": {"attempts": 5},
                }
            ]
        },
    )
    merged = merge([root, child])
    (route,) = merged.routes
    spec = route.spec
    assert spec["name"] == "api-v1"
    assert spec["match"] == [{"name": "m-one", "uri": {"prefix": "/api/v1"}}]
    assert spec["timeout"] == "4s"
    assert spec["retries"] == {"attempts": 5}  # whole object from the delegate
    assert spec["mirror"] == {"host": "shadow.web.svc.cluster.local"}  # the root's namespace
    assert spec["route"][0]["destination"]["host"] == "reviews.shop.svc.cluster.local"
    assert "delegate" not in spec
    assert route.inherited == frozenset({"timeout", "mirror"})
    assert route.vs.gateways == ("web/public",)
    assert merged.notes == ()


@pytest.mark.parametrize(
    ("export_to", "namespace", "visible"),
    [
        ((), "other", True),
        (("*",), "other", True),
        ((".",), "shop", True),
        ((".",), "other", False),
        (("other",), "other", True),
        (("~",), "shop", False),
    ],
)
def test_export_to(export_to: tuple[str, ...], namespace: str, visible: bool) -> None:
    assert exported_to(export_to, "shop", namespace) is visible


@pytest.mark.parametrize(
    ("server_hosts", "vs_namespace", "vs_hosts", "taken"),
    [
        (["*"], "shop", ["shop.example.com"], True),
        (["*.example.com"], "shop", ["shop.example.com"], True),
        (["*.example.com"], "shop", ["shop.example.org"], False),
        (["shop/*"], "shop", ["a.example.com"], True),
        (["shop/*"], "web", ["a.example.com"], False),
        (["./*"], "istio-system", ["a.example.com"], True),
        (["./*"], "shop", ["a.example.com"], False),
        (["*/api.example.com"], "web", ["api.example.com"], True),
        (["api.example.com"], "web", ["*.example.com"], True),
    ],
)
def test_gateway_server_hosts_take_virtual_services(
    server_hosts: list[str], vs_namespace: str, vs_hosts: list[str], taken: bool
) -> None:
    assert server_hosts_accept(server_hosts, "istio-system", vs_namespace, vs_hosts) is taken
