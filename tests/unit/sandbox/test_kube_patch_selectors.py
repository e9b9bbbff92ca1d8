"""Unit tests of the kube test server's patch, selector and schema-validation logic."""

from __future__ import annotations

import pytest

from bot.sandbox.kube.errors import ApiError
from bot.sandbox.kube.patch import json_patch, merge_patch, strategic_merge
from bot.sandbox.kube.selectors import parse_field_selector, parse_label_selector
from bot.sandbox.kube.validation import validate_schema


def test_merge_patch_deletes_with_null_and_replaces_lists() -> None:
    doc = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert merge_patch(doc, {"a": {"b": None}, "l": [3]}) == {"a": {"c": 2}, "l": [3]}
    assert doc == {"a": {"b": 1, "c": 2}, "l": [1, 2]}


def test_json_patch_ops_and_errors() -> None:
    doc = {"a": [1, 2], "b": {"c": 1}}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "replace", "path": "/b/c", "value": 5},
            {"op": "move", "from": "/b/c", "path": "/d"},
            {"op": "test", "path": "/d", "value": 5},
            {"op": "remove", "path": "/a/0"},
        ],
    )
    assert out == {"a": [2, 3], "b": {}, "d": 5}
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "test", "path": "/a/0", "value": 9}])
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "remove", "path": "/nope"}])


def test_strategic_merge_keyed_lists_and_directives() -> None:
    pod = {
        "spec": {
            "containers": [
                {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
                {"name": "b", "image": "b:1"},
            ],
            "volumes": [{"name": "v1"}, {"name": "v2"}],
            "tolerations": [{"key": "x"}],
        },
        "metadata": {"finalizers": ["f1"]},
    }
    patch = {
        "spec": {
            "containers": [
                {"name": "a", "ports": [{"containerPort": 81}]},
                {"name": "b", "$patch": "delete"},
            ],
            "$setElementOrder/volumes": [{"name": "v2"}, {"name": "v1"}],
            "volumes": [{"name": "v2", "emptyDir": {}}],
            "tolerations": [{"key": "y"}],
        },
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]},
    }
    out = strategic_merge(pod, patch)
    assert out["spec"]["containers"] == [
        {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}, {"containerPort": 81}]}
    ]
    assert out["spec"]["volumes"] == [{"name": "v2", "emptyDir": {}}, {"name": "v1"}]
    assert out["spec"]["tolerations"] == [{"key": "y"}]
    assert out["metadata"]["finalizers"] == []
    replaced = strategic_merge(pod, {"spec": {"$patch": "replace", "containers": []}})
    assert replaced["spec"] == {"containers": []}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web,tier=fe", True),
        ("app!=web", False),
        ("app in (api, web)", True),
        ("app notin (web),tier", False),
        ("!missing", True),
        ("missing", False),
        ("tier in (fe),app in (x,web)", True),
    ],
)
def test_label_selectors(selector: str, expected: bool) -> None:
    match = parse_label_selector(selector)
    assert match is not None
    assert match({"metadata": {"labels": {"app": "web", "tier": "fe"}}}) is expected


def test_field_selectors_and_unsupported_fields() -> None:
    match = parse_field_selector("spec.nodeName=n1,status.phase!=Failed", "Pod")
    assert match is not None
    assert match({"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    assert not match({"spec": {"nodeName": "n2"}, "status": {"phase": "Running"}})
    with pytest.raises(ApiError) as err:
        parse_field_selector("spec.foo=1", "Pod")
    assert err.value.code == 400
    with pytest.raises(ApiError):
        parse_field_selector("spec.nodeName=n1", "VirtualService", builtin=False)


def test_schema_validation_messages() -> None:
    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 3},
            "port": {"x-kubernetes-int-or-string": True},
            "items": {"type": "array", "items": {"type": "integer", "minimum": 1}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    ok = {"name": "abc", "port": "http", "items": [1, 2], "free": {"x": [1]}, "unknown": 1}
    assert validate_schema(ok, schema, "spec") == []
    causes = validate_schema({"port": 1.5, "items": [0, "x"], "name": "abcd"}, schema, "spec")
    by_field = {c["field"]: c for c in causes}
    assert sorted(by_field) == ["spec.items[0]", "spec.items[1]", "spec.name", "spec.port"]
    assert by_field["spec.name"]["reason"] == "FieldValueTooLong"
    assert by_field["spec.items[1]"]["message"] == (
        'Invalid value: "x": spec.items[1] in body must be of type integer: "x"'
    )
    assert validate_schema({}, schema, "spec")[0]["reason"] == "FieldValueRequired"


def test_strategic_merge_keeps_a_webhook_configurations_webhooks_by_name() -> None:
    live = {
        "webhooks": [
            {"name": "validation.istio.io", "sideEffects": "None", "failurePolicy": "Ignore"},
            {"name": "other.istio.io", "sideEffects": "None"},
        ]
    }
    patch = {"webhooks": [{"name": "validation.istio.io", "failurePolicy": "Fail"}]}
    assert strategic_merge(live, patch) == {
        "webhooks": [
            {"name": "validation.istio.io", "sideEffects": "None", "failurePolicy": "Fail"},
            {"name": "other.istio.io", "sideEffects": "None"},
        ]
    }
