"""Alerts → Slack messages (Block Kit), with no I/O.

Why this exists: an alert message is edited many times (value, acknowledged, silenced,
resolved) and must look the same whoever renders it — the watcher cycle or the replica
that handled a click — so it is one pure function of the alert record and the time.
Buttons carry only the alert's opaque id; the Rollback button asks for confirmation
in Slack's own dialog before anything runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.slack.render import MAX_BLOCKS, SlackMessage, chunk_lines
from commands.core.model import ActionOutcome
from commands.watch.actions import AlertActed
from commands.watch.alerts import BLIND_RULE, Alert, AlertState, Effect, Group
from commands.watch.commands import WatchStatus
from commands.watch.rules import Severity

ACK = "meshbot_alert_ack"
SILENCE_1H = "meshbot_alert_silence_1h"
SILENCE_4H = "meshbot_alert_silence_4h"
ROLLBACK = "meshbot_alert_rollback"
RUNBOOK = "meshbot_alert_runbook"
GROUP_ACK = "meshbot_alert_group_ack"
GROUP_SILENCE_1H = "meshbot_alert_group_silence_1h"
GROUP_LINES = 40
PODS_SHOWN = 15

_ICON = {
    AlertState.PENDING: ":hourglass:",
    AlertState.FIRING: ":rotating_light:",
    AlertState.ACKNOWLEDGED: ":eyes:",
    AlertState.SILENCED: ":mute:",
    AlertState.RESOLVED: ":white_check_mark:",
}


def _clock(ts: float) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(ts))


def _ago(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago"


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "%":
        return f"{value:.1f} %"
    return f"{value:.0f} {unit}".strip()


def service_label(host: str) -> str:
    parts = host.split(".")
    return f"{parts[0]}.{parts[1]}" if len(parts) > 2 else host


def title(alert: Alert) -> str:
    if alert.rule == BLIND_RULE:
        return f"Watcher blind on cluster {alert.cluster}"
    if alert.rule == "steal":
        return f"CPU steal {_num(alert.value, '%')} on node {alert.subject}"
    return f"p99 of {service_label(alert.subject)} is {_num(alert.value, alert.unit)}"


def state_line(alert: Alert, now: float) -> str:
    if alert.state is AlertState.RESOLVED:
        if alert.rule == BLIND_RULE:
            return f"Recovered after {alert.minutes_open(now)} min: data is back."
        return f"Resolved after {alert.minutes_open(now)} min."
    if alert.state is AlertState.ACKNOWLEDGED:
        return f"Acknowledged by <@{alert.ack_by}> at {_clock(alert.ack_at or now)}."
    if alert.state is AlertState.SILENCED:
        who = f" by <@{alert.silenced_by}>" if alert.silenced_by else ""
        return f"Silenced{who} until {_clock(alert.silenced_until or now)}."
    return f"Firing for {alert.minutes_open(now)} min."


def _threshold_line(alert: Alert) -> str:
    if alert.rule == BLIND_RULE:
        return f"No alert is decided for this cluster while it is blind: {alert.detail}"
    severity = "" if alert.severity is None else f"*{alert.severity.value}*: "
    threshold = _num(alert.threshold, alert.unit)
    return f"{severity}{_num(alert.value, alert.unit)}, threshold {threshold} ({alert.detail})"


def cause_line(alert: Alert, now: float) -> str | None:
    cause = alert.cause
    if cause is None:
        return None
    return f"*Likely cause:* {cause.summary}, {_ago(now - cause.applied_at)}, by <@{cause.by}>"


def _steal_advice(alert: Alert) -> list[str]:
    node = alert.subject
    pods = list(alert.pods[:PODS_SHOWN])
    more = len(alert.pods) - len(pods)
    listed = ", ".join(f"`{p}`" for p in pods) + (f" and {more} more" if more > 0 else "")
    lines = [f"*Meshed pods on {node}:* {listed or 'none found'}"]
    lines.append(
        "*What to do:* cordon the node and move its pods "
        f"(`kubectl cordon {node}` then `kubectl drain {node} --ignore-daemonsets`); "
        "move latency-sensitive workloads to dedicated (non-burstable) instances; "
        "or lower the proxy's worker threads (`proxy.istio.io/config: {concurrency: 2}`) "
        "so sidecars compete less for stolen CPU."
    )
    return lines


def _buttons(alert: Alert, runbook: str | None, rollback: bool) -> list[ButtonElement]:
    buttons: list[ButtonElement] = []
    if alert.state.open and alert.rule != BLIND_RULE:
        if alert.state is not AlertState.ACKNOWLEDGED:
            buttons.append(ButtonElement(text="Acknowledge", action_id=ACK, value=alert.id))
        buttons.append(ButtonElement(text="Silence 1 h", action_id=SILENCE_1H, value=alert.id))
        buttons.append(ButtonElement(text="Silence 4 h", action_id=SILENCE_4H, value=alert.id))
        cause = alert.cause
        if rollback and cause is not None and cause.can_roll_back and alert.rollback_by is None:
            buttons.append(
                ButtonElement(
                    text="Rollback",
                    action_id=ROLLBACK,
                    value=alert.id,
                    style="danger",
                    confirm=ConfirmObject(
                        title="Roll back this change?",
                        text=f"Roll back {cause.summary} (change {cause.id})? "
                        "It goes through the change pipeline: its rollback is applied "
                        "and verified like any change.",
                        confirm="Roll back",
                        deny="Cancel",
                        style="danger",
                    ),
                )
            )
    if runbook:
        buttons.append(
            ButtonElement(text="Runbook", action_id=RUNBOOK, url=runbook, value=alert.id)
        )
    return buttons


def alert_message(
    alert: Alert, now: float, *, runbook: str | None = None, rollback: bool = False
) -> SlackMessage:
    """The alert's one message, in whatever state it is now."""
    icon = _ICON[alert.state]
    head = title(alert)
    lines = [_threshold_line(alert), state_line(alert, now)]
    cause = cause_line(alert, now)
    if cause and alert.state is not AlertState.RESOLVED:
        lines.append(cause)
    if alert.rollback_note:
        lines.append(alert.rollback_note)
    if alert.rule == "steal" and alert.state is not AlertState.RESOLVED:
        lines.extend(_steal_advice(alert))
    blocks: list[Block] = [HeaderBlock(text=f"{head}"[:150])]
    blocks += [SectionBlock(text=MarkdownTextObject(text=c)) for c in chunk_lines(lines)]
    buttons = _buttons(alert, runbook, rollback)
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))  # type: ignore[arg-type]
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"cluster *{alert.cluster}* · rule {alert.rule} · alert `{alert.id}`"
                )
            ]
        )
    )
    fallback = f"{icon} {head} [{alert.state.value}] — {state_line(alert, now)}"
    return SlackMessage(fallback, [b.to_dict() for b in blocks], ephemeral=False)


