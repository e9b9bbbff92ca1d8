"""Object storage: one cluster-wide resourceVersion counter and an ordered watch log.

Like etcd behind kube-apiserver, every write takes the next resourceVersion and is
appended to a log, so a watch started "after resourceVersion N" replays exactly the
changes after N, in order. Objects are stored once per group+resource (not per version)
and never mutated in place: a write stores a new dict, which lets readers serialize
without copying and lets list pages reuse each object's cached JSON.
"""

from __future__ import annotations

import bisect
import json
import threading
from dataclasses import dataclass
from typing import Any

GroupResource = tuple[str, str]
ObjKey = tuple[str, str]  # (namespace or "", name)


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Event:
    """One entry of the watch log."""

    rv: int
    resource: GroupResource
    type: str  # ADDED | MODIFIED | DELETED
    obj: dict[str, Any]


def obj_key(obj: dict[str, Any]) -> ObjKey:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


class Store:
    """Thread-safe objects + watch log; ``cond`` wakes watchers on every write."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 0
        self.closed = False
        self._objects: dict[GroupResource, dict[ObjKey, dict[str, Any]]] = {}
        self._json: dict[GroupResource, dict[ObjKey, bytes]] = {}
        self._sorted: dict[GroupResource, list[ObjKey]] = {}
        self._events: list[Event] = []
        self._event_rvs: list[int] = []

    def next_rv(self) -> int:
        with self.lock:
            self.rv += 1
            return self.rv

    def get(self, resource: GroupResource, key: ObjKey) -> dict[str, Any] | None:
        return self._objects.get(resource, {}).get(key)

    def count(self, resource: GroupResource) -> int:
        return len(self._objects.get(resource, {}))

    def put(self, resource: GroupResource, obj: dict[str, Any], event_type: str) -> None:
        """Store ``obj`` (its resourceVersion already set) and log the event."""
        key = obj_key(obj)
        with self.lock:
            bucket = self._objects.setdefault(resource, {})
            if key not in bucket:
                self._sorted.pop(resource, None)
            bucket[key] = obj
            # Serialized once per write, so list pages and watch events only join bytes.
            self._json.setdefault(resource, {})[key] = dumps(obj)
            self._log(Event(int(obj["metadata"]["resourceVersion"]), resource, event_type, obj))

    def remove(self, resource: GroupResource, key: ObjKey, final: dict[str, Any]) -> None:
        """Delete the object; ``final`` is its last state with the delete's resourceVersion."""
        with self.lock:
            self._objects.get(resource, {}).pop(key, None)
            self._json.get(resource, {}).pop(key, None)
            self._sorted.pop(resource, None)
            self._log(Event(int(final["metadata"]["resourceVersion"]), resource, "DELETED", final))

    def _log(self, event: Event) -> None:
        self._events.append(event)
        self._event_rvs.append(event.rv)
        self.cond.notify_all()

    def sorted_keys(self, resource: GroupResource) -> list[ObjKey]:
        """Keys ordered by namespace then name: the stable order lists and pages use."""
        with self.lock:
            keys = self._sorted.get(resource)
            if keys is None:
                keys = sorted(self._objects.get(resource, {}))
                self._sorted[resource] = keys
            return keys

    def resources(self) -> list[GroupResource]:
        with self.lock:
            return [r for r, objects in self._objects.items() if objects]

    def clear(self) -> None:
        """Forget every object and event (a restore starts from an empty store)."""
        with self.lock:
            for part in (self._objects, self._json, self._sorted):
                part.clear()
            self._events.clear()
            self._event_rvs.clear()
            self.rv = 0

    def objects(self, resource: GroupResource) -> dict[ObjKey, dict[str, Any]]:
        return self._objects.get(resource, {})

    def json_of(self, resource: GroupResource, key: ObjKey) -> bytes:
        """The stored object's JSON, computed once per write."""
        cache = self._json.setdefault(resource, {})
        data = cache.get(key)
        if data is None:
            data = dumps(self._objects[resource][key])
            cache[key] = data
        return data

    def events_after(self, rv: int, start: int | None = None) -> tuple[list[Event], int]:
        """Events with resourceVersion > rv (or from log index ``start``), and the next index."""
        with self.lock:
            i = bisect.bisect_right(self._event_rvs, rv) if start is None else start
            return self._events[i:], len(self._events)

    def index_after(self, rv: int) -> int:
        """Log position of the first event with resourceVersion > rv."""
        with self.lock:
            return bisect.bisect_right(self._event_rvs, rv)

    def log_length(self) -> int:
        return len(self._events)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.cond.notify_all()
