"""The three PATCH flavours: JSON merge patch, JSON patch and strategic merge patch.

Strategic merge is what ``kubectl apply``/``kubectl patch`` send for built-in types: lists
of named things (containers, env, ports, volumes…) merge element by element by a key
instead of being replaced, and ``$patch``/``$retainKeys``/``$setElementOrder``/
``$deleteFromPrimitiveList`` directives steer the merge. The real server reads merge keys
from the Go types; here they come from a small table of the fields meshbot touches.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError

# list field name -> merge key, for built-in types (Go struct tags patchMergeKey).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "ownerReferences": "uid",
    "taints": "key",
    "addresses": "type",
    "webhooks": "name",  # Validating/MutatingWebhookConfiguration: patchMergeKey name
}
# merged primitive lists (patchStrategy: merge, no key)
MERGED_SCALAR_LISTS = frozenset({"finalizers"})


def _invalid_patch(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


# -- JSON merge patch (RFC 7386) -------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch; ``target`` is not modified."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- JSON patch (RFC 6902) -------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid_patch(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for part in parts:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise _invalid_patch(f"doc is missing path: {path!r}")
    return cur


def _index(parent: list[Any], token: str, path: str, adding: bool) -> int:
    if token == "-" and adding:
        return len(parent)
    if not token.isdigit():
        raise _invalid_patch(f"invalid array index in path: {path!r}")
    idx = int(token)
    if idx > len(parent) or (idx == len(parent) and not adding):
        raise _invalid_patch(f"array index out of bounds in path: {path!r}")
    return idx


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    return _container(doc, parts, path)


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise _invalid_patch("cannot remove the document root")
    parent = _container(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _invalid_patch(f"unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, adding=False))
    raise _invalid_patch(f"doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _container(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _invalid_patch(f"replace operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        idx = _index(parent, last, path, adding=not replace)
        if replace:
            parent[idx] = value
        else:
            parent.insert(idx, value)
    else:
        raise _invalid_patch(f"doc is missing path: {path!r}")
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    """Apply an RFC 6902 operation list; ``target`` is not modified."""
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise _invalid_patch(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            value = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise _invalid_patch(f"testing value {path} failed")
        else:
            raise _invalid_patch(f"Unexpected kind: {kind}")
    return doc


# -- strategic merge patch -------------------------------------------------------------------


def _list_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        # Container ports merge by containerPort, Service ports by port.
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def _merge_keyed_list(field: str, current: list[Any], patch: list[Any], key: str) -> list[Any]:
    result = [copy.deepcopy(i) for i in current]
    for item in patch:
        if not isinstance(item, dict):
            raise _invalid_patch(f"{field}: strategic merge list items must be objects")
        directive = item.get("$patch")
        if directive == "replace":
            return [
                {k: v for k, v in i.items() if k != "$patch"}
                for i in patch
                if isinstance(i, dict) and i.get("$patch") != "replace"
            ]
        pos = next(
            (
                n
                for n, cur in enumerate(result)
                if isinstance(cur, dict) and cur.get(key) == item.get(key)
            ),
            None,
        )
        if directive == "delete":
            if pos is not None:
                result.pop(pos)
            continue
        if pos is None:
            result.append(strategic_merge({}, item))
        else:
            result[pos] = strategic_merge(result[pos], item)
    return result


def _order_by(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """Honour ``$setElementOrder``: listed elements first, in that order."""

    def ident(i: Any) -> Any:
        return i.get(key) if key and isinstance(i, dict) else i

    wanted = [ident(o) for o in order]
    listed = [i for w in wanted for i in items if ident(i) == w]
    rest = [i for i in items if ident(i) not in wanted]
    return listed + rest


def strategic_merge(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch to a built-in object; ``target`` is not modified."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    orders: dict[str, list[Any]] = {}
    retain: list[str] | None = None
    for key, value in patch.items():
        if key == "$patch":
            continue
        if key == "$retainKeys":
            retain = list(value or [])
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value or []
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            current = result.get(field) or []
            result[field] = [v for v in current if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        if isinstance(value, dict):
            merged = strategic_merge(current, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            mkey = _list_key(key, value or (current if isinstance(current, list) else []))
            if mkey and isinstance(current, list):
                result[key] = _merge_keyed_list(key, current, value, mkey)
            elif mkey:
                result[key] = _merge_keyed_list(key, [], value, mkey)
            elif key in MERGED_SCALAR_LISTS and isinstance(current, list):
                result[key] = current + [v for v in value if v not in current]
            else:
                result[key] = copy.deepcopy(value)
        else:
            result[key] = value
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _order_by(result[field], order, _list_key(field, result[field]))
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain}
    return result
