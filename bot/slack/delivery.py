"""How each kind of result reaches Slack: an ephemeral answer, a channel post with a
thread, an edited message…

A capability whose results need more than a `response_url` answer (a report with a
thread and a file, a proposal with buttons) adds a delivery for its result type; the
`/mesh` listener stays a few lines. Deliveries render with pure functions and send
through `bot.slack.posting`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.runtime import Runtime
from bot.slack.posting import post, respond_with, slack_error
from bot.slack.render import SlackMessage, render
from commands.core.model import Caller, Result

# Errors that mean the bot may not post in this channel (not invited, archived…).
CANNOT_POST = frozenset({"channel_not_found", "not_in_channel", "is_archived", "restricted_action"})


@dataclass(frozen=True)
class Reply:
    """Where and to whom a result goes."""

    runtime: Runtime
    client: WebClient
    respond: Respond
    caller: Caller
    channel_id: str | None


Delivery = Callable[[Reply, Result], None]


def answer(reply: Reply, result: Result) -> None:
    """The default: render and answer through the command's `response_url`."""
    respond_with(reply.respond, render(result))


def ephemeral(render_fn: Callable[[Any], SlackMessage]) -> Delivery:
    """A delivery that answers the caller alone with `render_fn(result)`."""

    def deliver(reply: Reply, result: Result) -> None:
        respond_with(reply.respond, render_fn(result))

    return deliver


def post_with_thread(
    reply: Reply, head: SlackMessage, thread: Iterable[SlackMessage], what: str
) -> str | None:
    """Post `head` in the command's channel and `thread` under it; returns the parent's ts.

    Where the bot cannot post (no channel, not invited), the caller gets `head`
    ephemerally with how to invite the bot, and None is returned.
    """
    channel = reply.channel_id
    if channel is None:
        respond_with(reply.respond, SlackMessage(head.text, head.blocks, ephemeral=True))
        return None
    try:
        posted = post(reply.client, channel, head)
    except SlackApiError as exc:
        error = slack_error(exc)
        if error not in CANNOT_POST:
            raise
        note = (
            f":warning: I cannot post the {what} here ({error}): invite me with "
            "`/invite @meshbot`, or run it in a channel I am in. The summary:"
        )
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": note}}, *head.blocks]
        respond_with(reply.respond, SlackMessage(head.text, blocks[:50], ephemeral=True))
        return None
    ts = str(posted.get("ts"))
    for message in thread:
        post(reply.client, channel, message, thread_ts=ts)
    return ts


class Deliveries:
    def __init__(self) -> None:
        self._by_type: dict[type[Result], Delivery] = {}

    def add(self, result_type: type[Result], delivery: Delivery) -> None:
        self._by_type[result_type] = delivery

    def deliver(self, reply: Reply, result: Result) -> None:
        for kind in type(result).__mro__:
            delivery = self._by_type.get(kind)
            if delivery is not None:
                delivery(reply, result)
                return
        answer(reply, result)
