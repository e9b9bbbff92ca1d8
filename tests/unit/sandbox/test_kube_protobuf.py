"""The test server's protobuf decoder against Kubernetes' own compiled definitions.

Every field of Secret, ConfigMap, Namespace and DeleteOptions (and of the ObjectMeta,
OwnerReference, managedFields, Time … inside them) is set on a message built with the
classes grpcio-tools generates from ../shared/kubernetes-proto; the decoder must read
back exactly the JSON the API would carry. A wrong field number or name fails here.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.sandbox.kube import protobuf
from tests.fixtures.kube_proto import KubeProto

EPOCH = 1_767_323_045  # 2026-01-02T03:04:05Z


def _populate(message: Any, depth: int = 0) -> None:
    """Set every field (maps and repeated ones twice) with distinct, non-empty values."""
    for field in message.DESCRIPTOR.fields:
        name = field.name
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            value_field = sub.fields_by_name["value"]
            for i in (1, 2):
                key = f"{name}-key{i}"
                getattr(message, name)[key] = _scalar(value_field, f"{name}{i}")
        elif sub is not None:
            if depth > 4:
                continue
            count = 2 if field.is_repeated else 1
            for _ in range(count):
                item = getattr(message, name).add() if field.is_repeated else getattr(message, name)
                if sub.name == "Time":
                    item.seconds = EPOCH + field.number
                    item.nanos = 0
                elif sub.name == "FieldsV1":
                    item.Raw = json.dumps({"f:metadata": {"f:name": {}}}).encode()
                else:
                    _populate(item, depth + 1)
        elif field.is_repeated:
            getattr(message, name).extend([_scalar(field, f"{name}1"), _scalar(field, f"{name}2")])
        else:
            setattr(message, name, _scalar(field, name))


def _scalar(field: Any, seed: str) -> Any:
    if field.type == field.TYPE_BYTES:
        return bytes([0, 1, 2, 255]) + seed.encode()
    if field.type == field.TYPE_BOOL:
        return True
    if field.type in (field.TYPE_INT64, field.TYPE_INT32):
        return 1000 + field.number
    return f"value-{seed}"


def _go_json(message: Any) -> dict[str, Any]:
    """What Go's encoding/json writes for a fully set message (no empty fields to omit)."""
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            value_field = sub.fields_by_name["value"]
            out[field.name] = {k: _go_value(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            out[field.name] = [_go_value(field, v) for v in value]
        else:
            out[field.name] = _go_value(field, value)
    return out


def _go_value(field: Any, value: Any) -> Any:
    sub = field.message_type
    if sub is not None and sub.name == "Time":
        return datetime.fromtimestamp(value.seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if sub is not None and sub.name == "FieldsV1":
        return json.loads(value.Raw)
    if sub is not None:
        return _go_json(value)
    if field.type == field.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value


@pytest.mark.parametrize(
    ("module", "api_version", "kind"),
    [
        ("core", "v1", "Secret"),
        ("core", "v1", "ConfigMap"),
        ("core", "v1", "Namespace"),
        ("meta", "v1", "DeleteOptions"),
        ("meta", "meta.k8s.io/v1", "DeleteOptions"),
    ],
)
def test_decoder_reads_every_field_as_kubernetes_defines_it(
    kube_proto: KubeProto, module: str, api_version: str, kind: str
) -> None:
    message = getattr(getattr(kube_proto, module), kind)()
    _populate(message)
    body = kube_proto.body(api_version, kind, message)

    decoded = protobuf.decode(body)

    expected = {"apiVersion": api_version, "kind": kind, **_go_json(message)}
    assert decoded == expected
    if kind != "DeleteOptions":
        meta = decoded["metadata"]
        assert len(meta) == 15  # every ObjectMeta field of the definitions, managedFields too
        assert meta["ownerReferences"][1]["controller"] is True


def test_empty_plain_fields_are_omitted_and_pointer_fields_kept(kube_proto: KubeProto) -> None:
    """Go's marshaller writes empty strings; its JSON drops them unless the field is a pointer."""
    secret = kube_proto.core.Secret()
    secret.metadata.name = "s1"
    secret.metadata.namespace = ""
    secret.metadata.generation = 0
    secret.metadata.creationTimestamp.seconds = 0
    secret.type = ""
    secret.immutable = False
    secret.data["empty"] = b""
    options = kube_proto.meta.DeleteOptions()
    options.gracePeriodSeconds = 0
    options.propagationPolicy = "Background"
    options.preconditions.resourceVersion = "7"

    assert protobuf.decode(kube_proto.body("v1", "Secret", secret)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s1"},
        "immutable": False,
        "data": {"empty": ""},
    }
    assert protobuf.decode(kube_proto.body("v1", "DeleteOptions", options)) == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "preconditions": {"resourceVersion": "7"},
        "propagationPolicy": "Background",
    }


def test_other_kinds_and_bad_framing_are_refused_naming_what(kube_proto: KubeProto) -> None:
    pod = kube_proto.core.Pod()
    pod.metadata.name = "p"
    with pytest.raises(protobuf.ProtobufError, match="kind v1/Pod are not supported"):
        protobuf.decode(kube_proto.body("v1", "Pod", pod))
    with pytest.raises(protobuf.ProtobufError, match="k8s"):
        protobuf.decode(b'{"kind": "Secret"}')
    truncated = kube_proto.body("v1", "Secret", kube_proto.core.Secret())[:-1] + b"\x12\x05ab"
    with pytest.raises(protobuf.ProtobufError, match="truncated"):
        protobuf.decode(truncated)
