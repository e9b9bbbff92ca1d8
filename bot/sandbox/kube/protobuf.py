"""Protobuf request bodies (``application/vnd.kubernetes.protobuf``) turned into JSON.

client-go sends protobuf for built-in kinds when the client asks for it: Helm's default
release storage writes its Secrets that way, and kubectl's ``create configmap|secret|
namespace`` shortcuts too. So the test server decodes those bodies and carries on as if
JSON had been sent (it answers JSON, which those clients accept).

The wire format: the 4 bytes ``k8s\\0``, then a ``runtime.Unknown`` message whose
``typeMeta`` names the kind and whose ``raw`` holds the typed message. The field numbers
below are those of Kubernetes' ``generated.proto`` files (k8s.io/api core/v1,
k8s.io/apimachinery meta/v1 and runtime); a test compiles those files and checks this
decoder against them. Output follows Go's JSON encoding: empty plain fields are dropped
(``omitempty``), pointer fields (``*bool``, ``*int64``, ``*string``) are kept when present,
bytes become base64 and ``Time`` RFC 3339. Other kinds are refused with 415 naming the kind.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# Field kinds: "string" | "bytes" | "int" | "bool" | "fieldsV1" (a FieldsV1 message whose
# field 1 holds JSON, written as that JSON) | a message
# name | ("map", value kind) | ("repeated", kind). A trailing "?" marks a Go pointer field.
Kind = str | tuple[str, str]
MESSAGES: dict[str, dict[int, tuple[str, Kind]]] = {
    # runtime.Unknown is 1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType (read in decode)
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},  # runtime.TypeMeta
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        4: ("selfLink", "string"),
        5: ("uid", "string"),
        6: ("resourceVersion", "string"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "Time"),
        9: ("deletionTimestamp", "Time?"),
        10: ("deletionGracePeriodSeconds", "int?"),
        11: ("labels", ("map", "string")),
        12: ("annotations", ("map", "string")),
        13: ("ownerReferences", ("repeated", "OwnerReference")),
        14: ("finalizers", ("repeated", "string")),
        17: ("managedFields", ("repeated", "ManagedFieldsEntry")),
    },
    "OwnerReference": {
        5: ("apiVersion", "string"),
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        6: ("controller", "bool?"),
        7: ("blockOwnerDeletion", "bool?"),
    },
    "ManagedFieldsEntry": {
        1: ("manager", "string"),
        2: ("operation", "string"),
        3: ("apiVersion", "string"),
        4: ("time", "Time?"),
        6: ("fieldsType", "string"),
        7: ("fieldsV1", "fieldsV1"),
        8: ("subresource", "string"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        5: ("immutable", "bool?"),
        2: ("data", ("map", "bytes")),
        4: ("stringData", ("map", "string")),
        3: ("type", "string"),
    },
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        4: ("immutable", "bool?"),
        2: ("data", ("map", "string")),
        3: ("binaryData", ("map", "bytes")),
    },
    "Namespace": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NamespaceSpec"),
        3: ("status", "NamespaceStatus"),
    },
    "NamespaceSpec": {1: ("finalizers", ("repeated", "string"))},
    "NamespaceStatus": {
        1: ("phase", "string"),
        2: ("conditions", ("repeated", "NamespaceCondition")),
    },
    "NamespaceCondition": {
        1: ("type", "string"),
        2: ("status", "string"),
        4: ("lastTransitionTime", "Time"),
        5: ("reason", "string"),
        6: ("message", "string"),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int?"),
        2: ("preconditions", "Preconditions?"),
        3: ("orphanDependents", "bool?"),
        4: ("propagationPolicy", "string?"),
        5: ("dryRun", ("repeated", "string")),
        6: ("ignoreStoreReadErrorWithClusterBreakingPotential", "bool?"),
    },
    "Preconditions": {1: ("uid", "string?"), 2: ("resourceVersion", "string?")},
    # authentication.k8s.io/v1 (kubectl create token) and authorization.k8s.io/v1
    # (kubectl auth can-i); their status fields are the server's to fill, so not read.
    "TokenRequest": {1: ("metadata", "ObjectMeta"), 2: ("spec", "TokenRequestSpec")},
    "TokenRequestSpec": {
        1: ("audiences", ("repeated", "string")),
        4: ("expirationSeconds", "int?"),
        3: ("boundObjectRef", "BoundObjectReference?"),
    },
    "BoundObjectReference": {
        1: ("kind", "string"),
        2: ("apiVersion", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
    },
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectAccessReviewSpec"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes?"),
        2: ("nonResourceAttributes", "NonResourceAttributes?"),
    },
    "ResourceAttributes": {
        1: ("namespace", "string"),
        2: ("verb", "string"),
        3: ("group", "string"),
        4: ("version", "string"),
        5: ("resource", "string"),
        6: ("subresource", "string"),
        7: ("name", "string"),
    },
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
}
# (apiVersion, kind) of the top-level objects decoded; DeleteOptions comes as either.
SUPPORTED = {
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "Namespace"),
    ("v1", "DeleteOptions"),
    ("meta.k8s.io/v1", "DeleteOptions"),
    ("authentication.k8s.io/v1", "TokenRequest"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
}
_EMPTY: tuple[Any, ...] = ("", 0, False, None, {}, [])


class ProtobufError(ValueError):
    """A body this decoder cannot read (bad framing, or a kind it does not know)."""


def is_protobuf(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == MEDIA_TYPE


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes")


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value): an int for varint/fixed wire types, bytes for length-delimited."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            if i + size > len(buf):
                raise ProtobufError("truncated length-delimited field")
            value, i = buf[i : i + size], i + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if i + width > len(buf):
                raise ProtobufError("truncated fixed-width field")
            value, i = int.from_bytes(buf[i : i + width], "little"), i + width
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, value


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a length-delimited field")
    return value


def _scalar(kind: str, value: int | bytes) -> Any:
    kind = kind.rstrip("?")
    if kind == "string":
        return _bytes(value).decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(_bytes(value)).decode()
    if kind == "fieldsV1":
        raw = dict(_fields(_bytes(value))).get(1, b"")
        return json.loads(_bytes(raw) or b"null")
    if kind in ("int", "bool"):
        if not isinstance(value, int):
            raise ProtobufError("expected a varint field")
        if kind == "bool":
            return bool(value)
        return value - (1 << 64) if value >= 1 << 63 else value
    return _message(kind, _bytes(value))


def _message(name: str, buf: bytes) -> dict[str, Any]:
    """The message as Go's JSON encoding would write it."""
    spec = MESSAGES[name]
    raw: dict[str, Any] = {}
    for number, item in _fields(buf):
        if number not in spec:
            continue
        key, kind = spec[number]
        if isinstance(kind, tuple) and kind[0] == "map":
            entry = dict(_fields(_bytes(item)))
            default: int | bytes = b"" if kind[1] in ("string", "bytes") else 0
            map_key = _bytes(entry.get(1, b"")).decode("utf-8")
            raw.setdefault(key, {})[map_key] = _scalar(kind[1], entry.get(2, default))
        elif isinstance(kind, tuple):
            raw.setdefault(key, []).append(_scalar(kind[1], item))
        else:
            raw[key] = _scalar(kind, item)
    out: dict[str, Any] = {}
    for key, kind in spec.values():
        if key not in raw:
            continue
        value: Any = raw[key]
        if isinstance(kind, str) and kind.rstrip("?") == "Time":
            value = _rfc3339(value)
        pointer = isinstance(kind, str) and kind.endswith("?")
        if value in _EMPTY and not (pointer and value is not None):
            continue
        out[key] = value
    return out


