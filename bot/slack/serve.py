"""The two ways Slack reaches us: Socket Mode (default) and HTTP behind waitress.

Socket Mode needs no public endpoint, which suits a bot inside a private cluster.
HTTP mode serves `/slack/events` (commands and interactivity share it) on waitress,
a production WSGI server, never Bolt's development server, behind the front that
refuses whatever Slack did not sign (bot.slack.front).
"""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.core.runtime import Runtime
from bot.slack.front import EVENTS_PATH, MAX_BODY_BYTES, SlackFront
from bot.slack.replays import SeenRequests

__all__ = ["EVENTS_PATH", "MAX_BODY_BYTES", "SocketModeConnection", "slack_wsgi"]


def slack_wsgi(app: App, runtime: Runtime) -> SlackFront:
    """Bolt on `/slack/events` behind the front; each request is pending until acked."""
    secret = runtime.settings.secrets.slack_signing_secret
    return SlackFront(
        app,
        secret.get_secret_value() if secret else "",
        acks=runtime.acks,
        seen=SeenRequests(runtime.store),
    )


class SocketModeConnection:
    """A Socket Mode connection that reports whether it is up."""

    def __init__(self, app: App, app_token: str) -> None:
        self._handler = SocketModeHandler(app, app_token=app_token, web_client=app.client)

    def connect(self) -> None:
        self._handler.connect()

    def connected(self) -> bool:
        return bool(self._handler.client.is_connected())

    def close(self) -> None:
        self._handler.close()
