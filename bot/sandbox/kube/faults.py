"""Fault injection: make chosen requests fail, hang or drop, for reliability tests.

meshbot must survive a flaky apiserver (5xx, 429, timeouts, reset connections) without
applying a change twice or reporting a pass it did not see. Tests arm a rule on the
in-process server (``server.faults.add(...)``) or, for a standalone sandbox, over HTTP
(``POST /_sandbox/faults`` with the same fields as JSON).
"""

from __future__ import annotations

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


class Faults:
    """The armed rules; the first matching rule with count left fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

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