def _rfc3339(time: dict[str, Any]) -> str | None:
    """metav1.Time's JSON: whole seconds, UTC; the zero time is null."""
    seconds = time.get("seconds", 0)
    if not seconds and not time.get("nanos"):
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode(body: bytes) -> dict[str, Any]:
    """A ``k8s\\0`` + ``runtime.Unknown`` body as the JSON object the API would carry."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the k8s\\0 protobuf prefix")
    envelope = dict(_fields(body[len(MAGIC) :]))  # runtime.Unknown
    type_meta = _message("TypeMeta", _bytes(envelope.get(1, b"")))
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    encoding = _bytes(envelope.get(3, b"")).decode("utf-8")
    if encoding:
        raise ProtobufError(f"content encoding {encoding!r} is not supported")
    if (api_version, kind) not in SUPPORTED:
        shown = f"{api_version}/{kind}" if api_version else kind or "(no kind)"
        raise ProtobufError(
            f"protobuf bodies of kind {shown} are not supported by the sandbox (it decodes "
            "Secret, ConfigMap, Namespace, DeleteOptions, TokenRequest and "
            "SelfSubjectAccessReview); send JSON instead"
        )
    raw = _bytes(envelope.get(2, b""))
    return {"apiVersion": api_version, "kind": kind, **_message(kind, raw)}


def to_json_body(body: bytes) -> bytes:
    """The request body re-encoded as JSON, or 415 naming what could not be decoded."""
    try:
        return json.dumps(decode(body)).encode()
    except (ProtobufError, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(415, "UnsupportedMediaType", str(exc)) from exc
