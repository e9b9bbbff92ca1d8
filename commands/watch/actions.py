"""What people do with alerts: acknowledge, silence, roll back the likely cause.

Why this exists: the alert buttons and the typed commands (`/mesh alert ack ID`, the
CLI) go through the registry like the change buttons, so the role check (operator) is
the registry's and cannot drift. A click carries only the alert's (or a storm's) opaque
id; these handlers look it up server-side, change the record atomically
(commands.watch.store) with the lifecycle functions of commands.watch.alerts, and audit
what they did. A rollback goes through the change pipeline as the caller, so the
change's own policy, its drift check and its audit apply exactly as on the proposal.
Each answer is an `AlertActed`; the Slack edge edits the alert message in place and
tells a refused clicker why, and the record asks the watchers to re-render the message
too (its outbox), so an action typed on the command line shows up in Slack as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from commands.changes.recent import ChangeRef, PipelineRecentChanges
from commands.core.errors import PortError
from commands.core.model import ActionOutcome, Caller, Refusal, Result
from commands.core.ports import Services
from commands.watch.alerts import (
    BLIND_RULE,
    Alert,
    Group,
    acknowledge,
    note_rollback,
    request_edit,
    silence,
    start_rollback,
)
from commands.watch.store import AlertStore

ALERT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BLIND = Refusal(
    "This is a 'watcher blind' notice, not an alert: it resolves by itself when data returns."
)
NOTHING_LEFT = "Nothing to do: every alert of this group is already handled."
GROUP_GONE = "This alert group is no longer known (it expired)."


@dataclass(frozen=True)
class AlertActed(Result):
    """The answer to an alert action, for the one who clicked or typed.

    `alert` (or `group` with its `members`) is the record as it is now when the action
    changed it, for the edge to re-render; `thread_note` is said for everyone in the
    thread of the message at `thread` (channel, ts): a rollback's outcome. `audit_error`
    when the audit could not be written (the action itself stands)."""

    action: str
    target: str
    outcome: ActionOutcome
    message: str
    alert: Alert | None = None
    group: Group | None = None
    members: tuple[Alert, ...] = ()
    thread_note: str | None = None
    thread: tuple[str, str] | None = None
    audit_error: str | None = None

    @property
    def changed(self) -> bool:
        return self.alert is not None or self.group is not None


def is_alert_id(text: str) -> bool:
    """Alert and group ids are short opaque words (what a button carries)."""
    return bool(ALERT_ID.match(text))


def alert_id(text: str) -> str:
    if not is_alert_id(text):
        raise ValueError(f"`{text}` is not an alert id (it is shown under the alert)")
    return text


# ---- one alert ---------------------------------------------------------------------------


def acknowledge_alert(services: Services, caller: Caller, target: str) -> AlertActed:
    user, now = caller.user_id, services.clock.now()
    return _change_one(services, target, "acknowledge", lambda a: acknowledge(a, user, now), caller)


def silence_alert(
    services: Services, caller: Caller, target: str, seconds: float, label: str
) -> AlertActed:
    user, now = caller.user_id, services.clock.now()
    acted = _change_one(
        services, target, f"silence {label}", lambda a: silence(a, user, seconds, now), caller
    )
    if acted.alert is not None:  # new alerts on the same subject stay quiet too
        AlertStore(services.store).set_silence(acted.alert, user, now + seconds, seconds)
    return acted


def _change_one(
    services: Services,
    target: str,
    action: str,
    change: Callable[[Alert], Alert | Refusal],
    caller: Caller,
) -> AlertActed:
    alerts = AlertStore(services.store)
    outcome = alerts.change(target, lambda a: _shown(change(a) if a.rule != BLIND_RULE else BLIND))
    if isinstance(outcome, Refusal):
        if alerts.locate(target) is None and alerts.locate_group(target) is not None:
            word = action.split(" ")[0].replace("acknowledge", "ack")
            return _refused(action, target, f"`{target}` is a storm: `alert group {word} {target}`")
        return AlertActed(action, target, outcome.outcome, outcome.message)
    problem = _audit(services, outcome, action, caller.user_id)
    group, members = _storm_of(alerts, outcome)
    return AlertActed(
        action,
        target,
        ActionOutcome.DONE,
        f"{_done_word(action)} the {outcome.rule} alert on {outcome.subject} "
        f"({_state_text(outcome)})",
        alert=outcome,
        group=group,
        members=members,
        audit_error=problem,
    )


def roll_back_cause(services: Services, caller: Caller, target: str) -> AlertActed:
    """Roll back the alert's likely cause through the change pipeline, as the caller.

    The alert records who started it first (so a second click is refused and the
    button disappears), then the pipeline decides; its answer goes in the thread."""
    alerts = AlertStore(services.store)
    alert = alerts.get(target)
    if alert is None or alert.cause is None:
        return _refused("rollback", target, "This alert has no change to roll back.")
    user = caller.user_id
    claimed = alerts.change(target, lambda a: _shown(start_rollback(a, user)))
    if isinstance(claimed, Refusal):
        return _refused("rollback", target, claimed.message)
    started, text = _pipeline_rollback(services, caller, alert.cause)
    final = alerts.change(
        target, lambda a: _shown(note_rollback(a, user if started else None, text))
    )
    problem = _audit(services, alert, "rollback" if started else "rollback refused", user)
    shown = final if isinstance(final, Alert) else None
    group, members = _storm_of(alerts, shown) if shown is not None else (None, ())
    return AlertActed(
        "rollback",
        target,
        ActionOutcome.DONE if started else ActionOutcome.REFUSED,
        text,
        alert=shown,
        group=group,
        members=members,
        thread_note=text,
        thread=(alert.channel, alert.ts) if alert.channel and alert.ts else None,
        audit_error=problem,
    )


def _pipeline_rollback(services: Services, caller: Caller, cause: ChangeRef) -> tuple[bool, str]:
    """Whether the change's rollback started, and the line that says so in the thread."""
    try:
        result = PipelineRecentChanges(services).rollback(cause.id, caller)
        started, message = result.started, result.message
    except PortError as exc:
        started, message = False, f"The rollback could not start: {exc}"
    icon = ":rewind:" if started else ":warning:"
    by = f"<@{caller.user_id}>"
    return started, f"{icon} Rollback of {cause.summary} (change `{cause.id}`) by {by}: {message}"


