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

Neither memory is asked before the ack: a store round trip per request made a burst's
acks twice as slow as a bare Bolt app's. Each replica first remembers what it saw itself
(in memory: a repeat it saw is answered 200 with `X-Slack-No-Retry` and not run, as
before); the store is asked after the ack, when the request's work is about to run
(bot.core.acks.check_before_work), so a repeat that reaches another replica is acked
there and its work dropped.

If the store cannot answer, the request runs (and one line says so): every command that
changes state needs the store itself, so nothing can be applied twice that way, and
`status` must still be able to say that Redis is down.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.core.acks import Check, begin_request, check_before_work
from bot.slack.signature import WINDOW_S
from commands.core.errors import PortError
from commands.core.ports import Store

log = logging.getLogger("meshbot.front")
# Slack retries an event three times: at once, after 1 min and after 5 min.
RETRY_MEMORY_S = 15 * 60
# Keys a replica keeps in memory: a few minutes of a busy workspace's requests.
REMEMBERED = 100_000


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
        remembered: int = REMEMBERED,
    ) -> None:
        self._store = store
        self._window_s = window_s
        self._retry_memory_s = retry_memory_s
        self._clock = clock
        self._remembered = remembered
        self._here: dict[str, float] = {}  # key → until when this replica remembers it
        self._lock = threading.Lock()

    def signature(self, signature: str, timestamp: int) -> Memory:
        """These signed bytes, remembered while their timestamp is still valid."""
        left = timestamp + self._window_s - self._clock() + 1
        key = f"front:signature:{signature.removeprefix('v0=')}"
        return Memory(self, key, max(1.0, left))

    def delivery(self, identity: str) -> Memory:
        digest = hashlib.sha256(identity.encode()).hexdigest()[:40]
        return Memory(self, f"front:request:{digest}", self._retry_memory_s)

    def seen_here(self, key: str, ttl_s: float) -> bool:
        """True if this replica saw `key` within its time; else remembers it now."""
        now = self._clock()
        with self._lock:
            if self._here.get(key, 0.0) > now:
                return True
            if len(self._here) >= self._remembered:
                self._forget(now)
            self._here[key] = now + ttl_s
            return False

    def _forget(self, now: float) -> None:
        live = {k: until for k, until in self._here.items() if until > now}
        if len(live) >= self._remembered:  # a flood of live keys: keep the newer half
            live = dict(list(live.items())[len(live) // 2 :])
        self._here = live

    def first_anywhere(self, key: str, ttl_s: float) -> bool:
        try:
            return self._store.compare_and_set(key, None, 1, ttl_s=ttl_s)
        except PortError as exc:
            log.warning("cannot check for a repeated Slack request, running it: %s", exc)
            return True


@dataclass(frozen=True)
class Memory:
    """One request's key in both memories: this replica's (asked before the ack) and the
    store's (asked after it, by the work)."""

    seen: SeenRequests
    key: str
    ttl_s: float

    def seen_here(self) -> bool:
        return self.seen.seen_here(self.key, self.ttl_s)

    def check(self, dropped: str) -> Check:
        """For check_before_work: the first time anywhere, else log `dropped` and say no."""

        def first() -> bool:
            if self.seen.first_anywhere(self.key, self.ttl_s):
                return True
            log.warning("%s", dropped)
            return False

        return first


def drop_redeliveries(seen: SeenRequests) -> Callable[..., BoltResponse | None]:
    """A Bolt global middleware: a request seen before is acked (200) and not run."""

    def middleware(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        begin_request(req)
        identity = request_identity(req.body)
        if identity is None:
            return next()
        memory = seen.delivery(identity)
        kind = identity.split(":", 1)[0]
        if not memory.seen_here():
            dropped = f"dropped a repeated {kind}: it already ran on another replica"
            check_before_work(req, memory.check(dropped))
            return next()
        if req.mode == "http":
            retry = req.headers.get("x-slack-retry-num", ["-"])[0]
            reason = req.headers.get("x-slack-retry-reason", ["-"])[0]
            how = f"over HTTP (retry {retry}, reason {reason})"
        else:
            how = "over Socket Mode"
        log.info("dropped a repeated %s %s: it already ran", kind, how)
        return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})

    return middleware
