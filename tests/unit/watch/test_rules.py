"""The rule engine: `for` cycles, low-traffic holds, no data, hysteresis, two levels."""

from __future__ import annotations

import pytest

from commands.watch.rules import (
    Reading,
    RuleSpec,
    RuleState,
    Severity,
    Status,
    evaluate,
    latency_reading,
    steal_reading,
)


def run(spec: RuleSpec, readings: list[Reading]) -> list[Status]:
    state = RuleState()
    seen = []
    for reading in readings:
        decision = evaluate(spec, reading, state)
        state = decision.state
        seen.append(decision.status)
    return seen


def p99(value: float | None, rps: float = 50.0, static: float = 300.0) -> Reading:
    return latency_reading(p99_ms=value, rps=rps, min_rps=1.0, static_ms=static)


def test_a_breach_fires_only_after_for_consecutive_cycles() -> None:
    spec = RuleSpec(for_cycles=3)
    statuses = run(spec, [p99(400), p99(400), p99(200), p99(400), p99(400), p99(400)])
    assert statuses == [
        Status.PENDING,
        Status.PENDING,
        Status.OK,
        Status.PENDING,
        Status.PENDING,
        Status.FIRING,
    ]


def test_low_traffic_holds_and_never_fires_or_breaks_a_streak() -> None:
    spec = RuleSpec(for_cycles=2)
    state = RuleState()
    decision = evaluate(spec, p99(900, rps=0.2), state)
    assert decision.status is Status.HOLD and "low traffic" in decision.reason
    assert decision.state == state and not decision.fired
    first = evaluate(spec, p99(900), RuleState())
    held = evaluate(spec, p99(900, rps=0.1), first.state)
    assert held.state == first.state
    assert evaluate(spec, p99(900), held.state).status is Status.FIRING


def test_no_data_neither_fires_nor_resolves() -> None:
    spec = RuleSpec(for_cycles=1)
    firing = evaluate(spec, p99(900), RuleState())
    assert firing.fired
    blind = evaluate(spec, p99(None), firing.state)
    assert blind.status is Status.NO_DATA and not blind.resolved
    assert blind.state.firing is Severity.CRITICAL
    nan = evaluate(spec, p99(float("nan")), firing.state)
    assert nan.status is Status.NO_DATA and not nan.resolved


def test_resolve_needs_the_value_below_the_hysteresis_band() -> None:
    spec = RuleSpec(for_cycles=1, resolve_ratio=0.9, resolve_cycles=2)
    state = evaluate(spec, p99(400), RuleState()).state
    inside = evaluate(spec, p99(290), state)  # below 300 but above 270
    assert inside.status is Status.FIRING and not inside.resolved
    first = evaluate(spec, p99(250), inside.state)
    assert first.status is Status.FIRING and not first.resolved
    second = evaluate(spec, p99(250), first.state)
    assert second.resolved and second.status is Status.OK and second.state == RuleState()


def test_relative_threshold_is_factor_times_baseline_and_holds_without_one() -> None:
    reading = latency_reading(p99_ms=500, rps=10, min_rps=1, baseline_ms=200, factor=2.0)
    assert reading.critical == 400 and reading.hold is None
    both = latency_reading(
        p99_ms=500, rps=10, min_rps=1, static_ms=600, baseline_ms=200, factor=2.0
    )
    assert both.critical == 600  # above the SLO *and* slower than usual
    missing = latency_reading(p99_ms=500, rps=10, min_rps=1, factor=2.0)
    assert missing.hold == "no baseline yet"
    assert evaluate(RuleSpec(for_cycles=1), missing, RuleState()).status is Status.HOLD


def test_steal_has_two_levels_sharing_one_streak() -> None:
    spec = RuleSpec(for_cycles=2)
    state = RuleState()
    levels = []
    for value in (12, 15, 25, 12, 3):
        decision = evaluate(
            spec, steal_reading(steal_pct=value, warn_pct=10, critical_pct=20), state
        )
        state = decision.state
        levels.append((decision.status, decision.severity))
    assert levels == [
        (Status.PENDING, None),
        (Status.FIRING, Severity.WARN),
        (Status.FIRING, Severity.CRITICAL),
        (Status.FIRING, Severity.WARN),
        (Status.OK, None),
    ]


@pytest.mark.parametrize("bad", [{"for_cycles": 0}, {"resolve_ratio": 0}, {"resolve_ratio": 1.5}])
def test_a_rule_spec_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RuleSpec(**bad)  # type: ignore[arg-type]
