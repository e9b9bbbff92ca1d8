"""Each Slack request runs at most once: replays and Slack's own retries are dropped.

Two memories in the store (so every replica shares them):

- the signature of every verified HTTP request, until its timestamp leaves the
  five-minute window: the same signed bytes sent again (a replay, or a proxy that
  resent a request whose answer it lost) are answered 200 and not run;
- the logical request — the `event_id` of an event, else the `trigger_id` Slack mints
  for each slash command, click and submission, else its `response_url`: Slack re-sends
  a request whose ack was late with a *new* timestamp and signature (`X-Slack-Retry-Num`
  over HTTP, `retry_attempt` in a Socket Mode envelope) and the same payload, so a
  retried `mtls permissive` would otherwise propose a second change.

If the store cannot answer, the request runs (and one line says so): every command that
changes state needs the store itself, so nothing can be applied twice that way, and
`status` must still be able to say that Redis is down.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.slack.signature import WINDOW_S
from commands.core.errors import PortError
from commands.core.ports import Store

log = logging.getLogger("meshbot.front")
# Slack retries an event three times: at once, after 1 min and after 5 min.
RETRY_MEMORY_S = 15 * 60


def request_identity(body: dict[str, Any]) -> str | None:
    """What stays the same when Slack re-sends one request (None: nothing reliable)."""
    for field in ("event_id", "trigger_id", "response_url"):
        value = body.get(field)
        if isinstance(value, str) and value:
            return f"{body.get('type') or body.get('command') or '-'}:{field}:{value}"
    return None


class SeenRequests:
    def __init__(
        self,
        store: Store,
        window_s: int = WINDOW_S,
        retry_memory_s: int = RETRY_MEMORY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._window_s = window_s
        self._retry_memory_s = retry_memory_s
        self._clock = clock

    def first_signature(self, signature: str, timestamp: int) -> bool:
        """True the first time these signed bytes arrive; remembered while still valid."""
        left = timestamp + self._window_s - self._clock() + 1
        return self._claim(f"front:signature:{signature.removeprefix('v0=')}", max(1.0, left))

    def first_delivery(self, identity: str) -> bool:
        digest = hashlib.sha256(identity.encode()).hexdigest()[:40]
        return self._claim(f"front:request:{digest}", self._retry_memory_s)

    def _claim(self, key: str, ttl_s: float) -> bool:
        try:
            return self._store.compare_and_set(key, None, 1, ttl_s=ttl_s)
        except PortError as exc:
            log.warning("cannot check for a repeated Slack request, running it: %s", exc)
            return True


def drop_redeliveries(seen: SeenRequests) -> Callable[..., BoltResponse | None]:
    """A Bolt global middleware: a request seen before is acked (200) and not run."""

    def middleware(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        identity = request_identity(req.body)
        if identity is None or seen.first_delivery(identity):
            return next()
        if req.mode == "http":
            retry = req.headers.get("x-slack-retry-num", ["-"])[0]
            reason = req.headers.get("x-slack-retry-reason", ["-"])[0]
            how = f"over HTTP (retry {retry}, reason {reason})"
        else:
            how = "over Socket Mode"
        log.info("dropped a repeated %s %s: it already ran", identity.split(":", 1)[0], how)
        return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})

    return middleware
