"""Built-in objects checked against Kubernetes' own OpenAPI schemas (kubernetes-validate).

A real kube-apiserver refuses a Deployment with ``replicas: two`` or an unknown field
(with ``fieldValidation=Strict``, which kubectl sends); a test server that stores it
lets a chart's or a command's type bug through to production. The schemas come from the
``kubernetes-validate`` package (the project's ``sandbox``/``test`` extras), which ships
Kubernetes' OpenAPI schemas for 1.25-1.37 in a strict form (unknown fields are errors);
``jsonschema-rs`` checks them (about 2 µs per pod, where python-jsonschema takes 300 µs,
which made loading a 30,000-pod seed ten times slower), and python-jsonschema explains
the rare invalid object field by field.
The schemas of the server's reported minor version are used (clamped to what the
package ships). Every violation becomes one cause of a 422 ``Invalid``, with its field
path. Validators are built once per (version, kind) and shared by all servers of the
process: building one reads a 1.4 MB definitions file. Without the packages installed
the checks are skipped, and the server logs once that it does so.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from functools import lru_cache
from typing import Any

from .errors import Cause

log = logging.getLogger(__name__)
DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
_warned = threading.Event()


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return json.dumps(value)


def schema_version(kube_version: str) -> str | None:
    """The kubernetes-validate schema version for a server version (``v1.33.2`` → ``1.33.0``)."""
    try:
        import jsonschema_rs  # noqa: F401
        from kubernetes_validate import utils
    except ImportError:
        return None
    match = re.match(r"^v?(\d+)\.(\d+)", kube_version)
    shipped = sorted(set(utils.all_versions()), key=lambda v: tuple(map(int, v.split("."))))
    if not match:
        return shipped[-1]
    wanted = (int(match.group(1)), int(match.group(2)))
    older = [v for v in shipped if tuple(map(int, v.split(".")[:2])) <= wanted]
    return older[-1] if older else shipped[0]


@lru_cache(maxsize=4)
def _definitions(version: str) -> Any:
    from kubernetes_validate import utils

    return utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version
    )


@lru_cache(maxsize=4)
def _registries(version: str) -> tuple[Any, Any]:
    """(jsonschema-rs registry, python-jsonschema registry) holding the shared definitions."""
    import jsonschema_rs
    from referencing import Registry, Resource

    defs = _definitions(version)
    return jsonschema_rs.Registry([(DEFINITIONS_URI, defs)]), Resource.from_contents(
        defs
    ) @ Registry()


@lru_cache(maxsize=512)
def _schema(version: str, kind: str, api_version: str) -> dict[str, Any] | None:
    from kubernetes_validate import utils

    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    name = f"kubernetes-json-schema/v{version}-local-strict/{kind.lower()}-{group_version}.json"
    try:
        schema: dict[str, Any] = utils.schema_contents(name, version)
    except FileNotFoundError:
        return None
    return schema


@lru_cache(maxsize=512)
def _fast(version: str, kind: str, api_version: str) -> Any | None:
    """The compiled (Rust) validator of a kind: answers valid/invalid in microseconds."""
    import jsonschema_rs

    schema = _schema(version, kind, api_version)
    if schema is None:
        return None
    return jsonschema_rs.validator_for(schema, registry=_registries(version)[0])


@lru_cache(maxsize=64)
def _detailed(version: str, kind: str, api_version: str) -> Any:
    """The python-jsonschema validator, used only to explain an invalid object."""
    import jsonschema

    return jsonschema.Draft202012Validator(
        _schema(version, kind, api_version), registry=_registries(version)[1]
    )


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _types(schema: Any) -> list[str]:
    found = schema.get("type") if isinstance(schema, dict) else None
    found = found if isinstance(found, list) else [found] if found else []
    return [t for t in found if t != "null"]


def _causes(error: Any) -> list[Cause]:
    field = _path(error.absolute_path)
    value = error.instance
    if error.validator == "additionalProperties" and isinstance(value, dict):
        known = set((error.schema.get("properties") or {}).keys())
        prefix = f"{field}." if field else ""
        return [
            {
                "reason": "FieldValueInvalid",
                "message": f'unknown field "{prefix}{extra}"',
                "field": f"{prefix}{extra}",
            }
            for extra in sorted(set(value) - known)
        ]
    if error.validator == "required":
        missing = re.match(r"^'([^']+)'", error.message)
        name = missing.group(1) if missing else ""
        where = f"{field}.{name}" if field and name else (name or field)
        return [{"reason": "FieldValueRequired", "message": "Required value", "field": where}]
    if error.validator == "type":
        wanted = _types(error.schema)
        return [
            {
                "reason": "FieldValueTypeInvalid",
                "message": f"Invalid value: {_show(value)}: {field} in body must be of type "
                f"{','.join(wanted)}: {_show(value)}",
                "field": field,
            }
        ]
    if error.validator in ("oneOf", "anyOf"):
        types = [t for s in error.validator_value for t in _types(s)]
        if types:
            shown = ",".join(sorted(set(types)))
            return [
                {
                    "reason": "FieldValueTypeInvalid",
                    "message": f"Invalid value: {_show(value)}: {field} in body must be of type "
                    f"{shown}: {_show(value)}",
                    "field": field,
                }
            ]
    if error.validator == "enum":
        supported = ", ".join(json.dumps(v) for v in error.validator_value)
        return [
            {
                "reason": "FieldValueNotSupported",
                "message": f"Unsupported value: {_show(value)}: supported values: {supported}",
                "field": field,
            }
        ]
    return [
        {
            "reason": "FieldValueInvalid",
            "message": f"Invalid value: {_show(value)}: {error.message}",
            "field": field,
        }
    ]


class BuiltinSchemas:
    """Strict OpenAPI validation of built-in objects for one Kubernetes version."""

    def __init__(self, kube_version: str) -> None:
        self.version = schema_version(kube_version)
        if self.version is None and not _warned.is_set():
            _warned.set()
            log.warning(
                "kube sandbox: kubernetes-validate is not installed, built-in objects are not "
                "checked against Kubernetes' schemas (pip install 'meshbot[sandbox]')"
            )

    @property
    def active(self) -> bool:
        return self.version is not None

    def check(self, obj: dict[str, Any]) -> list[Cause]:
        """Every schema violation of ``obj``, one cause per bad field (none when unknown kind)."""
        if self.version is None:
            return []
        key = (self.version, str(obj.get("kind")), str(obj.get("apiVersion")))
        fast = _fast(*key)
        if fast is None or fast.is_valid(obj):  # the common case, in microseconds
            return []
        causes: list[Cause] = []
        for error in _detailed(*key).iter_errors(obj):
            if error.validator == "required" and list(error.absolute_path)[:1] == ["status"]:
                continue  # status is written by controllers; the API server requires none of it
            causes.extend(_causes(error))
        return causes
