"""Validation: CRD ``openAPIV3Schema`` checks and the few built-in rules meshbot meets.

meshbot proposes changes only after a server-side dry-run, so the sandbox has to reject
what a real cluster rejects — a PeerAuthentication with ``mtls.mode: FOO`` must come back
422 naming ``spec.mtls.mode``. Covered: types, enum, required, nested objects/arrays,
``additionalProperties`` schemas, ``x-kubernetes-int-or-string``,
``x-kubernetes-preserve-unknown-fields``, nullable, min/max, lengths, item/property counts,
pattern, and ``oneOf``/``anyOf``/``not`` (as structural schemas use them, for mutual
exclusion). Not covered: CEL ``x-kubernetes-validations`` and ``format``. Unknown fields
are kept, neither pruned nor rejected.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import Cause

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
}


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return '"' + _TYPE_NAMES[type(value)] + '"'
    return json.dumps(value)


def _type_ok(value: Any, typ: str) -> bool:
    if typ == "object":
        return isinstance(value, dict)
    if typ == "array":
        return isinstance(value, list)
    if typ == "string":
        return isinstance(value, str)
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _cause(reason: str, field: str, message: str) -> Cause:
    return {"reason": reason, "message": message, "field": field}


def validate_schema(value: Any, schema: dict[str, Any], path: str) -> list[Cause]:
    """All violations of ``schema`` by ``value``, with field paths like ``spec.mtls.mode``."""
    causes: list[Cause] = []
    _check(value, schema, path, causes)
    return causes


def _check(value: Any, schema: dict[str, Any], path: str, out: list[Cause]) -> None:
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            out.append(
                _cause(
                    "FieldValueTypeInvalid",
                    path,
                    f'Invalid value: "null": {path} in body must be of type '
                    f'{schema["type"]}: "null"',
                )
            )
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, (int, str)) and not isinstance(value, bool)):
            out.append(
                _cause(
                    "FieldValueTypeInvalid",
                    path,
                    f"Invalid value: {_show(value)}: {path} in body must be of type "
                    f"integer,string: {_show(value)}",
                )
            )
        return
    typ = schema.get("type")
    if typ and not _type_ok(value, typ):
        out.append(
            _cause(
                "FieldValueTypeInvalid",
                path,
                f"Invalid value: {_show(value)}: {path} in body must be of type {typ}: "
                f"{_show(value)}",
            )
        )
        return
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        supported = ", ".join(json.dumps(e) for e in enum)
        out.append(
            _cause(
                "FieldValueNotSupported",
                path,
                f"Unsupported value: {_show(value)}: supported values: {supported}",
            )
        )
    _check_bounds(value, schema, path, out)
    if isinstance(value, dict):
        _check_object(value, schema, path, out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{i}]", out)
    _check_combinators(value, schema, path, out)


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], path: str, out: list[Cause]
) -> None:
    for req in schema.get("required") or ():
        if req not in value:
            out.append(_cause("FieldValueRequired", f"{path}.{req}", "Required value"))
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        sub = props.get(key)
        if sub is None and isinstance(extra, dict):
            sub = extra
        if sub is not None:
            _check(item, sub, f"{path}.{key}" if path else key, out)


def _check_bounds(value: Any, schema: dict[str, Any], path: str, out: list[Cause]) -> None:
    def bad(msg: str) -> None:
        out.append(_cause("FieldValueInvalid", path, f"Invalid value: {_show(value)}: {msg}"))

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            bad(f"{path} in body should be greater than or equal to {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            bad(f"{path} in body should be less than or equal to {schema['maximum']}")
    elif isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(
                _cause(
                    "FieldValueTooLong",
                    path,
                    f"Too long: may not be more than {schema['maxLength']} bytes",
                )
            )
        if "minLength" in schema and len(value) < schema["minLength"]:
            bad(f"{path} in body should be at least {schema['minLength']} chars long")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            bad(f"{path} in body should match '{schema['pattern']}'")
    elif isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(
                _cause(
                    "FieldValueTooMany",
                    path,
                    f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                )
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            bad(f"{path} in body should have at least {schema['minItems']} items")
    elif isinstance(value, dict):
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            bad(f"{path} in body should have at most {schema['maxProperties']} properties")
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            bad(f"{path} in body should have at least {schema['minProperties']} properties")


def _valid(value: Any, schema: dict[str, Any], path: str) -> bool:
    return not validate_schema(value, schema, path)


def _check_combinators(value: Any, schema: dict[str, Any], path: str, out: list[Cause]) -> None:
    one_of = schema.get("oneOf")
    if one_of:
        n = sum(_valid(value, s, path) for s in one_of)
        if n != 1:
            found = f"Found {n} valid alternatives" if n else "Found none valid"
            out.append(
                _cause(
                    "FieldValueInvalid",
                    path,
                    f"Invalid value: {_show(value)}: must validate one and only one schema "
                    f"(oneOf). {found}",
                )
            )
    any_of = schema.get("anyOf")
    if any_of and not any(_valid(value, s, path) for s in any_of):
        out.append(
            _cause(
                "FieldValueInvalid",
                path,
                f"Invalid value: {_show(value)}: must validate at least one schema (anyOf)",
            )
        )
    not_schema = schema.get("not")
    if isinstance(not_schema, dict) and _valid(value, not_schema, path):
        out.append(
            _cause(
                "FieldValueInvalid",
                path,
                f"Invalid value: {_show(value)}: must not validate the schema (not)",
            )
        )


def validate_custom(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[Cause]:
    """Check a custom object against its version's schema (metadata is checked apart)."""
    if not schema:
        return []
    causes: list[Cause] = []
    props = schema.get("properties") or {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if key in props:
            _check(value, props[key], key, causes)
    for req in schema.get("required") or ():
        if req not in obj:
            causes.append(_cause("FieldValueRequired", req, "Required value"))
    return causes


def validate_name(name: str, field: str = "metadata.name") -> list[Cause]:
    if not name:
        return [
            _cause("FieldValueRequired", field, "Required value: name or generateName is required")
        ]
    if len(name) > 253 or not _NAME_RE.match(name):
        return [
            _cause(
                "FieldValueInvalid",
                field,
                f"Invalid value: {json.dumps(name)}: a lowercase RFC 1123 subdomain must consist "
                "of lower case alphanumeric characters, '-' or '.', and must start and end with "
                "an alphanumeric character",
            )
        ]
    return []


def validate_builtin(kind: str, obj: dict[str, Any]) -> list[Cause]:
    """The handful of built-in rules worth reproducing: pods need containers, deployments a
    selector matching their template."""
    causes: list[Cause] = []
    spec = obj.get("spec") or {}
    if kind == "Pod":
        containers = spec.get("containers") or []
        if not containers:
            causes.append(_cause("FieldValueRequired", "spec.containers", "Required value"))
        for i, c in enumerate(containers):
            if not isinstance(c, dict):
                continue
            if not c.get("name"):
                causes.append(
                    _cause("FieldValueRequired", f"spec.containers[{i}].name", "Required value")
                )
            if not c.get("image"):
                causes.append(
                    _cause("FieldValueRequired", f"spec.containers[{i}].image", "Required value")
                )
    elif kind in ("Deployment", "DaemonSet", "StatefulSet"):
        selector = (spec.get("selector") or {}).get("matchLabels")
        if not spec.get("selector"):
            causes.append(_cause("FieldValueRequired", "spec.selector", "Required value"))
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if selector and any(labels.get(k) != v for k, v in selector.items()):
            causes.append(
                _cause(
                    "FieldValueInvalid",
                    "spec.template.metadata.labels",
                    f"Invalid value: {json.dumps(labels)}: "
                    "`selector` does not match template `labels`",
                )
            )
    return causes