# ---- a storm's grouped message -----------------------------------------------------------


def acknowledge_group(services: Services, caller: Caller, target: str) -> AlertActed:
    user, now = caller.user_id, services.clock.now()
    return _change_group(
        services, target, "acknowledge all", lambda a: acknowledge(a, user, now), caller
    )


def silence_group(
    services: Services, caller: Caller, target: str, seconds: float, label: str
) -> AlertActed:
    user, now = caller.user_id, services.clock.now()
    alerts = AlertStore(services.store)

    def silenced(alert: Alert) -> None:
        alerts.set_silence(alert, user, now + seconds, seconds)

    return _change_group(
        services,
        target,
        f"silence all {label}",
        lambda a: silence(a, user, seconds, now),
        caller,
        then=silenced,
    )


def _change_group(
    services: Services,
    target: str,
    action: str,
    change: Callable[[Alert], Alert | Refusal],
    caller: Caller,
    then: Callable[[Alert], None] = lambda alert: None,
) -> AlertActed:
    alerts = AlertStore(services.store)
    cluster = alerts.locate_group(target)
    group = None if cluster is None else alerts.group(cluster, target)
    if group is None:
        return _refused(action, target, GROUP_GONE)
    changed = 0
    problems = []
    for member in alerts.members(group):
        outcome = alerts.change(member.id, lambda a: _shown(change(a)))
        if isinstance(outcome, Alert):
            then(outcome)
            changed += 1
            problems.append(_audit(services, outcome, action, caller.user_id, group=group.id))
    if changed == 0:
        return _refused(action, target, NOTHING_LEFT)
    return AlertActed(
        action,
        target,
        ActionOutcome.DONE,
        f"{_done_word(action)} {changed} alert(s) of the storm on {group.cluster}",
        group=group,
        members=tuple(alerts.members(group)),
        audit_error=next((p for p in problems if p), None),
    )


# ---- shared -------------------------------------------------------------------------------


def _shown(outcome: Alert | Refusal) -> Alert | Refusal:
    return outcome if isinstance(outcome, Refusal) else request_edit(outcome)


def _storm_of(alerts: AlertStore, alert: Alert) -> tuple[Group | None, tuple[Alert, ...]]:
    """The storm an alert was posted in (its message is the storm's), with its members."""
    if alert.group_id is None:
        return None, ()
    group = alerts.group(alert.cluster, alert.group_id)
    return (group, tuple(alerts.members(group))) if group is not None else (None, ())


def _refused(action: str, target: str, message: str) -> AlertActed:
    return AlertActed(action, target, ActionOutcome.REFUSED, message)


def _audit(services: Services, alert: Alert, action: str, user: str, **extra: str) -> str | None:
    try:
        services.store.append_audit(
            alert.cluster,
            {
                "kind": "alert",
                "action": action,
                "alert": alert.id,
                "subject": alert.subject,
                "user": user,
                **extra,
            },
        )
    except PortError as exc:
        return f"audit of {action} on {alert.id} failed: {exc}"
    return None


def _done_word(action: str) -> str:
    return "Acknowledged" if action.startswith("acknowledge") else "Silenced"


def _state_text(alert: Alert) -> str:
    if alert.silenced_until is not None:
        until = datetime.fromtimestamp(alert.silenced_until, UTC).strftime("%H:%M UTC")
        return f"silenced until {until}"
    return alert.state.value
