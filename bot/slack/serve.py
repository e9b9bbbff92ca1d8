"""The two ways Slack reaches us: Socket Mode (default) and HTTP behind waitress.

Socket Mode needs no public endpoint, which suits a bot inside a private cluster.
HTTP mode serves `/slack/events` (commands and interactivity share it) on waitress,
a production WSGI server, never Bolt's development server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.core.acks import AckGate

EVENTS_PATH = "/slack/events"


def slack_wsgi(app: App, acks: AckGate | None = None) -> Callable[..., Iterable[bytes]]:
    """Bolt on `/slack/events`; with `acks`, each request counts as pending until acked."""
    bolt = SlackRequestHandler(app)
    gate = acks or AckGate()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == EVENTS_PATH and environ.get("REQUEST_METHOD") == "POST":
            with gate.awaiting_ack():
                result: Iterable[bytes] = bolt(environ, start_response)
            return result
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return wsgi


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
