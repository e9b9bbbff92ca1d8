"""The one place that sends to Slack.

Listeners and watchers hand a rendered `SlackMessage` here; nothing else calls
`chat.postMessage`, `response_url` or friends, so retries, ephemeral-versus-channel
choice and fallback text are decided once.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.slack.render import SlackMessage


def respond_with(respond: Respond, message: SlackMessage) -> None:
    """Answer a slash command or a click through its `response_url`."""
    respond(
        text=message.text,
        blocks=message.blocks,
        response_type="ephemeral" if message.ephemeral else "in_channel",
        replace_original=False,
    )


def post(
    client: WebClient, channel: str, message: SlackMessage, *, thread_ts: str | None = None
) -> dict[str, Any]:
    response = client.chat_postMessage(
        channel=channel, text=message.text, blocks=message.blocks, thread_ts=thread_ts
    )
    return dict(response.data) if isinstance(response.data, dict) else {}
