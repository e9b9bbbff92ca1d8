"""The one place that sends to Slack.

Listeners and watchers hand a rendered `SlackMessage` here; nothing else calls
`chat.postMessage`, `response_url` or friends, so retries, ephemeral-versus-channel
choice and fallback text are decided once.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

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


def update(client: WebClient, channel: str, ts: str, message: SlackMessage) -> dict[str, Any]:
    """Edit a message in place (`chat.update`), e.g. an alert whose value changed."""
    response = client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
    return dict(response.data) if isinstance(response.data, dict) else {}


def post_ephemeral(client: WebClient, channel: str, user: str, message: SlackMessage) -> None:
    """A message only `user` sees (a refused click, a permission denial)."""
    client.chat_postEphemeral(channel=channel, user=user, text=message.text, blocks=message.blocks)


def upload_file(
    client: WebClient,
    channel: str,
    *,
    content: bytes,
    filename: str,
    title: str,
    alt_text: str = "",
    thread_ts: str | None = None,
    comment: str | None = None,
) -> None:
    """Upload a file into a channel or thread with files upload v2 (e.g. an alert chart)."""
    client.files_upload_v2(
        channel=channel,
        file=content,
        filename=filename,
        title=title,
        alt_txt=alt_text or title,
        thread_ts=thread_ts,
        initial_comment=comment,
    )


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`not_in_channel`, `ratelimited`, …) from a failed call."""
    return str(exc.response.get("error", "")) if exc.response is not None else ""
