"""Label and field selectors, parsed and matched the way the real server does.

The bot lists by selector (pods of a workload, pods on a node, namespaces labelled for
injection), so the sandbox must filter exactly like kube-apiserver, including its
400 BadRequest for syntax errors and for fields a resource does not index.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ApiError, bad_request

Matcher = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_CMP_RE = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s,()]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _split_requirements(text: str) -> list[str]:
    """Split on commas that are not inside a ``in (...)`` value set."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _requirement_ok(op: str, key: str, values: frozenset[str], labels: dict[str, str]) -> bool:
    if op == "in":
        return labels.get(key) in values
    if op == "notin":
        return labels.get(key) not in values
    if op == "!=":
        return labels.get(key) not in values
    if op == "=":
        return labels.get(key) in values
    if op == "!":
        return key not in labels
    return key in labels


def parse_label_selector(text: str | None) -> Matcher | None:
    """A predicate on an object's ``metadata.labels``; None when the selector is empty."""
    if not text or not text.strip():
        return None
    reqs: list[tuple[str, str, frozenset[str]]] = []
    for req in _split_requirements(text):
        m = _SET_RE.match(req)
        if m:
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append((m.group(2), m.group(1), values))
            continue
        m = _CMP_RE.match(req)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append((op, m.group(1), frozenset({m.group(3)})))
            continue
        m = _EXISTS_RE.match(req)
        if m:
            reqs.append(("!" if m.group(1) else "exists", m.group(2), frozenset()))
            continue
        raise bad_request(f"unable to parse requirement: {req.strip()!r}")

    def match(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(_requirement_ok(op, key, values, labels) for op, key, values in reqs)

    return match


# Fields each kind lets you select on besides metadata.name / metadata.namespace.
FIELD_LABELS: dict[str, frozenset[str]] = {
    "Pod": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "Node": frozenset({"spec.unschedulable"}),
    "Namespace": frozenset({"status.phase"}),
    "Secret": frozenset({"type"}),
    "Event": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
}


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string form the real server compares a field selector against."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            cur = None
            break
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(text: str | None, kind: str, builtin: bool = True) -> Matcher | None:
    """A predicate for ``fieldSelector``; 400 for fields the kind does not support."""
    if not text or not text.strip():
        return None
    allowed = {"metadata.name", "metadata.namespace"}
    if builtin:
        allowed |= FIELD_LABELS.get(kind, frozenset())
    checks: list[tuple[str, bool, str]] = []
    for req in text.split(","):
        if not req.strip():
            continue
        m = _CMP_RE.match(req)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{req}'")
        key, op, value = m.groups()
        if key not in allowed:
            raise ApiError(
                400,
                "BadRequest",
                f'Unable to find "{kind}" that match label selector "", field selector '
                f'"{text}": field label not supported: {key}',
            )
        checks.append((key, op != "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((field_value(obj, k) == v) == eq for k, eq, v in checks)

    return match


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions) against labels.

    As the real server: a missing selector (None) and an empty one (``{}``) match
    everything; operators In, NotIn, Exists, DoesNotExist.
    """
    if not selector:
        return True
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = frozenset(str(v) for v in expr.get("values") or ())
        if op == "In":
            ok = labels.get(key) in values
        elif op == "NotIn":
            ok = labels.get(key) not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            ok = False
        if not ok:
            return False
    return True
