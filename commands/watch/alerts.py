"""The alert lifecycle: pending → firing → acknowledged / silenced → resolved.

Why this exists: an alert is a small state machine whose every transition may have
to show up in Slack (a post, an edit, a thread reply), may be triggered from two
places at once (the watcher cycle and a button click, or two replicas during a lease
handover), and must survive a restart. So each alert is one JSON record in the store,
changed only by the pure functions here inside `Store.update` (atomic), and the Slack
work a transition needs is written into the record as an *outbox* first. Whoever
changed the record claims the outbox, does the work and removes it; a replica that
dies halfway leaves the claim to expire and the next lease holder finishes the job.
That is what makes "posted exactly once" hold across replicas.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from commands.changes.recent import ChangeRef
from commands.core.model import Refusal
from commands.watch.rules import Decision, RuleState, Severity, Status


class AlertState(Enum):
    PENDING = "pending"
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    SILENCED = "silenced"
    RESOLVED = "resolved"

    @property
    def open(self) -> bool:
        return self in {AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.SILENCED}


class Effect(Enum):
    """Slack work an alert transition needs, done after the record is saved."""

    POST = "post"  # the alert message (or a storm's grouped message)
    CHART = "chart"  # the chart of the last hour, in the thread
    EDIT = "edit"  # re-render the message in place
    RESOLVED_REPLY = "resolved_reply"
    SILENCE_EXPIRED_REPLY = "silence_expired_reply"
    REMINDER = "reminder"


BLIND_RULE = "blind"


def fingerprint(cluster: str, rule: str, subject: str) -> str:
    """Stable identity of "this rule on this subject in this cluster"."""
    return hashlib.sha256(f"{cluster}\x00{rule}\x00{subject}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Alert:
    id: str  # opaque, per incarnation; what buttons carry
    fingerprint: str
    cluster: str
    rule: str  # latency | steal | blind
    subject: str  # service host, node name, or the cluster (blind)
    state: AlertState
    started_at: float
    unit: str = ""
    severity: Severity | None = None
    value: float | None = None
    threshold: float | None = None
    detail: str = ""
    rule_state: RuleState = field(default_factory=RuleState)
    evaluated_at: float = 0.0
    fired_at: float | None = None
    resolved_at: float | None = None
    channel: str | None = None
    ts: str | None = None
    group_id: str | None = None
    shown_value: float | None = None
    shown_severity: Severity | None = None
    edited_at: float | None = None
    notified_at: float | None = None
    ack_by: str | None = None
    ack_at: float | None = None
    silenced_by: str | None = None
    silenced_until: float | None = None
    cause: ChangeRef | None = None
    pods: tuple[str, ...] = ()
    outbox: tuple[Effect, ...] = ()
    claim_by: str | None = None
    claim_at: float | None = None
    rollback_by: str | None = None
    rollback_note: str | None = None

    @property
    def posted(self) -> bool:
        return self.ts is not None

    def minutes_open(self, now: float) -> int:
        start = self.fired_at or self.started_at
        end = self.resolved_at or now
        return max(0, round((end - start) / 60))

    def to_json(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            k: getattr(self, k)
            for k in self.__dataclass_fields__
            if k not in {"state", "severity", "shown_severity", "rule_state", "cause", "outbox"}
        }
        raw["pods"] = list(self.pods)
        raw["state"] = self.state.value
        raw["severity"] = self.severity.value if self.severity else None
        raw["shown_severity"] = self.shown_severity.value if self.shown_severity else None
        raw["rule_state"] = self.rule_state.to_json()
        raw["outbox"] = [e.value for e in self.outbox]
        raw["cause"] = None if self.cause is None else vars(self.cause).copy()
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Alert:
        values = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        values["state"] = AlertState(raw["state"])
        for key in ("severity", "shown_severity"):
            values[key] = Severity(raw[key]) if raw.get(key) else None
        values["rule_state"] = RuleState.from_json(raw.get("rule_state"))
        values["outbox"] = tuple(Effect(e) for e in raw.get("outbox", ()))
        values["pods"] = tuple(raw.get("pods", ()))
        values["cause"] = ChangeRef(**raw["cause"]) if raw.get("cause") else None
        return cls(**values)


@dataclass(frozen=True)
class Tuning:
    """The lifecycle knobs (from the watcher settings)."""

    edit_interval_s: float = 60.0
    renotify_s: float = 3600.0
    claim_timeout_s: float = 30.0
    edit_change_ratio: float = 0.1  # edit when the value moved by more than 10 %


def new_alert(
    alert_id: str,
    cluster: str,
    rule: str,
    subject: str,
    unit: str,
    now: float,
) -> Alert:
    return Alert(
        id=alert_id,
        fingerprint=fingerprint(cluster, rule, subject),
        cluster=cluster,
        rule=rule,
        subject=subject,
        unit=unit,
        state=AlertState.PENDING,
        started_at=now,
    )


def _with_effects(alert: Alert, *effects: Effect) -> Alert:
    outbox = list(alert.outbox)
    for effect in effects:
        if effect not in outbox:
            outbox.append(effect)
    return replace(alert, outbox=tuple(outbox))


def _moved(alert: Alert, tuning: Tuning) -> bool:
    if alert.severity != alert.shown_severity:
        return True
    if alert.value is None or alert.shown_value is None:
        return alert.value != alert.shown_value
    base = max(abs(alert.shown_value), 1e-9)
    return abs(alert.value - alert.shown_value) / base > tuning.edit_change_ratio


def advance(
    alert: Alert, decision: Decision, now: float, tuning: Tuning, *, silenced_until: float | None
) -> Alert:
    """The next record after one cycle's decision (RESOLVED without outbox: forget it).

    `silenced_until` is the fingerprint's silence (from its TTL key), if one is active.
    """
    values = {
        "rule_state": decision.state,
        "evaluated_at": now,
        "detail": decision.reason or alert.detail,
    }
    if decision.status not in {Status.HOLD, Status.NO_DATA}:
        values.update(value=decision.value, threshold=decision.threshold)
        if decision.severity is not None:
            values["severity"] = decision.severity
    current = replace(alert, **values)  # type: ignore[arg-type]
    if current.state is AlertState.PENDING:
        if decision.status is Status.FIRING:
            return fire(current, now, silenced_until)
        if decision.state != RuleState():
            return current
        return replace(current, state=AlertState.RESOLVED, resolved_at=now)  # never fired
    if current.state is AlertState.RESOLVED:
        return current
    if decision.resolved:
        return resolve(current, now)
    if current.state is AlertState.SILENCED and (silenced_until is None or silenced_until <= now):
        back = AlertState.ACKNOWLEDGED if current.ack_by else AlertState.FIRING
        current = replace(current, state=back, silenced_until=None, silenced_by=None)
        effects = [Effect.EDIT, Effect.SILENCE_EXPIRED_REPLY] if current.posted else [Effect.POST]
        return _with_effects(current, *effects)
    if current.state is AlertState.SILENCED:
        return current
    due = current.edited_at is None or now - current.edited_at >= tuning.edit_interval_s
    if (
        current.posted
        and _moved(current, tuning)
        and (due or current.severity != current.shown_severity)
    ):
        current = _with_effects(current, Effect.EDIT)
    if (
        current.state is AlertState.FIRING
        and current.notified_at is not None
        and now - current.notified_at >= tuning.renotify_s
    ):
        current = _with_effects(replace(current, notified_at=now), Effect.REMINDER)
    return current


def fire(alert: Alert, now: float, silenced_until: float | None) -> Alert:
    if silenced_until is not None and silenced_until > now:
        return replace(
            alert, state=AlertState.SILENCED, fired_at=now, silenced_until=silenced_until
        )
    fired = replace(alert, state=AlertState.FIRING, fired_at=now, notified_at=now)
    return _with_effects(fired, Effect.POST, Effect.CHART)


def resolve(alert: Alert, now: float) -> Alert:
    resolved = replace(alert, state=AlertState.RESOLVED, resolved_at=now)
    if Effect.POST in alert.outbox:  # never got out: nothing to take back
        return replace(resolved, outbox=())
    if not alert.posted:
        return resolved
    kept = tuple(e for e in alert.outbox if e is not Effect.REMINDER)
    return _with_effects(replace(resolved, outbox=kept), Effect.EDIT, Effect.RESOLVED_REPLY)


# ---- the outbox claim ---------------------------------------------------------------


def claimable(alert: Alert, replica: str, now: float, tuning: Tuning) -> bool:
    if not alert.outbox:
        return False
    if alert.claim_by in {None, replica}:
        return True
    return alert.claim_at is None or now - alert.claim_at >= tuning.claim_timeout_s


def claim(alert: Alert, replica: str, now: float) -> Alert:
    return replace(alert, claim_by=replica, claim_at=now)


def complete(
    alert: Alert,
    effect: Effect,
    replica: str,
    now: float,
    *,
    channel: str | None = None,
    ts: str | None = None,
    group_id: str | None = None,
) -> Alert | None:
    """Record that `effect` was done by `replica`; None when the claim was lost meanwhile."""
    if alert.claim_by != replica or effect not in alert.outbox:
        return None
    outbox = tuple(e for e in alert.outbox if e is not effect)
    done = replace(alert, outbox=outbox)
    if effect is Effect.POST:
        done = replace(
            done,
            channel=channel,
            ts=ts,
            group_id=group_id,
            shown_value=alert.value,
            shown_severity=alert.severity,
            edited_at=now,
            notified_at=now,
        )
    elif effect is Effect.EDIT:
        done = replace(done, shown_value=alert.value, shown_severity=alert.severity, edited_at=now)
    if not outbox:
        done = replace(done, claim_by=None, claim_at=None)
    return done


def release(alert: Alert, replica: str) -> Alert | None:
    if alert.claim_by != replica:
        return None
    return replace(alert, claim_by=None, claim_at=None)


# ---- what people do with the buttons ------------------------------------------------


def acknowledge(alert: Alert, user: str, now: float) -> Alert | Refusal:
    if alert.state is AlertState.RESOLVED:
        return Refusal("This alert is already resolved.")
    if alert.state is AlertState.ACKNOWLEDGED:
        return Refusal(f"<@{alert.ack_by}> already acknowledged this alert.")
    if alert.state is AlertState.PENDING:
        return Refusal("This alert is not firing.")
    return replace(
        alert,
        state=AlertState.ACKNOWLEDGED,
        ack_by=user,
        ack_at=now,
        silenced_by=None,
        silenced_until=None,
        outbox=tuple(e for e in alert.outbox if e is not Effect.REMINDER),
    )


def silence(alert: Alert, user: str, seconds: float, now: float) -> Alert | Refusal:
    if alert.state is AlertState.RESOLVED:
        return Refusal("This alert is already resolved.")
    if alert.state is AlertState.PENDING:
        return Refusal("This alert is not firing.")
    return replace(
        alert,
        state=AlertState.SILENCED,
        silenced_by=user,
        silenced_until=now + seconds,
        outbox=tuple(e for e in alert.outbox if e is not Effect.REMINDER),
    )


def request_edit(alert: Alert) -> Alert:
    """Ask for the message to show the record again (someone acted on the alert); the
    watcher cycle does it even when the edge that handled the action could not."""
    return _with_effects(alert, Effect.EDIT) if alert.posted else alert


def start_rollback(alert: Alert, user: str) -> Alert | Refusal:
    """Record that `user` is rolling back the alert's likely cause; only one person does."""
    if alert.cause is None:
        return Refusal("This alert has no change to roll back.")
    if alert.rollback_by:
        return Refusal(f"<@{alert.rollback_by}> already started this rollback.")
    return note_rollback(alert, user, f":rewind: <@{user}> is rolling back {alert.cause.summary}…")


def note_rollback(alert: Alert, user: str | None, note: str) -> Alert:
    """Record a rollback started by `user` (None: it did not start; Rollback stays offered)."""
    return replace(alert, rollback_by=user, rollback_note=note)


@dataclass(frozen=True)
class Group:
    """A storm: alerts that fired in one cycle, shown as one message."""

    id: str
    cluster: str
    members: tuple[str, ...]  # fingerprints
    created_at: float
    channel: str | None = None
    ts: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cluster": self.cluster,
            "members": list(self.members),
            "created_at": self.created_at,
            "channel": self.channel,
            "ts": self.ts,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Group:
        return cls(
            id=raw["id"],
            cluster=raw["cluster"],
            members=tuple(raw["members"]),
            created_at=float(raw["created_at"]),
            channel=raw.get("channel"),
            ts=raw.get("ts"),
        )