def group_message(group: Group, alerts: Sequence[Alert], now: float) -> SlackMessage:
    """A storm: one message for many alerts of one cycle, with actions for all of them."""
    open_ = [a for a in alerts if a.state is not AlertState.RESOLVED]
    head = f"{len(alerts)} alerts on cluster {group.cluster} ({len(open_)} open)"
    lines = []
    for alert in sorted(alerts, key=lambda a: (a.state is AlertState.RESOLVED, a.subject)):
        lines.append(f"{_ICON[alert.state]} {title(alert)} — {state_line(alert, now)}")
    shown = lines[:GROUP_LINES]
    if len(lines) > GROUP_LINES:
        shown.append(f"_… and {len(lines) - GROUP_LINES} more_")
    blocks: list[Block] = [HeaderBlock(text=head[:150])]
    sections = [SectionBlock(text=MarkdownTextObject(text=c)) for c in chunk_lines(shown)]
    blocks += sections[: MAX_BLOCKS - 3]
    if open_:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(text="Acknowledge all", action_id=GROUP_ACK, value=group.id),
                    ButtonElement(
                        text="Silence all 1 h", action_id=GROUP_SILENCE_1H, value=group.id
                    ),
                ]
            )
        )
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="An alert storm: grouped into one message. Details in the thread. "
                    f"· group `{group.id}`"
                )
            ]
        )
    )
    return SlackMessage(f":rotating_light: {head}", [b.to_dict() for b in blocks], ephemeral=False)


