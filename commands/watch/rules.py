"""The rule engine: one reading per cycle in, a decision and the next state out.

Why this exists: watchers (p99 per service, steal per node) and the change pipeline's
bake windows ask the same question every cycle — "is this value past its threshold,
for long enough, with enough data to say so?" — and must answer it the same way.
This module answers it as a pure function, so a unit test, a watcher and a bake window
agree by construction.

The API, in full:

    state = RuleState()                        # per subject; store it between cycles
    reading = latency_reading(p99_ms=..., rps=..., static_ms=250, ...)  # or steal_reading
    decision = evaluate(spec, reading, state)  # -> Decision(status, severity, state, …)
    state = decision.state

Semantics (the same for every rule):

- A reading above its threshold counts one *breach cycle*; `for_cycles` consecutive
  ones make it FIRING (before that it is PENDING). A reading at or below the threshold
  before that resets the count.
- Resolve with hysteresis: a firing rule resolves only after `resolve_cycles`
  consecutive readings at or below `threshold x resolve_ratio` (e.g. 0.9); a reading
  between the two keeps it firing.
- No data (`value is None`) or a reason to hold (too little traffic, no baseline)
  makes NO decision: status NO_DATA / HOLD, the state is carried over unchanged, so
  such a cycle neither fires, resolves, nor breaks a streak. Never "breach" on
  missing data, never "pass" either.
- Two levels (WARN below CRITICAL) share one streak: the severity of a firing rule is
  the level of the current reading (never below WARN while it still breaches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any


class Status(Enum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    HOLD = "hold"
    NO_DATA = "no data"


class Severity(Enum):
    WARN = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class RuleSpec:
    """How long a breach must last, and how far back a value must fall to resolve."""

    for_cycles: int = 3
    resolve_ratio: float = 0.9
    resolve_cycles: int = 1

    def __post_init__(self) -> None:
        if self.for_cycles < 1 or self.resolve_cycles < 1:
            raise ValueError("for_cycles and resolve_cycles must be at least 1")
        if not 0 < self.resolve_ratio <= 1:
            raise ValueError("resolve_ratio must be in (0, 1]")


@dataclass(frozen=True)
class Reading:
    """One cycle's value of one subject and the thresholds it is judged against.

    `critical` is the main threshold (latency has only this one); `warn`, when set, is
    a lower first level (steal). `hold` names why no decision may be made this cycle.
    """

    value: float | None
    critical: float | None
    warn: float | None = None
    hold: str | None = None
    detail: str = ""

    @property
    def lowest(self) -> float | None:
        return self.warn if self.warn is not None else self.critical


@dataclass(frozen=True)
class RuleState:
    """What one subject carries from cycle to cycle (store it as `to_json()`)."""

    breach_cycles: int = 0
    clear_cycles: int = 0
    firing: Severity | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "breach_cycles": self.breach_cycles,
            "clear_cycles": self.clear_cycles,
            "firing": None if self.firing is None else self.firing.value,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> RuleState:
        if not raw:
            return cls()
        firing = raw.get("firing")
        return cls(
            int(raw.get("breach_cycles", 0)),
            int(raw.get("clear_cycles", 0)),
            None if firing is None else Severity(firing),
        )


@dataclass(frozen=True)
class Decision:
    status: Status
    state: RuleState
    value: float | None
    threshold: float | None
    severity: Severity | None = None
    reason: str = ""
    was_firing: bool = False

    @property
    def fired(self) -> bool:
        return self.status is Status.FIRING and not self.was_firing

    @property
    def resolved(self) -> bool:
        return self.was_firing and self.state.firing is None

    @property
    def breaching(self) -> bool:
        return self.status in {Status.PENDING, Status.FIRING}


def _level(reading: Reading, value: float) -> Severity | None:
    if reading.critical is not None and value > reading.critical:
        return Severity.CRITICAL
    if reading.warn is not None and value > reading.warn:
        return Severity.WARN
    return None


def evaluate(spec: RuleSpec, reading: Reading, state: RuleState) -> Decision:
    """Judge one reading; see the module docstring for the semantics."""
    was_firing = state.firing is not None
    value = reading.value
    if value is None or math.isnan(value):
        reason = reading.hold or "no data"
        status = Status.NO_DATA if reading.hold is None else Status.HOLD
        return Decision(status, state, None, reading.lowest, state.firing, reason, was_firing)
    if reading.hold is not None or reading.lowest is None:
        reason = reading.hold or "no threshold"
        return Decision(Status.HOLD, state, value, None, state.firing, reason, was_firing)
    threshold = reading.lowest
    level = _level(reading, value)
    if level is not None:
        breaches = state.breach_cycles + 1
        firing = level if (was_firing or breaches >= spec.for_cycles) else None
        new = RuleState(breaches, 0, firing)
        status = Status.FIRING if firing is not None else Status.PENDING
        reason = f"above {threshold:g} for {breaches} cycle(s)"
        return Decision(status, new, value, threshold, firing, reason, was_firing)
    if not was_firing:
        return Decision(Status.OK, RuleState(), value, threshold, None, "", False)
    if value > threshold * spec.resolve_ratio:
        held = replace(state, clear_cycles=0, firing=state.firing)
        reason = f"below {threshold:g} but not yet below {threshold * spec.resolve_ratio:g}"
        return Decision(Status.FIRING, held, value, threshold, state.firing, reason, True)
    clear = state.clear_cycles + 1
    if clear >= spec.resolve_cycles:
        return Decision(Status.OK, RuleState(), value, threshold, None, "resolved", True)
    pending = RuleState(state.breach_cycles, clear, state.firing)
    reason = f"clear for {clear} of {spec.resolve_cycles} cycle(s)"
    return Decision(Status.FIRING, pending, value, threshold, state.firing, reason, True)


def latency_reading(
    *,
    p99_ms: float | None,
    rps: float | None,
    min_rps: float,
    static_ms: float | None = None,
    baseline_ms: float | None = None,
    factor: float | None = None,
) -> Reading:
    """A p99 reading: threshold static, relative (factor x baseline), or both (the higher).

    With both, a service breaches only when it is above its SLO *and* slower than
    usual. With only a relative threshold and no baseline the rule holds. Below
    `min_rps` requests per second the rule holds: a p99 of three requests is noise.
    """
    relative = None
    if factor is not None and baseline_ms is not None and not math.isnan(baseline_ms):
        relative = factor * baseline_ms
    candidates = [t for t in (static_ms, relative) if t is not None]
    threshold = max(candidates) if candidates else None
    hold = None
    if rps is None or math.isnan(rps) or rps < min_rps:
        shown = 0.0 if rps is None or math.isnan(rps) else rps
        hold = f"low traffic ({shown:.2g} req/s < {min_rps:g})"
    elif threshold is None:
        hold = "no baseline yet"
    detail = "" if relative is None else f"baseline {baseline_ms:.0f} ms x {factor:g}"
    return Reading(p99_ms, threshold, hold=hold, detail=detail)


def steal_reading(*, steal_pct: float | None, warn_pct: float, critical_pct: float) -> Reading:
    return Reading(steal_pct, critical_pct, warn=warn_pct)
