"""Signed requests into a Bolt app running in HTTP mode, as Slack sends them.

Why this exists: Bolt verifies ``X-Slack-Signature`` on every request (and tests must
never turn that off), so a test that drives the app over HTTP needs bodies encoded the
way Slack encodes them and headers signed with the app's signing secret:
``v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.sandbox.slack import payloads


def sign(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send with ``body``: signature and request timestamp."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{ts}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(ts)}


def slash_command_body(
    command: str = "/mesh",
    text: str = "",
    user_id: str = "U_ALICE",
    channel_id: str = "C_OPS",
    response_url: str = "",
    team_id: str = payloads.DEFAULT_TEAM_ID,
    trigger_id: str | None = None,
    **fields: str,
) -> bytes:
    """A form-encoded slash command with all of Slack's fields (``user_name``, … via kw)."""
    data = payloads.slash_command(
        command=command,
        text=text,
        user_id=user_id,
        channel_id=channel_id,
        response_url=response_url,
        team_id=team_id,
        trigger=trigger_id,
        **fields,
    )
    return urlencode(data).encode()


def block_actions_body(
    action_id: str,
    value: str | None,
    user_id: str,
    channel_id: str,
    message_ts: str,
    thread_ts: str | None = None,
    response_url: str = "",
    **fields: Any,
) -> bytes:
    """A button click: form field ``payload=`` holding the block_actions JSON."""
    payload = payloads.block_actions(
        action_id=action_id,
        value=value,
        user_id=user_id,
        channel_id=channel_id,
        message_ts=message_ts,
        thread_ts=thread_ts,
        response_url=response_url,
        **fields,
    )
    return urlencode({"payload": json.dumps(payload)}).encode()


def view_submission_body(callback_id: str, **fields: Any) -> bytes:
    """A modal submission: form field ``payload=`` holding the view_submission JSON."""
    payload = payloads.view_submission(callback_id=callback_id, **fields)
    return urlencode({"payload": json.dumps(payload)}).encode()


FORM = "application/x-www-form-urlencoded"


class SignedClient:
    """POSTs signed Slack requests to an app's events URL (default ``/slack/events``)."""

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        path: str = "/slack/events",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport=httpx.WSGITransport(app=wsgi_app)`` drives a WSGI app in-process."""
        self.signing_secret = signing_secret
        self.path = path
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def post(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        **extra_headers: str,
    ) -> httpx.Response:
        """Send ``body`` signed; ``timestamp`` and headers (``headers=`` or keywords, e.g.
        ``**{"X-Slack-Signature": ...}``) let a test forge or replay a request."""
        signed = {"Content-Type": FORM, **sign(self.signing_secret, body, timestamp)}
        signed.update(headers or {})
        signed.update(extra_headers)
        return self._http.post(self.path, content=body, headers=signed)

    def slash(self, text: str = "", **fields: Any) -> httpx.Response:
        return self.post(slash_command_body(text=text, **fields))

    def action(self, action_id: str, value: str | None = None, **fields: Any) -> httpx.Response:
        fields.setdefault("user_id", "U_ALICE")
        fields.setdefault("channel_id", "C_OPS")
        fields.setdefault("message_ts", "")
        return self.post(block_actions_body(action_id, value, **fields))

    def view_submission(self, callback_id: str, **fields: Any) -> httpx.Response:
        return self.post(view_submission_body(callback_id, **fields))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SignedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
