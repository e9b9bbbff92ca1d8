"""``response_url``: the short-lived reply URLs Slack hands out with commands and clicks.

Why this exists: after an ack the app answers a slash command or a button through its
``response_url`` (Bolt's ``respond``). Slack lets each URL be used 5 times within 30
minutes; the emulator mints URLs on itself (``/response/<id>``), applies those limits and
the message limits, records each post, and applies its effect to the workspace:
``in_channel`` posts a message, ``ephemeral`` (the default) an ephemeral for the user,
``replace_original``/``delete_original`` edit or remove the message the URL belongs to.

Error answers (Slack's webhook style, JSON here): unknown URL 404 ``no_service``, used up
404 ``used_url``, older than 30 minutes 404 ``expired_url``, bad message 400 with the
same error names as ``chat.postMessage``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.slack.limits import validate_message
from bot.sandbox.slack.records import Recorder, ResponsePost
from bot.sandbox.slack.workspace import Workspace

MAX_USES = 5
LIFETIME_SECONDS = 30 * 60


@dataclass
class ResponseUrl:
    """One minted URL and what it answers: a channel, a user, maybe a message."""

    id: str
    channel: str | None
    user: str | None
    message_ts: str | None
    created: float
    uses: int = 0


class ResponseUrls:
    """Mints response URLs and serves posts to them."""

    def __init__(
        self,
        workspace: Workspace,
        recorder: Recorder,
        base_url: Callable[[], str],
        strict_fallback_text: Callable[[], bool],
    ) -> None:
        self.workspace = workspace
        self.recorder = recorder
        self._base_url = base_url
        self._strict = strict_fallback_text
        self._urls: dict[str, ResponseUrl] = {}
        self._lock = threading.Lock()

    def url_of(self, url_id: str) -> str:
        return f"{self._base_url()}/response/{url_id}"

    def mint(
        self, channel: str | None = None, user: str | None = None, message_ts: str | None = None
    ) -> str:
        url_id = uuid.uuid4().hex
        with self._lock:
            self._urls[url_id] = ResponseUrl(url_id, channel, user, message_ts, time.time())
        return self.url_of(url_id)

    def expire(self, url: str) -> None:
        """Age a URL past its 30 minutes (for tests of the expiry path)."""
        with self._lock:
            self._urls[url.rstrip("/").rsplit("/", 1)[-1]].created -= LIFETIME_SECONDS + 1

    def post(self, url_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Serve one POST; returns (HTTP status, JSON body) and records it."""
        status, answer = self._apply(url_id, body)
        post = ResponsePost(url_id, self.url_of(url_id), body, time.time(), status)
        post.error = None if answer.get("ok") else str(answer.get("error"))
        self.recorder.add("responses", post)
        return status, answer

    def _apply(self, url_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            entry = self._urls.get(url_id)
            if entry is None:
                return 404, {"ok": False, "error": "no_service"}
            if time.time() - entry.created > LIFETIME_SECONDS:
                return 404, {"ok": False, "error": "expired_url"}
            if entry.uses >= MAX_USES:
                return 404, {"ok": False, "error": "used_url"}
            delete = _truthy(body.get("delete_original"))
            if not delete:
                verdict = validate_message(
                    body.get("text"),
                    body.get("blocks"),
                    body.get("attachments"),
                    strict_fallback_text=self._strict(),
                )
                if not verdict.ok:
                    return 400, verdict.to_response()
            entry.uses += 1
        self._effect(entry, body, delete)
        return 200, {"ok": True}

    def _effect(self, entry: ResponseUrl, body: dict[str, Any], delete: bool) -> None:
        ws = self.workspace
        text = str(body.get("text") or "")
        blocks = body.get("blocks")
        with ws.lock:
            original = None
            if entry.channel is not None and entry.message_ts is not None:
                original = ws.find_message(entry.channel, entry.message_ts)
            if delete:
                if original is not None:
                    original.deleted = True
                return
            if _truthy(body.get("replace_original")) and original is not None:
                ws.edit(original, text=text, blocks=blocks)
                return
            if entry.channel is None:
                return
            thread_ts = body.get("thread_ts")
            if body.get("response_type") == "in_channel":
                if thread_ts is not None and ws.find_message(entry.channel, thread_ts) is None:
                    thread_ts = None
                ws.post(
                    entry.channel, text=text, blocks=blocks, thread_ts=thread_ts, via="response_url"
                )
            elif entry.user is not None:
                ws.post_ephemeral(
                    entry.channel,
                    entry.user,
                    text=text,
                    blocks=blocks,
                    thread_ts=thread_ts,
                    via="response_url",
                )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
