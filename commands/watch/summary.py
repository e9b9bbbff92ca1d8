"""What one watcher cycle did, stored per cluster for `/mesh watch status`.

Why this exists: each step of the cycle (reading, deciding, the outbox) counts what it
did into the same summary, and on-call reads it to see whether the watchers are
healthy: when the last cycle ran and where, blind or not, what is held and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HOLDS_SHOWN = 20


@dataclass
class CycleSummary:
    cluster: str
    at: float
    replica: str
    blind: str | None = None
    evaluated: int = 0
    holds: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    posted: int = 0
    grouped: int = 0
    edited: int = 0
    replies: int = 0
    failed: int = 0
    duration_ms: float = 0.0
    eval_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        raw = dict(vars(self))
        raw["holds_total"] = len(self.holds)
        raw["holds"] = self.holds[:HOLDS_SHOWN]
        return raw
