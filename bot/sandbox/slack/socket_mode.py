"""Socket Mode: the local WebSocket that ``apps.connections.open`` points the app at.

Why this exists: in Socket Mode Slack pushes envelopes (slash commands, button clicks)
over a WebSocket the app opened, and the app acks each ``envelope_id`` on the same
socket. This server (``websockets.sync.server`` in a thread) greets each connection with
``{"type": "hello", ...}`` like Slack, lets a test push envelopes, delivers each to one
connection (round robin, as Slack spreads load over an app's connections), records the
app's acks, and answers the client's pings. The slack_sdk builtin client drops its TCP
socket without a close frame; that ends the connection handler like a clean close.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.sandbox.slack import payloads
from bot.sandbox.slack.records import Ack, Recorder
from bot.sandbox.slack.workspace import Workspace


class SocketModeServer:
    """The Socket Mode endpoint and the test-facing helpers to push envelopes."""

    def __init__(
        self,
        workspace: Workspace,
        recorder: Recorder,
        mint_response_url: Callable[..., str],
        host: str = "127.0.0.1",
        port: int = 0,
        ping_interval: float = 0.2,
    ) -> None:
        self.workspace = workspace
        # Frequent server pings (Slack pings too) wake the slack_sdk builtin client's
        # blocking 3 s receive, so SocketModeHandler.close() returns in a fraction of it.
        self.ping_interval = ping_interval
        self.recorder = recorder
        self._mint_response_url = mint_response_url
        self._host = host
        self._port = port
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._rr = itertools.count()
        self._lock = threading.Lock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._server = serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._check_ticket,
            compression=None,
            close_timeout=1,
            ping_interval=self.ping_interval,
            ping_timeout=10,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="slack-emulator-socket", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("Socket Mode server is not started")
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}/link/"

    def open_url(self) -> str:
        """A fresh connection URL with a ticket (what ``apps.connections.open`` returns)."""
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
        return f"{self.url}?ticket={ticket}&app_id={self.workspace.app_id}"

    # ---- connections --------------------------------------------------------------------

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlsplit(request.path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self._lock:
            known = ticket in self._tickets
        if not known:
            return connection.respond(401, "invalid ticket\n")
        return None

    def _handle(self, connection: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": len(self._connections) + 1,
            "debug_info": {"host": "slack-emulator", "build_number": 1},
            "connection_info": {"app_id": self.workspace.app_id},
        }
        with self._lock:
            self._connections.append(connection)
        try:
            connection.send(json.dumps(hello))
            for raw in connection:
                self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)
            self.recorder.notify()

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        with self.recorder.cond:
            self.received.append(message)
        envelope_id = message.get("envelope_id")
        if envelope_id:
            payload = message.get("payload")
            ack = Ack(str(envelope_id), payload if isinstance(payload, dict) else None, time.time())
            ack.raw = message
            self.recorder.add("acks", ack)

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def wait_for_connection(self, timeout: float = 5.0, count: int = 1) -> None:
        """Block until ``count`` apps are connected."""
        self.recorder.wait_for(
            lambda: self.connection_count >= count,
            timeout,
            lambda: f"{self.connection_count} Socket Mode connection(s)",
        )

    # ---- pushing envelopes -------------------------------------------------------------

    def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        timeout: float = 5.0,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Deliver an envelope to one connected app; returns its ``envelope_id``.
        Slack re-delivers an unacked envelope with ``retry_attempt`` > 0 and the same
        payload: pass the same payload again to play that."""
        self.wait_for_connection(timeout)
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        with self._lock:
            connection = self._connections[next(self._rr) % len(self._connections)]
        with self.recorder.cond:
            self.sent.append(envelope)
        connection.send(json.dumps(envelope))
        return envelope_id

    def send_slash_command(
        self,
        command: str = "/mesh",
        text: str = "",
        user_id: str = "U_ALICE",
        channel_id: str = "C_OPS",
        *,
        response_url: str | None = None,
        **fields: Any,
    ) -> str:
        """Push a slash command; its response_url is minted by the emulator."""
        ws = self.workspace
        user = ws.users.get(user_id)
        channel = ws.channels.get(channel_id)
        fields.setdefault("user_name", user.name if user else user_id)
        fields.setdefault("channel_name", channel.name if channel else channel_id)
        payload = payloads.slash_command(
            command=command,
            text=text,
            user_id=user_id,
            channel_id=channel_id,
            response_url=response_url or self._mint_response_url(channel_id, user_id),
            team_id=ws.team_id,
            team_domain=ws.domain,
            api_app_id=ws.app_id,
            **fields,
        )
        return self.send_envelope("slash_commands", payload, accepts_response_payload=True)

    def send_block_actions(
        self,
        action_id: str,
        value: str | None = None,
        user_id: str = "U_ALICE",
        channel_id: str = "C_OPS",
        message_ts: str = "",
        *,
        thread_ts: str | None = None,
        response_url: str | None = None,
        **fields: Any,
    ) -> str:
        """Push a button click on a message (looked up in the workspace when it exists)."""
        ws = self.workspace
        user = ws.users.get(user_id)
        channel = ws.channels.get(channel_id)
        message = ws.find_message(channel_id, message_ts) if message_ts else None
        if message is not None:
            fields.setdefault("message", message.to_api(ws.bot_id))
            if thread_ts is None and message.is_reply:
                thread_ts = message.thread_ts
            fields.setdefault("block_id", _block_id_of(message.blocks, action_id))
        fields.setdefault("user_name", user.name if user else user_id)
        fields.setdefault("channel_name", channel.name if channel else channel_id)
        payload = payloads.block_actions(
            action_id=action_id,
            value=value,
            user_id=user_id,
            channel_id=channel_id,
            message_ts=message_ts,
            thread_ts=thread_ts,
            response_url=response_url
            or self._mint_response_url(channel_id, user_id, message_ts or None),
            team_id=ws.team_id,
            team_domain=ws.domain,
            api_app_id=ws.app_id,
            **fields,
        )
        return self.send_envelope("interactive", payload)

    def send_view_submission(self, callback_id: str, **fields: Any) -> str:
        ws = self.workspace
        payload = payloads.view_submission(
            callback_id=callback_id, team_id=ws.team_id, api_app_id=ws.app_id, **fields
        )
        return self.send_envelope("interactive", payload, accepts_response_payload=True)

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask every connected app to reconnect, as Slack does before recycling a socket."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.send(json.dumps({"type": "disconnect", "reason": reason}))

    # ---- acks ---------------------------------------------------------------------------

    def acks(self) -> list[Ack]:
        with self.recorder.cond:
            return list(self.recorder.acks)

    def ack_for(self, envelope_id: str) -> Ack | None:
        with self.recorder.cond:
            return next((a for a in self.recorder.acks if a.envelope_id == envelope_id), None)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        """Block until the app acks ``envelope_id``; TimeoutError otherwise."""
        ack: Ack | None = self.recorder.wait_for(
            lambda: self.ack_for(envelope_id),
            timeout,
            lambda: f"no ack for envelope {envelope_id}; acks: {self.acks()}",
        )
        assert ack is not None  # wait_for returns only a truthy value
        return ack


def _block_id_of(blocks: list[Any] | None, action_id: str) -> str:
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        candidates = [*list(block.get("elements") or []), block.get("accessory")]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id") or "actions")
    return "actions"
