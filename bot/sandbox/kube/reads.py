"""The read verbs: get, list (selectors, limit/continue pages) and watch.

Lists are ordered by namespace/name, paged with an opaque ``continue`` token holding the
last key served, and built from each object's cached JSON so that paging through 30,000
pods costs the server milliseconds per page. Watches replay the store's log after a
resourceVersion (or send the current objects as ADDED first when none is given), as
newline-delimited JSON events, until ``timeoutSeconds`` or the server stops.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import time
from collections.abc import Iterator
from typing import Any

from . import errors
from .resources import ResourceType
from .selectors import Matcher, parse_field_selector, parse_label_selector
from .store import Store, dumps
from .writes import view

DEFAULT_WATCH_SECONDS = 1800.0


def _matchers(rt: ResourceType, query: dict[str, str]) -> list[Matcher]:
    found = [
        parse_label_selector(query.get("labelSelector")),
        parse_field_selector(query.get("fieldSelector"), rt.kind, rt.builtin),
    ]
    return [m for m in found if m is not None]


def _encode_continue(key: tuple[str, str], rv: int) -> str:
    raw = json.dumps({"ns": key[0], "name": key[1], "rv": rv}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return (data["ns"], data["name"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc


class Reader:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(rt.key, (namespace or "", name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return view(rt, obj)

    def _item_json(self, rt: ResourceType, key: tuple[str, str], obj: dict[str, Any]) -> bytes:
        if obj.get("apiVersion") == rt.api_version:
            return self.store.json_of(rt.key, key)
        return dumps(view(rt, obj))

    def list(self, rt: ResourceType, namespace: str | None, query: dict[str, str]) -> bytes:
        """The ``<Kind>List`` as JSON bytes."""
        matchers = _matchers(rt, query)
        try:
            limit = int(query.get("limit") or 0)
        except ValueError as exc:
            raise errors.bad_request(f"invalid limit: {query.get('limit')}") from exc
        with self.store.lock:
            keys = self.store.sorted_keys(rt.key)
            objects = self.store.objects(rt.key)
            start, stop = 0, len(keys)
            if namespace:
                start = bisect.bisect_left(keys, (namespace, ""))
                stop = bisect.bisect_left(keys, (namespace + "\x00", ""))
            token = query.get("continue")
            if token:
                start = max(start, bisect.bisect_right(keys, _decode_continue(token)))
            items: list[bytes] = []
            i = start
            last: tuple[str, str] | None = None
            while i < stop:
                key = keys[i]
                obj = objects[key]
                i += 1
                if all(m(obj) for m in matchers):
                    items.append(self._item_json(rt, key, obj))
                    last = key
                    if limit and len(items) >= limit:
                        break
            rv = self.store.rv
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and i < stop and last is not None:
            meta["continue"] = _encode_continue(last, rv)
            if not matchers:
                meta["remainingItemCount"] = stop - i
        head = dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
        return head[:-1] + b',"items":[' + b",".join(items) + b"]}"

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        query: dict[str, str],
        should_stop: Any = None,
    ) -> Iterator[bytes]:
        """Newline-delimited watch events, each as one bytes chunk."""
        matchers = _matchers(rt, query)
        timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
        deadline = time.monotonic() + timeout
        since = query.get("resourceVersion") or ""

        def wanted(obj: dict[str, Any]) -> bool:
            if namespace and (obj.get("metadata") or {}).get("namespace") != namespace:
                return False
            return all(m(obj) for m in matchers)

        def line(kind: str, obj: dict[str, Any]) -> bytes:
            return b'{"type":"' + kind.encode() + b'","object":' + dumps(view(rt, obj)) + b"}\n"

        initial: list[bytes] = []
        # A watch-list (client-go informers, Helm's kstatus wait) gets the current state
        # then a BOOKMARK marking its end, whatever resourceVersion it names.
        watch_list = query.get("sendInitialEvents") == "true"
        with self.store.lock:
            if since in ("", "0") or watch_list:
                objects = self.store.objects(rt.key)
                for key in self.store.sorted_keys(rt.key):
                    if wanted(objects[key]):
                        initial.append(line("ADDED", objects[key]))
                if watch_list:
                    initial.append(_initial_events_end(rt, self.store.rv))
                index = self.store.log_length()
            else:
                try:
                    after = int(since)
                except ValueError as exc:
                    raise errors.bad_request(f"invalid resourceVersion: {since}") from exc
                index = self.store.index_after(after)
        yield from initial
        while True:
            with self.store.cond:
                events, next_index = self.store.events_after(0, start=index)
                if not events:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.store.closed or (should_stop and should_stop()):
                        return
                    self.store.cond.wait(timeout=min(remaining, 0.5))
                    continue
            index = next_index
            for ev in events:
                if ev.resource == rt.key and wanted(ev.obj):
                    yield line(ev.type, ev.obj)
            if time.monotonic() >= deadline:
                return


def _initial_events_end(rt: ResourceType, rv: int) -> bytes:
    bookmark = {
        "kind": rt.kind,
        "apiVersion": rt.api_version,
        "metadata": {
            "resourceVersion": str(rv),
            "annotations": {"k8s.io/initial-events-end": "true"},
        },
    }
    return b'{"type":"BOOKMARK","object":' + dumps(bookmark) + b"}\n"
