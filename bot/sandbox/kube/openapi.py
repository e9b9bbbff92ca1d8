"""A minimal OpenAPI v3 index, just enough for ``kubectl apply``.

kubectl (≥1.27) validates manifests before applying: it fetches ``/openapi/v3`` and the
group-version document of the kind, and if the kind's PATCH operation lists the
``fieldValidation`` query parameter it leaves validation to the server; otherwise it
wants the whole OpenAPI v2 schema and fails without it. So each served group-version
gets a document whose PATCH operations declare ``fieldValidation`` (and no strategic
merge request body, which makes kubectl compute strategic patches from its built-in
types, and JSON merge patches for custom resources — as it does against a real server).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import ResourceTable, ResourceType

_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def index(table: ResourceTable) -> dict[str, Any]:
    paths = {}
    for group, versions in table.group_versions().items():
        for version in versions:
            gv = _gv_path(group, version)
            doc = json.dumps(group_version(table, group, version), sort_keys=True).encode()
            digest = hashlib.sha256(doc).hexdigest()[:32].upper()
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}


def _item_path(rt: ResourceType) -> str:
    base = "/" + _gv_path(rt.group, rt.version)
    if rt.namespaced:
        return f"{base}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
    return f"{base}/{rt.plural}/{{name}}"


def group_version(table: ResourceTable, group: str, version: str) -> dict[str, Any] | None:
    rts = [rt for rt in table.all() if rt.group == group and rt.version == version]
    if not rts:
        return None
    paths: dict[str, Any] = {}
    for rt in rts:
        if "patch" not in rt.verbs:
            continue
        paths[_item_path(rt)] = {
            "patch": {
                "operationId": f"patch{rt.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {
                    "group": rt.group,
                    "version": rt.version,
                    "kind": rt.kind,
                },
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                    for name in ("dryRun", "fieldManager", "fieldValidation")
                ],
                "requestBody": {
                    "content": {t: {"schema": {"type": "object"}} for t in _PATCH_TYPES},
                    "required": True,
                },
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": {}},
    }