def reply_message(alert: Alert, effect: Effect, now: float) -> SlackMessage:
    """The short thread reply of a transition."""
    name = title(alert)
    if effect is Effect.RESOLVED_REPLY:
        if alert.rule == BLIND_RULE:
            text = f":white_check_mark: Data is back after {alert.minutes_open(now)} min."
        else:
            last = _num(alert.value, alert.unit)
            text = (
                f":white_check_mark: Resolved after {alert.minutes_open(now)} min "
                f"({service_label(alert.subject)} now {last})."
            )
    elif effect is Effect.SILENCE_EXPIRED_REPLY:
        text = f":bell: Silence expired; {name} is still {alert.state.value}."
    else:
        text = f":bell: Still firing after {alert.minutes_open(now)} min: {name}."
    return SlackMessage(text, [SectionBlock(text=text).to_dict()], ephemeral=False)


def group_reply_message(alerts: Sequence[Alert], now: float) -> SlackMessage:
    """One thread reply for the storm members that resolved in one cycle."""
    names = ", ".join(service_label(a.subject) for a in alerts[:GROUP_LINES])
    more = f" and {len(alerts) - GROUP_LINES} more" if len(alerts) > GROUP_LINES else ""
    text = f":white_check_mark: Resolved: {names}{more}."
    return SlackMessage(text, [SectionBlock(text=text[:3000]).to_dict()], ephemeral=False)


def note(text: str) -> SlackMessage:
    """An ephemeral answer to a click."""
    return SlackMessage(text, [SectionBlock(text=MarkdownTextObject(text=text)).to_dict()])


def acted_message(result: AlertActed) -> SlackMessage:
    """The answer to a typed alert command, for the one who typed it."""
    icon = ":white_check_mark:" if result.outcome is ActionOutcome.DONE else ":no_entry:"
    if result.thread_note:
        icon = ""  # a rollback's line carries its own
    return note(f"{icon} {result.message}".strip())


def severity_word(severity: Severity | None) -> str:
    return "" if severity is None else severity.value


def watch_status_lines(status: WatchStatus, now: float | None = None) -> list[str]:
    """What `/mesh watch status` says, as plain lines (shared by Slack and the CLI)."""
    now = time.time() if now is None else now
    holder = status.lease_holder
    if holder is None:
        lines = ["Watcher lease: nobody holds it (no replica runs the watchers)"]
    elif holder == status.this_replica:
        lines = [f"Watcher lease: held by this replica ({holder})"]
    else:
        lines = [f"Watcher lease: held by replica {holder} (this is {status.this_replica})"]
    if status.skipped_cycles:
        lines.append(
            f"Cycles skipped on this replica (previous still running): {status.skipped_cycles}"
        )
    if not status.clusters:
        lines.append("No cluster is configured.")
    for name, summary in status.clusters:
        if not summary:
            lines.append(f"{name}: no cycle has run yet")
            continue
        age = now - float(summary.get("at", now))
        head = (
            f"{name}: last cycle {_ago(age)} by {summary.get('replica')}, "
            f"{summary.get('evaluated', 0)} subjects in {summary.get('duration_ms', 0):.0f} ms"
        )
        lines.append(head)
        if summary.get("blind"):
            lines.append(f"  BLIND: {summary['blind']}")
        counts = summary.get("counts") or {}
        if counts:
            lines.append("  alerts: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        else:
            lines.append("  alerts: none open")
        holds = summary.get("holds") or []
        total = int(summary.get("holds_total", len(holds)))
        if holds:
            lines.append(f"  held (no decision), {total}:")
            lines.extend(f"    {h}" for h in holds)
            if total > len(holds):
                lines.append(f"    … and {total - len(holds)} more")
    return lines


def render_watch_status(status: WatchStatus) -> SlackMessage:
    lines = watch_status_lines(status)
    blocks: list[Block] = [HeaderBlock(text="meshbot watchers")]
    blocks += [
        SectionBlock(text=MarkdownTextObject(text=f"```{c}```")) for c in chunk_lines(lines, 2900)
    ][: MAX_BLOCKS - 1]
    return SlackMessage("meshbot watchers: " + lines[0], [b.to_dict() for b in blocks])
