"""Changes in Slack: post proposals, Approve / Reject / Rollback buttons, edits in place.

A proposal is posted once to the channel it was asked in; every later transition edits
that message (`chat.update`) and adds one line to its thread, through a notifier
registered on the runtime's change hooks (so a bake-window verdict reached on a timer
shows up the same way as a click). Buttons carry only the change id; a click is acked
at once, then dispatched as the typed command would be (`change approve ID`), so the
clicker's role is re-checked on every click and the pipeline applies its policy.
Refusals go back to the clicker alone (ephemeral).
"""

from __future__ import annotations

import logging

from slack_bolt import App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.changes.diffpost import post_whole_diff
from bot.changes.render import (
    APPROVE,
    REJECT,
    ROLLBACK,
    acted_message,
    event_reply,
    history_message,
    proposal_message,
    view_message,
)
from bot.core.runtime import Runtime
from bot.slack.access import AccessPolicy, GroupDirectory
from bot.slack.clicks import Click, on_buttons
from bot.slack.delivery import Deliveries, Reply, ephemeral
from bot.slack.posting import post, respond_with, update
from bot.slack.render import render
from commands.changes.hooks import ChangeEvent, ChangesKit
from commands.changes.machine import is_change_id
from commands.changes.model import (
    ChangeActed,
    ChangeProposed,
    ChangeView,
    History,
)
from commands.changes.pipeline import Pipeline
from commands.core.errors import PortError
from commands.core.model import ActionOutcome, Result

log = logging.getLogger(__name__)
COMMAND_OF = {
    APPROVE: "change approve {}",
    REJECT: "change reject {}",
    ROLLBACK: "change rollback {}",
}


class SlackChangeNotifier:
    """Edits the proposal in place and replies in its thread, for every transition."""

    def __init__(self, runtime: Runtime, client: WebClient) -> None:
        self._runtime = runtime
        self._client = client

    def change_event(self, event: ChangeEvent) -> None:
        change = event.change
        if change.message is None:
            return  # proposed outside Slack (CLI), or not posted yet
        try:
            # render the newest record, not the event's copy: two events may race here
            latest = Pipeline(self._runtime.services).find(change.id) or change
        except PortError:
            latest = change
        channel, ts = change.message.channel, change.message.ts
        try:
            update(self._client, channel, ts, proposal_message(latest))
            reply = event_reply(event)
            if reply is not None:
                post(self._client, channel, reply, thread_ts=ts)
        except (SlackApiError, SlackClientError) as exc:
            log.warning("could not show %s of %s in Slack: %s", event.event, change.id, exc)


def deliver_proposed(reply: Reply, result: Result) -> None:
    assert isinstance(result, ChangeProposed)
    change = result.change
    channel = reply.channel_id or _oncall(reply.runtime, change.cluster)
    if channel is None:
        respond_with(reply.respond, acted_message(_posted(change.id, "nowhere to post it")))
        return
    posted = post(reply.client, channel, proposal_message(change))
    ts = str(posted.get("ts", ""))
    if ts:
        where = str(posted.get("channel", channel))
        Pipeline(reply.runtime.services).attach_message(change, where, ts)
        try:
            post_whole_diff(reply.client, where, ts, change)
        except (SlackApiError, SlackClientError) as exc:
            log.warning("could not post the diff of %s in its thread: %s", change.id, exc)
    respond_with(
        reply.respond,
        acted_message(_posted(change.id, "posted for approval in this channel")),
    )


def _posted(change_id: str, where: str) -> ChangeActed:
    return ChangeActed(change_id, "propose", ActionOutcome.DONE, f"Proposed {change_id}: {where}")


def _oncall(runtime: Runtime, cluster: str) -> str | None:
    config = runtime.settings.file.clusters.get(cluster)
    return config.oncall_channel if config else None


def register(app: App, runtime: Runtime, access: AccessPolicy, deliveries: Deliveries) -> None:
    kit = runtime.services.kit(ChangesKit)
    kit.hooks.notifiers[:] = [
        n for n in kit.hooks.notifiers if not isinstance(n, SlackChangeNotifier)
    ]
    kit.hooks.add_notifier(SlackChangeNotifier(runtime, app.client))
    kit.hooks.directory = GroupDirectory(app.client)
    deliveries.add(ChangeProposed, deliver_proposed)
    deliveries.add(ChangeActed, ephemeral(acted_message))
    deliveries.add(ChangeView, ephemeral(view_message))
    deliveries.add(History, ephemeral(history_message))

    def answer(click: Click, result: Result, respond: Respond) -> None:
        if isinstance(result, ChangeActed):
            if result.outcome is not ActionOutcome.DONE:
                respond_with(respond, acted_message(result))
            return
        respond_with(respond, render(result))

    on_buttons(app, runtime, access, COMMAND_OF, is_change_id, answer)
