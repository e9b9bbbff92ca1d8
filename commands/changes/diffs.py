"""Object diffs a reviewer can read in a Slack message, and the drift check behind apply.

A reviewer approving a change must see exactly which fields move, not two YAML
documents. So objects are compared field by field after dropping what the server owns
(resourceVersion, uid, managedFields, status, …), and each difference is one line
`path: old → new`. The same normalisation decides drift: an object whose
resourceVersion moved but whose content did not (a status update, a no-op apply) has
not drifted.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from commands.changes.model import ObjectChange, ObjectRef

JSON = Any
SERVER_OWNED_METADATA = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MISSING = object()


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any  # MISSING when the field is added
    new: Any  # MISSING when the field is removed

    def line(self) -> str:
        if self.old is MISSING:
            return f"+ {self.path}: {_show(self.new)}"
        if self.new is MISSING:
            return f"- {self.path}: {_show(self.old)}"
        return f"~ {self.path}: {_show(self.old)} → {_show(self.new)}"


def normalized(obj: JSON | None) -> JSON | None:
    """The object without server-owned fields; what "the same object" means here."""
    if obj is None:
        return None
    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    meta = clean.get("metadata") or {}
    for key in SERVER_OWNED_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            meta.pop("annotations", None)
    if isinstance(meta.get("labels"), dict) and not meta["labels"]:
        meta.pop("labels")
    return clean


def field_changes(old: JSON | None, new: JSON | None) -> list[FieldChange]:
    """Leaf-level differences between two (normalised) objects, in a stable order."""
    return list(_walk("", normalized(old) or {}, normalized(new) or {}))


def _walk(path: str, old: Any, new: Any) -> Iterator[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            yield from _walk(sub, old.get(key, MISSING), new.get(key, MISSING))
        return
    if old is MISSING and isinstance(new, dict):
        for key in sorted(new, key=str):
            yield from _walk(f"{path}.{key}" if path else str(key), MISSING, new[key])
        return
    if new is MISSING and isinstance(old, dict):
        for key in sorted(old, key=str):
            yield from _walk(f"{path}.{key}" if path else str(key), old[key], MISSING)
        return
    if old != new:
        yield FieldChange(path, old, new)


def same_object(a: JSON | None, b: JSON | None) -> bool:
    return normalized(a) == normalized(b)


def object_diff(ref: ObjectRef, live: JSON | None, desired: JSON | None) -> list[str]:
    """Lines describing how `live` becomes `desired`: a header, then one line per field."""
    where = f"{ref.label} ({ref.api_version})"
    if live is None and desired is None:
        return []
    if live is None:
        header = f"create {where}"
    elif desired is None:
        return [f"delete {where}"]
    else:
        header = f"update {where}"
    changes = [c for c in field_changes(live, desired) if c.path not in ("apiVersion", "kind")]
    if live is not None and not changes:
        return [f"unchanged {where}"]
    return [header, *(f"    {c.line()}" for c in changes)]


def change_diff(objects: tuple[ObjectChange, ...]) -> tuple[str, ...]:
    lines: list[str] = []
    for change in objects:
        lines.extend(object_diff(change.ref, change.observed, change.desired))
    return tuple(lines)


def drift(ref: ObjectRef, expected: JSON | None, live: JSON | None) -> list[str]:
    """What changed between what we expected and what is there now; empty: no drift."""
    if expected is None and live is None:
        return []
    if expected is None:
        return [f"{ref.label} was created by someone else"]
    if live is None:
        return [f"{ref.label} was deleted"]
    return [f"{ref.label}: {c.line()}" for c in field_changes(expected, live)]


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 120 else text[:119] + "…"
