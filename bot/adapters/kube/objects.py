"""Generic object reads and guarded writes (the `ClusterObjects` port) for the change pipeline.

The pipeline changes custom resources (PeerAuthentication, VirtualService, …) and reads
built-in ones (pods, namespaces) through one small interface keyed by apiVersion and
plural, so a new kind of change needs no new adapter code. Requests go through the
official client's `ApiClient` with raw JSON in and out: no typed models (a pod list is
parsed as plain dicts, which is also what keeps large lists cheap), paging with
`limit`/`continue`, and every write able to run as a server-side dry run.

Errors are translated for the user: 409 → `ObjectConflict` ("changed since we read
it"), 422/400 → `ObjectInvalid` with the failing fields, 404 on a write →
`ObjectMissing`, 5xx/403/network → `ClusterUnavailable` naming the status and action.
Retries, timeouts and the command's deadline are the transport's (transport.py).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from kubernetes.client.exceptions import ApiException

from bot.adapters.kube.transport import Transport
from commands.changes.model import ObjectConflict, ObjectInvalid, ObjectMissing, ObjectRef
from commands.core.errors import ClusterUnavailable

JSON = Any
PAGE_SIZE = 500
MERGE_PATCH = "application/merge-patch+json"


def collection_path(api_version: str, plural: str, namespace: str | None) -> str:
    group, _, version = api_version.rpartition("/")
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    return f"{base}/{plural}"


def object_path(ref: ObjectRef) -> str:
    return (
        f"{collection_path(ref.api_version, ref.plural, ref.namespace)}/{quote(ref.name, safe='')}"
    )


def _status_message(exc: ApiException) -> tuple[str, tuple[str, ...]]:
    """The server's own message and field causes from a `Status` body, if it sent one."""
    try:
        status = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return (exc.reason or "error"), ()
    if not isinstance(status, dict):
        return (exc.reason or "error"), ()
    causes = tuple(
        f"{c.get('field', '?')}: {c.get('message', '')}".strip()
        for c in (status.get("details") or {}).get("causes") or []
        if isinstance(c, dict)
    )
    return str(status.get("message") or exc.reason or "error"), causes


class ObjectsMixin:
    """Mixed into `KubeCluster`; uses its `name` and `transport`."""

    name: str
    transport: Transport

    # ---- discovery -------------------------------------------------------------------------

    def served_versions(self, group: str) -> tuple[str, ...]:
        if not group:
            return ("v1",)
        cache = self.__dict__.setdefault("_served_cache", {})
        if group in cache:
            return tuple(cache[group])
        try:
            doc = self._request("GET", f"/apis/{group}", action=f"discover {group}")
        except ObjectMissing:
            return ()
        preferred = (doc.get("preferredVersion") or {}).get("version")
        versions = [v["version"] for v in doc.get("versions") or [] if "version" in v]
        if preferred in versions:
            versions.remove(preferred)
            versions.insert(0, preferred)
        cache[group] = tuple(versions)
        return tuple(versions)

    # ---- reads -----------------------------------------------------------------------------

    def get_object(self, ref: ObjectRef) -> JSON | None:
        try:
            return self._request("GET", object_path(ref), action=f"read {ref.label}")
        except ObjectMissing:
            return None

    def list_objects(
        self,
        api_version: str,
        plural: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> list[JSON]:
        path = collection_path(api_version, plural, namespace)
        items: list[JSON] = []
        token: str | None = None
        while True:
            query: list[tuple[str, str]] = [("limit", str(PAGE_SIZE))]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if token:
                query.append(("continue", token))
            try:
                page = self._request("GET", path, query=query, action=f"list {plural}")
            except ObjectMissing:
                return []
            for item in page.get("items") or []:
                # lists omit each item's apiVersion/kind; put them back for the diff
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", (page.get("kind") or "").removesuffix("List"))
                items.append(item)
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return items

    # ---- writes ----------------------------------------------------------------------------

    def create_object(self, ref: ObjectRef, body: JSON, *, dry_run: bool = False) -> JSON:
        path = collection_path(ref.api_version, ref.plural, ref.namespace)
        return self._request(
            "POST", path, query=_dry(dry_run), body=body, action=f"create {ref.label}"
        )

    def replace_object(self, ref: ObjectRef, body: JSON, *, dry_run: bool = False) -> JSON:
        return self._request(
            "PUT", object_path(ref), query=_dry(dry_run), body=body, action=f"replace {ref.label}"
        )

    def patch_object(self, ref: ObjectRef, patch: JSON, *, dry_run: bool = False) -> JSON:
        return self._request(
            "PATCH",
            object_path(ref),
            query=_dry(dry_run),
            body=patch,
            content_type=MERGE_PATCH,
            action=f"patch {ref.label}",
        )

    def delete_object(
        self, ref: ObjectRef, *, resource_version: str | None = None, dry_run: bool = False
    ) -> None:
        body: JSON = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        self._request(
            "DELETE", object_path(ref), query=_dry(dry_run), body=body, action=f"delete {ref.label}"
        )

    # ---- transport -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: JSON | None = None,
        content_type: str = "application/json",
        action: str,
    ) -> JSON:
        try:
            sent = self.transport.send(
                method, path, query=query or [], body=body, content_type=content_type, action=action
            )
        except ApiException as exc:
            raise self._translate(exc, action) from exc
        return json.loads(sent.data) if sent.data else {}

    def _translate(self, exc: ApiException, action: str) -> Exception:
        message, causes = _status_message(exc)
        where = f"cluster {self.name}: {action}"
        status = exc.status or 0
        if status == 409:
            return ObjectConflict(f"{where} refused (409 Conflict): {message}")
        if status in (400, 422):
            detail = "; ".join(causes) or message
            return ObjectInvalid(f"{where} refused as invalid ({status}): {detail}", causes)
        if status == 404:
            return ObjectMissing(f"{where}: not found (404)")
        return ClusterUnavailable(f"{where}: API server answered {status} {message}")


def _dry(dry_run: bool) -> list[tuple[str, str]]:
    return [("dryRun", "All")] if dry_run else []
