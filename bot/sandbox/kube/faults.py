"""Fault injection: make chosen requests fail, hang or drop, for reliability tests.

meshbot must survive a flaky apiserver (5xx, 429, timeouts, reset connections) without
applying a change twice or reporting a pass it did not see. Tests arm a rule on the
in-process server (``server.faults.add(...)``) or, for a standalone sandbox, over HTTP
(``POST /_sandbox/faults`` with the same fields as JSON).

A second kind of fault is not about requests: ``pods_never_ready`` (``POST
/_sandbox/faults {"pods_never_ready": {"namespace": "shop", "image_regex": "proxyv2:1.30"}}``)
makes the controllers' kubelet run matching pods without ever passing their readiness
(a bad proxy version, a wave that must fail its bounded wait). Every field is optional
and all given ones must match: ``namespace`` (exact), ``image_regex`` (re.search on any
container or init container image), ``name_regex`` (on the pod name).
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FaultRule:
    """Requests matching ``method`` (None = any) and ``path_regex`` (re.search on the path,
    query string included) get ``status`` (after sleeping ``hang`` seconds), or just sleep
    ``hang`` seconds and then proceed, or have their connection ``reset``; ``count`` times
    (None = until cleared)."""

    method: str | None = None
    path_regex: str = ".*"
    status: int | None = None
    count: int | None = None
    hang: float = 0.0
    reset: bool = False
    message: str = ""
    retry_after: int | None = None
    hits: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)
        if self.method:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self._pattern.search(path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path_regex": self.path_regex,
            "status": self.status,
            "count": self.count,
            "hang": self.hang,
            "reset": self.reset,
            "message": self.message,
            "retry_after": self.retry_after,
            "hits": self.hits,
        }


@dataclass
class PodFault:
    """Pods matching every given field never become Ready (see the module docstring)."""

    namespace: str | None = None
    image_regex: str | None = None
    name_regex: str | None = None

    def __post_init__(self) -> None:
        for pattern in (self.image_regex, self.name_regex):
            if pattern is not None:
                re.compile(pattern)

    def matches(self, pod: dict[str, Any]) -> bool:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.name_regex is not None and not re.search(self.name_regex, meta.get("name", "")):
            return False
        if self.image_regex is not None:
            images = [
                str(c.get("image", ""))
                for c in (*(spec.get("containers") or ()), *(spec.get("initContainers") or ()))
            ]
            return any(re.search(self.image_regex, image) for image in images)
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"pods_never_ready": dataclasses.asdict(self)}


class Faults:
    """The armed rules; the first matching rule with count left fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._pod_faults: list[PodFault] = []

    def add_pods_never_ready(
        self,
        namespace: str | None = None,
        image_regex: str | None = None,
        name_regex: str | None = None,
    ) -> PodFault:
        """Matching pods run but never become Ready, until the faults are cleared."""
        fault = PodFault(namespace, image_regex, name_regex)
        with self._lock:
            self._pod_faults.append(fault)
        return fault

    def never_ready(self, pod: dict[str, Any]) -> bool:
        with self._lock:
            return any(f.matches(pod) for f in self._pod_faults)

    def pod_faults(self) -> list[PodFault]:
        with self._lock:
            return list(self._pod_faults)

    def add(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        status: int | None = None,
        count: int | None = None,
        hang: float = 0.0,
        reset: bool = False,
        message: str = "",
        retry_after: int | None = None,
    ) -> FaultRule:
        if status is None and not hang and not reset:
            raise ValueError("a fault needs status, hang or reset")
        rule = FaultRule(method, path_regex, status, count, hang, reset, message, retry_after)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._pod_faults.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str) -> FaultRule | None:
        """The rule to apply to this request, consuming one of its count."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count <= 0:
                            self._rules.remove(rule)
                    return rule
        return None
