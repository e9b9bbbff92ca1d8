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
import re
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
SHORT_LIST = 60  # a changed list of scalars up to this long is shown whole, on one line
MAX_VALUE = 400  # longer values (certificates, scripts) say how much is left out


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
    """Leaf-level differences between two (normalised) objects, in a stable order. List
    elements are matched by identity — their `name` when every element has a distinct
    one (Istio routes, containers, ports), else their position — so one changed field
    of one route is one line, `spec.http[checkout].timeout: 1s → 2s`, and a reordered
    list (which changes which route matches first) is said as such."""
    return list(_walk("", normalized(old) or {}, normalized(new) or {}))


def _walk(path: str, old: Any, new: Any) -> Iterator[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            yield from _walk(_key(path, key), old.get(key, MISSING), new.get(key, MISSING))
        return
    if isinstance(old, list) and isinstance(new, list):
        yield from _walk_list(path, old, new)
        return
    if old is MISSING and _nested(new):
        yield from _walk(path, _empty_like(new), new)
        return
    if new is MISSING and _nested(old):
        yield from _walk(path, old, _empty_like(old))
        return
    if old != new:
        yield FieldChange(path, old, new)


def _nested(value: Any) -> bool:
    """A dict, or a list holding dicts/lists: shown leaf by leaf when added or removed."""
    if isinstance(value, dict):
        return bool(value)
    return isinstance(value, list) and any(isinstance(v, dict | list) for v in value)


def _empty_like(value: Any) -> Any:
    return {} if isinstance(value, dict) else []


def _walk_list(path: str, old: list[Any], new: list[Any]) -> Iterator[FieldChange]:
    if old == new:
        return
    if not any(isinstance(v, dict | list) for v in (*old, *new)):
        yield from _scalar_list(path, old, new)
        return
    old_names, new_names = _names(old), _names(new)
    by_name = old_names is not None and new_names is not None
    old_ids = old_names if old_names is not None and by_name else _positions(old)
    new_ids = new_names if new_names is not None and by_name else _positions(new)
    before = dict(zip(old_ids, old, strict=True))
    after = dict(zip(new_ids, new, strict=True))
    for ident in [*old_ids, *(i for i in new_ids if i not in before)]:
        yield from _walk(path + ident, before.get(ident, MISSING), after.get(ident, MISSING))
    kept_before = [i for i in old_ids if i in after]
    kept_after = [i for i in new_ids if i in before]
    if kept_before != kept_after:
        yield FieldChange(f"{path} order", _Order(kept_before), _Order(kept_after))


def _positions(items: list[Any]) -> list[str]:
    return [f"[{i}]" for i in range(len(items))]


def _names(items: list[Any]) -> list[str] | None:
    """`[name]` ids when every element has a distinct non-empty `name`, else None."""
    names = [i.get("name") if isinstance(i, dict) else None for i in items]
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        return None
    return [f"[{_segment(str(n))}]" for n in names]


def _scalar_list(path: str, old: list[Any], new: list[Any]) -> Iterator[FieldChange]:
    if len(_show(old)) + len(_show(new)) <= 2 * SHORT_LIST:
        yield FieldChange(path, old, new)
        return
    remaining = list(new)
    for value in old:
        if value in remaining:
            remaining.remove(value)
        else:
            yield FieldChange(f"{path}[]", value, MISSING)
    for value in remaining:
        yield FieldChange(f"{path}[]", MISSING, value)
    if sorted(map(_show, old)) == sorted(map(_show, new)):
        yield FieldChange(f"{path} order", old, new)


class _Order(list[str]):
    """Element identities in list order, shown as `[a, b]`."""


_PLAIN = re.compile(r"^[A-Za-z0-9_-]+$")


def _segment(name: str) -> str:
    return name if _PLAIN.match(name) and not name.isdigit() else json.dumps(name)


def _key(path: str, key: Any) -> str:
    text = str(key)
    if _PLAIN.match(text) or re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", text):
        return f"{path}.{text}" if path else text
    return f"{path}[{json.dumps(text)}]"


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
    """A value as a reviewer reads it: strings bare unless that would be ambiguous
    (`"3"`, `"true"`, `""`, spaces at the ends), everything else as JSON; a very long
    value says how much of it is not shown."""
    if isinstance(value, _Order):
        return "[" + ", ".join(i[1:-1] for i in value) + "]"
    if isinstance(value, str) and _bare(value):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)
    if len(text) <= MAX_VALUE:
        return text
    return f"{text[:MAX_VALUE]}… ({len(text) - MAX_VALUE} more characters)"


def _bare(text: str) -> bool:
    if not text or text != text.strip() or "\n" in text or "→" in text:
        return False
    try:
        json.loads(text)
    except ValueError:
        return True
    return False  # a number, true/false/null, or JSON text: quote it
