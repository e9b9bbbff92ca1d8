"""The alert buttons in Slack: a click is the typed command, run through the registry.

Why this exists: a click must be acknowledged within Slack's 3 s, carries nothing but
an opaque alert (or storm) id, may come twice or from two people at once, and must
re-check the clicker's role every time. So a click does what the change buttons do:
ack at once, then, on the work pool, dispatch the command it stands for (`alert ack
ID`, `alert silence ID for=1h`, `alert rollback ID`, `alert group ack ID`, …) with the
clicker's Caller; the registry checks the role and commands.watch.actions decides.
What is left here is showing the answer: the alert message (or its storm's) edited in
place, a rollback's outcome in its thread, a refusal to the clicker alone.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.runtime import Runtime
from bot.slack import posting
from bot.slack.access import AccessPolicy
from bot.slack.clicks import Click, on_buttons
from bot.slack.delivery import Deliveries, Reply
from bot.slack.posting import respond_with
from bot.slack.render import SlackMessage, render
from bot.watch.notify import render_alert
from bot.watch.render import (
    ACK,
    GROUP_ACK,
    GROUP_SILENCE_1H,
    ROLLBACK,
    RUNBOOK,
    SILENCE_1H,
    SILENCE_4H,
    acted_message,
    group_message,
    note,
    render_watch_status,
)
from bot.watch.settings import WatchServices
from commands.changes.hooks import ChangesKit
from commands.core.model import ActionOutcome, Result
from commands.watch.actions import AlertActed, is_alert_id
from commands.watch.commands import WatchStatus

log = logging.getLogger(__name__)
COMMAND_OF = {
    ACK: "alert ack {}",
    SILENCE_1H: "alert silence {} for=1h",
    SILENCE_4H: "alert silence {} for=4h",
    ROLLBACK: "alert rollback {}",
    GROUP_ACK: "alert group ack {}",
    GROUP_SILENCE_1H: "alert group silence {} for=1h",
}


def show(runtime: Runtime, client: WebClient, result: AlertActed) -> None:
    """Say a rollback's outcome in the alert's thread and edit the message in place.

    An edit Slack refuses now is made by the watchers at their next cycle (the action
    left it in the alert's outbox)."""
    if result.audit_error:
        log.warning("%s", result.audit_error)
    try:
        if result.thread_note and result.thread:
            channel, ts = result.thread
            posting.post(client, channel, note(result.thread_note), thread_ts=ts)
        edited = edited_message(runtime, result)
        if edited is not None:
            posting.update(client, *edited)
    except (SlackApiError, SlackClientError) as exc:
        log.warning("could not show %s of %s in Slack: %s", result.action, result.target, exc)


def edited_message(runtime: Runtime, result: AlertActed) -> tuple[str, str, SlackMessage] | None:
    """Where the acted-on message is and how it looks now (a storm's: the grouped one)."""
    now = runtime.services.clock.now()
    group = result.group
    if group is not None:
        if group.channel is None or group.ts is None:
            return None
        return group.channel, group.ts, group_message(group, result.members, now)
    alert = result.alert
    if alert is None or alert.channel is None or alert.ts is None:
        return None
    runbooks = runtime.services.kit(WatchServices).config.runbooks
    rollback = runtime.services.kits.has(ChangesKit)
    return alert.channel, alert.ts, render_alert(alert, now, runbooks, rollback)


def _tell(client: WebClient, channel: str, user: str, message: SlackMessage) -> None:
    try:
        posting.post_ephemeral(client, channel, user, message)
    except (SlackApiError, SlackClientError) as exc:
        log.warning("could not tell %s: %s", user, exc)


def answer_click(
    runtime: Runtime, client: WebClient, channel: str, user: str, result: Result
) -> None:
    """The alert re-rendered for everyone; a refusal (or denial) for the clicker alone."""
    if not isinstance(result, AlertActed):
        _tell(client, channel, user, render(result))  # denied, bad input, a fault
        return
    if result.changed or result.thread_note:
        show(runtime, client, result)
    if result.outcome is not ActionOutcome.DONE and not result.thread_note:
        _tell(client, channel, user, note(result.message))


def register(app: App, runtime: Runtime, access: AccessPolicy, deliveries: Deliveries) -> None:
    def status(reply: Reply, result: Result) -> None:
        assert isinstance(result, WatchStatus)
        respond_with(reply.respond, render_watch_status(result))

    def typed(reply: Reply, result: Result) -> None:
        assert isinstance(result, AlertActed)
        show(reply.runtime, reply.client, result)
        respond_with(reply.respond, acted_message(result))

    deliveries.add(WatchStatus, status)
    deliveries.add(AlertActed, typed)

    def answer(click: Click, result: Result, respond: Respond) -> None:
        answer_click(runtime, app.client, click.channel or "", click.user, result)

    on_buttons(app, runtime, access, COMMAND_OF, is_alert_id, answer)

    @app.action(RUNBOOK)
    def runbook(ack: Ack) -> None:
        ack()  # a link button: Slack opens the URL; the click still has to be acked
