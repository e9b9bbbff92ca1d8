"""How each kind of result reaches Slack: an ephemeral answer, a channel post with a
thread, an edited message…

A capability whose results need more than a `response_url` answer (a report with a
thread and a file, a proposal with buttons) adds a delivery for its result type; the
`/mesh` listener stays a few lines. Deliveries render with pure functions and send
through `bot.slack.posting`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.runtime import Runtime
from bot.slack.posting import respond_with
from bot.slack.render import render
from commands.model import Caller, Result


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
