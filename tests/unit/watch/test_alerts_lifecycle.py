"""The alert state machine: acknowledge, silence (and its expiry), refusals, JSON."""

from __future__ import annotations

from commands.changes.recent import ChangeRef
from commands.watch.alerts import (
    Alert,
    AlertState,
    Effect,
    Refusal,
    Tuning,
    acknowledge,
    advance,
    fire,
    new_alert,
    silence,
)
from commands.watch.rules import Reading, RuleSpec, RuleState, evaluate

NOW = 1_800_000_000.0


def firing() -> Alert:
    alert = new_alert("a1", "prod", "latency", "payments.payments.svc.cluster.local", "ms", NOW)
    posted = fire(alert, NOW, None)
    return Alert.from_json(
        {**posted.to_json(), "ts": "1.0", "channel": "C", "outbox": [], "shown_value": 900}
    )


def decide(alert: Alert, value: float | None) -> Alert:
    decision = evaluate(RuleSpec(for_cycles=1), Reading(value, 300.0), alert.rule_state)
    return advance(alert, decision, NOW + 60, Tuning(), silenced_until=None)


def test_acknowledge_records_who_and_refuses_twice() -> None:
    acked = acknowledge(firing(), "U_ALICE", NOW)
    assert isinstance(acked, Alert)
    assert acked.state is AlertState.ACKNOWLEDGED and acked.ack_by == "U_ALICE"
    again = acknowledge(acked, "U_BOB", NOW)
    assert isinstance(again, Refusal) and "<@U_ALICE> already acknowledged" in again.message


def test_acknowledged_alerts_get_no_reminders() -> None:
    tuning = Tuning(renotify_s=60)
    alert = Alert.from_json({**firing().to_json(), "notified_at": NOW - 3600, "value": 900})
    state = RuleState(3, 0, None)
    decision = evaluate(RuleSpec(for_cycles=1), Reading(900.0, 300.0), state)
    reminded = advance(alert, decision, NOW, tuning, silenced_until=None)
    assert Effect.REMINDER in reminded.outbox
    acked = acknowledge(alert, "U_ALICE", NOW)
    assert isinstance(acked, Alert)
    quiet = advance(acked, decision, NOW, tuning, silenced_until=None)
    assert Effect.REMINDER not in quiet.outbox


def test_silence_then_expiry_is_noted_in_the_thread() -> None:
    silenced = silence(firing(), "U_ALICE", 3600, NOW)
    assert isinstance(silenced, Alert) and silenced.state is AlertState.SILENCED
    decision = evaluate(RuleSpec(for_cycles=1), Reading(900.0, 300.0), silenced.rule_state)
    still = advance(silenced, decision, NOW + 60, Tuning(), silenced_until=NOW + 3600)
    assert still.state is AlertState.SILENCED and not still.outbox
    expired = advance(silenced, decision, NOW + 3601, Tuning(), silenced_until=None)
    assert expired.state is AlertState.FIRING
    assert expired.outbox == (Effect.EDIT, Effect.SILENCE_EXPIRED_REPLY)


def test_a_silenced_fingerprint_fires_without_a_post() -> None:
    alert = new_alert("a2", "prod", "steal", "node-c", "%", NOW)
    quiet = fire(alert, NOW, silenced_until=NOW + 600)
    assert quiet.state is AlertState.SILENCED and quiet.outbox == ()


def test_resolution_edits_and_replies_and_refuses_clicks_after() -> None:
    alert = decide(firing(), 900)
    resolved = decide(alert, 100)
    assert resolved.state is AlertState.RESOLVED
    assert resolved.outbox == (Effect.EDIT, Effect.RESOLVED_REPLY)
    assert isinstance(acknowledge(resolved, "U_ALICE", NOW), Refusal)
    assert isinstance(silence(resolved, "U_ALICE", 3600, NOW), Refusal)


def test_no_data_keeps_a_firing_alert_open() -> None:
    alert = decide(firing(), 900)
    assert decide(alert, None).state is AlertState.FIRING


def test_json_round_trip_keeps_everything() -> None:
    alert = Alert.from_json(
        {
            **firing().to_json(),
            "cause": vars(ChangeRef("c1", "mTLS STRICT on payments", NOW - 480, "U_ALICE")),
            "pods": ["shop/a"],
        }
    )
    assert Alert.from_json(alert.to_json()) == alert
