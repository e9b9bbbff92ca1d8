"""The write verbs: create, update (PUT), patch, delete — with the real server's rules.

These are the semantics meshbot's change pipeline leans on: resourceVersion
preconditions (409 Conflict on a stale write), ``dryRun=All`` that validates and stores
nothing, no-op writes that do not bump resourceVersion, generation bumped only by spec
changes, status kept apart from the main resource, and CRDs that start serving their
custom resources the moment they are created.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import yaml

from . import errors
from .builtin_schemas import BuiltinSchemas
from .defaults import apply_defaults
from .patch import json_patch, merge_patch, strategic_merge
from .resources import ResourceTable, ResourceType
from .store import Store, obj_key
from .validation import validate_builtin, validate_custom, validate_name

NS_RESOURCE = ("", "namespaces")
CRD_RESOURCE = ("apiextensions.k8s.io", "customresourcedefinitions")
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
CR_PATCH_TYPES = [JSON_PATCH, MERGE, APPLY]
# Built-in kinds the real server creates on PUT of a missing object.
CREATE_ON_UPDATE = frozenset({"Lease", "Event"})


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_body(body: bytes, yaml_ok: bool = False) -> Any:
    try:
        if yaml_ok:
            return yaml.load(body or b"{}", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return json.loads(body or b"{}")
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"error decoding request body: {exc}") from exc


def view(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as seen through ``rt``'s version (stored once, served at every version)."""
    if obj.get("apiVersion") == rt.api_version:
        return obj
    return {**obj, "apiVersion": rt.api_version}


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _meta_for_compare(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


class Writer:
    """Write operations over a :class:`Store` and a :class:`ResourceTable`."""

    def __init__(
        self, store: Store, table: ResourceTable, schemas: BuiltinSchemas | None = None
    ) -> None:
        self.store = store
        self.table = table
        self.schemas = schemas
        # Mutating admission on create (sidecar injection), called before validation.
        self.admission: list[Callable[[ResourceType, dict[str, Any]], None]] = []

    # -- helpers ---------------------------------------------------------------------------

    def _stored_version(self, rt: ResourceType) -> str:
        if rt.builtin or not rt.storage_version:
            return rt.api_version
        return f"{rt.group}/{rt.storage_version}"

    def _validate(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        causes = validate_name(name)
        if rt.builtin:
            schema_causes = self.schemas.check(obj) if self.schemas else []
            named = {c.get("field") for c in schema_causes}
            causes += schema_causes
            causes += [c for c in validate_builtin(rt.kind, obj) if c.get("field") not in named]
        else:
            causes += validate_custom(obj, rt.schema)
        if rt.key == CRD_RESOURCE and not causes:
            causes += _validate_crd(obj)
        if causes:
            raise errors.invalid(rt.kind, rt.group, name, causes)

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if rt.namespaced and self.store.get(NS_RESOURCE, ("", namespace)) is None:
            raise errors.not_found("namespaces", "", namespace)

    def _prepare_new(
        self, rt: ResourceType, body: Any, namespace: str | None, copy_body: bool = True
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be an object")
        if body.get("kind") and body["kind"] != rt.kind:
            raise errors.bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the "
                f"expected API version ({rt.api_version})"
            )
        obj = copy.deepcopy(body) if copy_body else body
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(
                secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5)
            )
            meta["name"] = meta["generateName"] + suffix
        obj["apiVersion"] = self._stored_version(rt)
        obj["kind"] = rt.kind
        if rt.builtin:
            apply_defaults(rt.kind, rt.group, obj)
        return obj

    # -- create ----------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        dry_run: bool = False,
        copy_body: bool = True,
        admit: bool = True,
    ) -> dict[str, Any]:
        """POST; ``copy_body=False`` hands ``body`` over to the store (seed loading);
        ``admit=False`` skips mutating admission (a seed's objects were admitted already)."""
        obj = self._prepare_new(rt, body, namespace, copy_body)
        if admit:
            for mutate in self.admission:
                mutate(rt, obj)
        meta = obj["metadata"]
        for field in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"):
            if field == "resourceVersion" and meta.get(field):
                raise errors.bad_request(
                    "resourceVersion should not be set on objects to be created"
                )
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta["generation"] = 1
        if rt.key == NS_RESOURCE:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
        self._validate(rt, obj)
        if rt.key == CRD_RESOURCE:
            obj["status"] = _crd_status(obj)
        with self.store.lock:
            self._check_namespace(rt, meta["namespace"] if rt.namespaced else "")
            if self.store.get(rt.key, obj_key(obj)) is not None:
                raise errors.already_exists(rt.plural, rt.group, meta["name"])
            if dry_run:
                return view(rt, obj)
            meta["resourceVersion"] = str(self.store.next_rv())
            self.store.put(rt.key, obj, "ADDED")
            if rt.key == CRD_RESOURCE:
                self.table.register_crd(obj)
        return view(rt, obj)

    # -- update / patch --------------------------------------------------------------------

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """PUT; returns (object, created)."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be an object")
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        with self.store.lock:
            old = self.store.get(rt.key, (namespace or "", name))
            if old is None:
                if rt.kind in CREATE_ON_UPDATE and not subresource:
                    body = {**body, "metadata": {**(body.get("metadata") or {}), "name": name}}
                    body["metadata"].pop("resourceVersion", None)
                    return self.create(rt, namespace, body, dry_run), True
                raise errors.not_found(rt.plural, rt.group, name)
            want_rv = (body.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            if not want_rv and not rt.builtin:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "message": "Invalid value: 0x0: must be specified for an update",
                            "field": "metadata.resourceVersion",
                        }
                    ],
                )
            new = self._prepare_new(rt, body, namespace)
            return self._commit(rt, old, new, subresource, dry_run), False

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: bytes,
        content_type: str,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """PATCH of any of the four types; returns (object, created)."""
        ctype = content_type.split(";")[0].strip().lower()
        accepted = CR_PATCH_TYPES if not rt.builtin else [JSON_PATCH, MERGE, STRATEGIC, APPLY]
        if ctype not in accepted:
            raise errors.unsupported_media_type(ctype, accepted)
        patch = parse_body(body, yaml_ok=ctype == APPLY)
        with self.store.lock:
            old = self.store.get(rt.key, (namespace or "", name))
            if old is None:
                if ctype == APPLY and not subresource:
                    if not field_manager:
                        raise errors.bad_request("fieldManager is required for apply requests")
                    return self.create(rt, namespace, patch, dry_run), True
                raise errors.not_found(rt.plural, rt.group, name)
            current = view(rt, old)
            if ctype == JSON_PATCH:
                patched = json_patch(current, patch)
            elif not isinstance(patch, dict):
                raise errors.bad_request("the patch must be a JSON object")
            elif ctype == MERGE:
                patched = merge_patch(current, patch)
            elif ctype == APPLY:
                patch = {k: v for k, v in patch.items() if k not in ("status",) or subresource}
                patched = (
                    strategic_merge(current, patch) if rt.builtin else merge_patch(current, patch)
                )
            else:
                patched = strategic_merge(current, patch)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch must leave an object")
            want_rv = (patched.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            pmeta = patched.setdefault("metadata", {})
            if pmeta.get("name") != name:
                raise errors.bad_request(
                    "metadata.name: Invalid value: the name cannot be changed by a patch"
                )
            new = self._prepare_new(rt, patched, namespace)
            return self._commit(rt, old, new, subresource, dry_run), False

    def _commit(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        meta = new["metadata"]
        old_meta = old["metadata"]
        for field in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if subresource == "status":
            new = {**old, "status": new.get("status")}
            if new["status"] is None:
                del new["status"]
        elif subresource:
            raise errors.path_not_found(subresource)
        elif rt.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        self._validate(rt, new)
        if _meta_for_compare(new) == _meta_for_compare(old):
            return view(rt, old)
        if _spec_part(new) != _spec_part(old):
            new["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
        if rt.key == CRD_RESOURCE:
            new["status"] = _crd_status(new)
        if dry_run:
            return view(rt, new)
        new["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.store.put(rt.key, new, "MODIFIED")
        if rt.key == CRD_RESOURCE:
            self.table.register_crd(new)
        return view(rt, new)

    # -- delete ----------------------------------------------------------------------------

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: Any = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        pre = (options or {}).get("preconditions") or {} if isinstance(options, dict) else {}
        with self.store.lock:
            old = self.store.get(rt.key, (namespace or "", name))
            if old is None:
                raise errors.not_found(rt.plural, rt.group, name)
            if (
                pre.get("resourceVersion")
                and pre["resourceVersion"] != old["metadata"]["resourceVersion"]
            ):
                raise errors.conflict(rt.plural, rt.group, name)
            if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
                raise errors.conflict(rt.plural, rt.group, name)
            if dry_run:
                return view(rt, old)
            final = self._remove(rt.key, old)
            if rt.key == NS_RESOURCE:
                self._delete_namespace_contents(name)
            elif rt.key == CRD_RESOURCE:
                self._delete_crd_contents(old)
        return view(rt, final)

    def _remove(self, resource: tuple[str, str], old: dict[str, Any]) -> dict[str, Any]:
        final = {
            **old,
            "metadata": {**old["metadata"], "resourceVersion": str(self.store.next_rv())},
        }
        self.store.remove(resource, obj_key(old), final)
        return final

    def _delete_namespace_contents(self, namespace: str) -> None:
        """The real server empties a namespace asynchronously; here it happens at once."""
        for rt in {r.key: r for r in self.table.all() if r.namespaced}.values():
            for key in [k for k in self.store.sorted_keys(rt.key) if k[0] == namespace]:
                obj = self.store.get(rt.key, key)
                if obj is not None:
                    self._remove(rt.key, obj)

    def _delete_crd_contents(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        resource = (spec["group"], spec["names"]["plural"])
        for key in list(self.store.sorted_keys(resource)):
            obj = self.store.get(resource, key)
            if obj is not None:
                self._remove(resource, obj)
        self.table.unregister(*resource)


def _validate_crd(obj: dict[str, Any]) -> list[dict[str, str]]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    causes = []
    for field in ("group", "names", "versions"):
        if not spec.get(field):
            causes.append(
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value",
                    "field": f"spec.{field}",
                }
            )
    if causes:
        return causes
    expected = f"{names.get('plural')}.{spec['group']}"
    if obj["metadata"].get("name") != expected:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "{obj["metadata"].get("name")}": must be '
                f'spec.names.plural+"."+spec.group',
                "field": "metadata.name",
            }
        )
    if sum(1 for v in spec["versions"] if v.get("storage")) != 1:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: must have exactly one version marked as storage version",
                "field": "spec.versions",
            }
        )
    return causes


def _crd_status(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    ts = obj["metadata"].get("creationTimestamp") or now()
    cond = [
        {"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": ts}
        for t, r, m in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    return {
        "conditions": cond,
        "acceptedNames": spec.get("names", {}),
        "storedVersions": [v["name"] for v in spec.get("versions", []) if v.get("storage")],
    }
