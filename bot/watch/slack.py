"""The alert buttons: Acknowledge, Silence 1 h / 4 h, Rollback, Runbook (and storm-wide).

Why this exists: a click must be acknowledged within Slack's 3 s, carries nothing but
an opaque alert id, may come twice or from two people at once, and must re-check the
clicker's role every time. Each listener acks at once, then on the work pool: checks
the role, changes the alert atomically (bot.watch.alert_store), edits the alert
message in place and tells a refused clicker why, ephemerally.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.runtime import Runtime
from bot.slack import posting
from bot.slack.access import AccessPolicy
from bot.slack.delivery import Deliveries, Reply
from bot.slack.errors import guarded
from bot.slack.posting import respond_with
from bot.watch.alert_store import AlertStore
from bot.watch.notify import render_alert
from bot.watch.render import (
    ACK,
    GROUP_ACK,
    GROUP_SILENCE_1H,
    ROLLBACK,
    RUNBOOK,
    SILENCE_1H,
    SILENCE_4H,
    SILENCE_SECONDS,
    group_message,
    note,
    render_watch_status,
)
from bot.watch.settings import WatchServices
from commands.changes.recent import PipelineRecentChanges
from commands.core.errors import PortError
from commands.core.model import Result, Role
from commands.watch.alerts import Alert, Refusal, acknowledge, note_rollback, silence
from commands.watch.commands import WatchStatus

log = logging.getLogger(__name__)
NEEDED = Role.OPERATOR


class AlertActions:
    """What each button does, given who clicked where (no Bolt types in here)."""

    def __init__(self, runtime: Runtime, access: AccessPolicy) -> None:
        self.runtime = runtime
        self.access = access
        self.alerts = AlertStore(runtime.services.store)
        self.changes = PipelineRecentChanges(runtime.services, access.role_of)

    @property
    def _now(self) -> float:
        return self.runtime.services.clock.now()

    def _tell(self, client: WebClient, channel: str, user: str, text: str) -> None:
        try:
            posting.post_ephemeral(client, channel, user, note(text))
        except (SlackApiError, SlackClientError) as exc:
            log.warning("could not tell %s: %s", user, exc)

    def _allowed(self, client: WebClient, channel: str, user: str) -> bool:
        role = self.access.role_of(user)
        if role is None or role.value < NEEDED.value:
            have = role.label if role else "no role"
            self._tell(
                client, channel, user, f":no_entry: This needs the operator role; you have {have}."
            )
            return False
        return True

    def _show(self, client: WebClient, alert: Alert) -> None:
        """Edit the alert's message (or its storm's) to show the new state."""
        if alert.channel is None or alert.ts is None:
            return
        if alert.group_id:
            group = self.alerts.group(alert.cluster, alert.group_id)
            if group is None or group.ts is None or group.channel is None:
                return
            message = group_message(group, self.alerts.members(group), self._now)
            posting.update(client, group.channel, group.ts, message)
            return
        runbooks = self.runtime.services.kit(WatchServices).config.runbooks
        message = render_alert(alert, self._now, runbooks, self.changes is not None)
        posting.update(client, alert.channel, alert.ts, message)

    def _audit(self, alert: Alert, action: str, user: str) -> None:
        try:
            self.runtime.services.store.append_audit(
                alert.cluster,
                {
                    "kind": "alert",
                    "action": action,
                    "alert": alert.id,
                    "subject": alert.subject,
                    "user": user,
                },
            )
        except PortError as exc:
            log.warning("audit of %s on %s failed: %s", action, alert.id, exc)

    def acknowledge(self, client: WebClient, channel: str, user: str, alert_id: str) -> None:
        if not self._allowed(client, channel, user):
            return
        now = self._now
        outcome = self.alerts.change(alert_id, lambda a: acknowledge(a, user, now))
        self._finish(client, channel, user, outcome, "acknowledge")

    def silence(
        self, client: WebClient, channel: str, user: str, alert_id: str, seconds: float
    ) -> None:
        if not self._allowed(client, channel, user):
            return
        now = self._now
        outcome = self.alerts.change(alert_id, lambda a: silence(a, user, seconds, now))
        if isinstance(outcome, Alert):
            self.alerts.set_silence(outcome, user, now + seconds, seconds)
        self._finish(client, channel, user, outcome, f"silence {seconds / 3600:g}h")

    def _finish(
        self, client: WebClient, channel: str, user: str, outcome: Alert | Refusal, action: str
    ) -> None:
        if isinstance(outcome, Refusal):
            self._tell(client, channel, user, outcome.message)
            return
        self._audit(outcome, action, user)
        self._show(client, outcome)

    def for_group(
        self, client: WebClient, channel: str, user: str, group_id: str, action: str
    ) -> None:
        if not self._allowed(client, channel, user):
            return
        cluster = self.alerts.locate_group(group_id)
        group = None if cluster is None else self.alerts.group(cluster, group_id)
        if group is None:
            self._tell(client, channel, user, "This alert group is no longer known (it expired).")
            return
        now = self._now
        seconds = SILENCE_SECONDS.get(action, 0.0)
        changed = 0
        for member in self.alerts.members(group):
            if action == GROUP_ACK:
                outcome = self.alerts.change(member.id, lambda a: acknowledge(a, user, now))
            else:
                outcome = self.alerts.change(member.id, lambda a: silence(a, user, seconds, now))
                if isinstance(outcome, Alert):
                    self.alerts.set_silence(outcome, user, now + seconds, seconds)
            if isinstance(outcome, Alert):
                changed += 1
                self._audit(outcome, action, user)
        if changed == 0:
            self._tell(
                client,
                channel,
                user,
                "Nothing to do: every alert of this group is already handled.",
            )
            return
        if group.channel and group.ts:
            posting.update(
                client,
                group.channel,
                group.ts,
                group_message(group, self.alerts.members(group), now),
            )

    def rollback(self, client: WebClient, channel: str, user: str, alert_id: str) -> None:
        if not self._allowed(client, channel, user):
            return
        alert = self.alerts.get(alert_id)
        if alert is None or alert.cause is None:
            self._tell(client, channel, user, "This alert has no change to roll back.")
            return
        if self.changes is None:
            self._tell(client, channel, user, "Rollback is not available on this meshbot.")
            return
        if alert.rollback_by is not None:
            self._tell(
                client, channel, user, f"<@{alert.rollback_by}> already started this rollback."
            )
            return
        cause = alert.cause
        claimed = self.alerts.change(
            alert_id,
            lambda a: (
                Refusal(f"<@{a.rollback_by}> already started this rollback.")
                if a.rollback_by
                else note_rollback(a, user, f":rewind: <@{user}> is rolling back {cause.summary}…")
            ),
        )
        if isinstance(claimed, Refusal):
            self._tell(client, channel, user, claimed.message)
            return
        try:
            result = self.changes.rollback(cause.id, user)
            started, message = result.started, result.message
        except PortError as exc:
            started, message = False, f"The rollback could not start: {exc}"
        icon = ":rewind:" if started else ":warning:"
        text = f"{icon} Rollback of {cause.summary} (change `{cause.id}`) by <@{user}>: {message}"
        final = self.alerts.change(
            alert_id,
            lambda a: note_rollback(a, user if started else None, text),
        )
        self._audit(alert, "rollback" if started else "rollback refused", user)
        if alert.channel and alert.ts:
            posting.post(client, alert.channel, note(text), thread_ts=alert.ts)
        if isinstance(final, Alert):
            self._show(client, final)


def _click(body: dict[str, Any]) -> tuple[str, str, str]:
    action = body["actions"][0]
    channel = (body.get("container") or {}).get("channel_id") or body.get("channel", {}).get(
        "id", ""
    )
    return str(body["user"]["id"]), str(channel), str(action.get("value") or "")


def register(app: App, runtime: Runtime, access: AccessPolicy, deliveries: Deliveries) -> None:
    actions = AlertActions(runtime, access)

    def status(reply: Reply, result: Result) -> None:
        assert isinstance(result, WatchStatus)
        respond_with(reply.respond, render_watch_status(result))

    deliveries.add(WatchStatus, status)

    def on(action_id: str, work: Any) -> None:
        @app.action(action_id)
        def listener(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
            ack()
            user, channel, value = _click(body)
            runtime.after_acks(
                guarded(
                    lambda: work(client, channel, user, value), f"alert button {action_id}", None
                )
            )

    on(ACK, actions.acknowledge)
    on(SILENCE_1H, lambda c, ch, u, v: actions.silence(c, ch, u, v, SILENCE_SECONDS[SILENCE_1H]))
    on(SILENCE_4H, lambda c, ch, u, v: actions.silence(c, ch, u, v, SILENCE_SECONDS[SILENCE_4H]))
    on(ROLLBACK, actions.rollback)
    on(GROUP_ACK, lambda c, ch, u, v: actions.for_group(c, ch, u, v, GROUP_ACK))
    on(GROUP_SILENCE_1H, lambda c, ch, u, v: actions.for_group(c, ch, u, v, GROUP_SILENCE_1H))

    @app.action(RUNBOOK)
    def runbook(ack: Ack) -> None:
        ack()  # a link button: Slack opens the URL; the click still has to be acked
