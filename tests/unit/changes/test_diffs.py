"""Diffs a reviewer can read: list elements matched by identity (route `name`, else
position), one line per changed leaf, nothing cut silently, for any kind of object."""

from __future__ import annotations

import copy
from typing import Any

from commands.changes.diffs import drift, field_changes, object_diff
from commands.changes.model import ObjectRef

VS_REF = ObjectRef("networking.istio.io/v1", "VirtualService", "virtualservices", "pay", "shop")
PA_REF = ObjectRef(
    "security.istio.io/v1", "PeerAuthentication", "peerauthentications", "default", "shop"
)


def virtual_service() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "pay", "namespace": "shop", "resourceVersion": "7", "uid": "u"},
        "spec": {
            "hosts": ["payments"],
            "http": [
                {
                    "name": "checkout",
                    "match": [{"uri": {"prefix": "/checkout"}}],
                    "route": [{"destination": {"host": "payments", "subset": "v1"}}],
                    "timeout": "1s",
                    "retries": {"attempts": 3, "perTryTimeout": "250ms", "retryOn": "5xx"},
                },
                {"name": "default", "route": [{"destination": {"host": "payments"}}]},
            ],
        },
    }


def lines(old: Any, new: Any, ref: ObjectRef = VS_REF) -> list[str]:
    return object_diff(ref, old, new)


def test_one_changed_field_of_one_route_is_one_line_naming_the_route() -> None:
    old = virtual_service()
    new = copy.deepcopy(old)
    new["spec"]["http"][0]["timeout"] = "2s"
    new["spec"]["http"][0]["retries"]["attempts"] = 2
    assert lines(old, new) == [
        "update VirtualService shop/pay (networking.istio.io/v1)",
        "    ~ spec.http[checkout].retries.attempts: 3 → 2",
        "    ~ spec.http[checkout].timeout: 1s → 2s",
    ]


def test_routes_are_matched_by_name_not_position_and_a_reorder_is_said() -> None:
    old = virtual_service()
    new = copy.deepcopy(old)
    new["spec"]["http"].insert(
        0,
        {"name": "canary", "match": [{"headers": {"x-canary": {"exact": "1"}}}], "route": []},
    )
    new["spec"]["http"][2]["timeout"] = "3s"  # `default`, now third
    new["spec"]["http"][1], new["spec"]["http"][2] = new["spec"]["http"][2], new["spec"]["http"][1]
    assert lines(old, new)[1:] == [
        "    + spec.http[default].timeout: 3s",
        '    + spec.http[canary].match[0].headers.x-canary.exact: "1"',
        "    + spec.http[canary].name: canary",
        "    + spec.http[canary].route: []",
        "    ~ spec.http order: [checkout, default] → [default, checkout]",
    ]


def test_unnamed_elements_go_by_position() -> None:
    old = virtual_service()
    for route in old["spec"]["http"]:
        route.pop("name")
    new = copy.deepcopy(old)
    new["spec"]["http"][1]["route"][0]["weight"] = 100
    new["spec"]["http"][1]["route"].append({"destination": {"host": "payments-v2"}, "weight": 0})
    assert lines(old, new)[1:] == [
        "    + spec.http[1].route[0].weight: 100",
        "    + spec.http[1].route[1].destination.host: payments-v2",
        "    + spec.http[1].route[1].weight: 0",
    ]


def test_values_are_shown_bare_unless_that_would_be_ambiguous() -> None:
    old = {"spec": {"a": "x", "b": 1, "c": "1", "d": "true", "e": "", "f": " pad", "g": None}}
    new = {"spec": {"a": "y", "b": 2, "c": "2", "d": "false", "e": "z", "f": "pad", "g": "null"}}
    assert [c.line() for c in field_changes(old, new)] == [
        "~ spec.a: x → y",
        "~ spec.b: 1 → 2",
        '~ spec.c: "1" → "2"',
        '~ spec.d: "true" → "false"',
        '~ spec.e: "" → z',
        '~ spec.f: " pad" → pad',
        '~ spec.g: null → "null"',
    ]


def test_keys_with_dots_are_quoted_and_long_scalar_lists_go_value_by_value() -> None:
    hosts = [f"host-{i}.example.com" for i in range(8)]
    old = {"metadata": {"annotations": {"meshbot.io/app-timeout": "1s"}}, "spec": {"hosts": hosts}}
    new = copy.deepcopy(old)
    new["metadata"]["annotations"]["meshbot.io/app-timeout"] = "2s"
    new["spec"]["hosts"] = [*hosts[1:], "api.example.com"]
    assert [c.line() for c in field_changes(old, new)] == [
        '~ metadata.annotations["meshbot.io/app-timeout"]: 1s → 2s',
        "- spec.hosts[]: host-0.example.com",
        "+ spec.hosts[]: api.example.com",
    ]
    short_old, short_new = {"spec": {"hosts": ["a"]}}, {"spec": {"hosts": ["a", "b"]}}
    assert [c.line() for c in field_changes(short_old, short_new)] == [
        '~ spec.hosts: ["a"] → ["a", "b"]'
    ]


def test_a_long_value_says_how_much_is_not_shown() -> None:
    old = {"data": {"cert": "A" * 1000}}
    new = {"data": {"cert": "B" * 1000}}
    (line,) = [c.line() for c in field_changes(old, new)]
    assert line.endswith("… (600 more characters)")


def test_peer_authentication_create_update_and_server_owned_fields() -> None:
    created = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "shop"},
        "spec": {"mtls": {"mode": "STRICT"}, "portLevelMtls": {"8080": {"mode": "PERMISSIVE"}}},
    }
    assert lines(None, created, PA_REF) == [
        "create PeerAuthentication shop/default (security.istio.io/v1)",
        "    + metadata.name: default",
        "    + metadata.namespace: shop",
        "    + spec.mtls.mode: STRICT",
        "    + spec.portLevelMtls.8080.mode: PERMISSIVE",
    ]
    live = copy.deepcopy(created)
    live["metadata"].update({"resourceVersion": "9", "managedFields": [{"manager": "x"}]})
    live["status"] = {"conditions": []}
    assert lines(live, created, PA_REF) == [
        "unchanged PeerAuthentication shop/default (security.istio.io/v1)"
    ]
    after = copy.deepcopy(created)
    del after["spec"]["portLevelMtls"]
    assert lines(live, after, PA_REF)[1:] == ["    - spec.portLevelMtls.8080.mode: PERMISSIVE"]


def test_drift_names_the_route_that_moved() -> None:
    expected = virtual_service()
    live = copy.deepcopy(expected)
    live["spec"]["http"][1]["timeout"] = "7s"
    assert drift(VS_REF, expected, live) == [
        "VirtualService shop/pay: + spec.http[default].timeout: 7s"
    ]
    assert drift(VS_REF, expected, copy.deepcopy(expected)) == []
