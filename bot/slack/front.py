"""The HTTP front: nothing of a request is parsed, run or answered until Slack signed it.

Bolt verifies signatures too, but only after it has parsed the body and built a
responder for the `response_url` the sender chose, so an unsigned request with a bad
timestamp made the bot POST an error message to any URL. This WSGI layer runs first,
for every request to `/slack/events`:

1. a body larger than Slack ever sends → 413, read no further (waitress refuses it
   from the Content-Length alone; this checks again for any other server);
2. the signature and the five-minute window (bot.slack.signature) → else 401;
3. the body must be a slash command, an interaction or an event (bot.slack.bodies)
   → else 400;
4. the same signed bytes seen before by this replica (bot.slack.replays) → 200, not
   run; seen by another one → acked, and its work dropped once the store says so;
5. only then Bolt, which verifies the signature again and acks.

Every refusal is one log line — status, peer and reason, never the body or headers —
and no traceback.

The cap: the largest request Slack sends an app like this one is a click carrying the
message it was clicked on. Slack truncates a message's text at 40,000 characters and
refuses blocks past ~13,000 characters of text (`msg_blocks_too_long`), plus 50
blocks of structure. Escaped as JSON (`\\uXXXX`, 6 bytes a UTF-16 unit) then
form-encoded (`%5C` for the backslash: 8 bytes a unit) with every character outside the
BMP (two units), that is (40,000 + 13,300) x 16 = 853 kB, plus ~30 kB of block
structure: 1 MiB holds the worst case. meshbot's own messages are far smaller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context

from bot.core.acks import AckGate, begin_request, check_before_work
from bot.slack.bodies import parse_slack_body
from bot.slack.replays import Memory, SeenRequests
from bot.slack.signature import verify

log = logging.getLogger("meshbot.front")
EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1 << 20
StartResponse = Callable[..., Any]


class SlackFront:
    """The WSGI app serving `/slack/events`: the checks above, then Bolt."""

    def __init__(
        self,
        app: App,
        signing_secret: str,
        *,
        acks: AckGate | None = None,
        seen: SeenRequests | None = None,
        max_body: int = MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not signing_secret:
            raise ValueError("HTTP mode needs the signing secret (SLACK_SIGNING_SECRET)")
        self._app = app
        self._secret = signing_secret
        self._acks = acks or AckGate()
        self._seen = seen
        self._max_body = max_body
        self._clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != EVENTS_PATH:
            return _plain(start_response, 404, "not found")
        if environ.get("REQUEST_METHOD") != "POST":
            return _plain(start_response, 405, "use POST", [("Allow", "POST")])
        peer = str(environ.get("REMOTE_ADDR") or "?")
        length = _content_length(environ)
        if length is None:
            return _refuse(start_response, 400, peer, "Content-Length is not a number")
        if length > self._max_body:
            return _refuse(
                start_response, 413, peer, f"body of {length} bytes (limit {self._max_body})"
            )
        body = _read(environ, length)
        if len(body) != length:
            return _refuse(start_response, 400, peer, "body ended before its Content-Length")
        verdict = verify(
            self._secret,
            environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
            environ.get("HTTP_X_SLACK_SIGNATURE"),
            body,
            self._clock(),
        )
        if not verdict.ok:
            return _refuse(start_response, 401, peer, f"not signed by Slack: {verdict.problem}")
        fields = parse_slack_body(body, str(environ.get("CONTENT_TYPE") or ""))
        if isinstance(fields, str):
            return _refuse(start_response, 400, peer, f"signed but malformed: {fields}")
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE"))
        memory = None if self._seen is None else self._seen.signature(signature, verdict.timestamp)
        if memory is not None and memory.seen_here():
            log.warning("dropped a replayed request from %s: these signed bytes already ran", peer)
            return _plain(start_response, 200, "", [("X-Slack-No-Retry", "1")])
        return self._bolt(environ, body, fields, start_response, memory, peer)

    def _bolt(
        self,
        environ: dict[str, Any],
        body: bytes,
        fields: dict[str, Any],
        start_response: StartResponse,
        memory: Memory | None,
        peer: str,
    ) -> Iterable[bytes]:
        http = WsgiHttpRequest(environ)
        request = BoltRequest(
            body=body.decode("utf-8"), query=http.query_string, headers=http.get_headers()
        )
        request.body = fields
        request.context = build_context(BoltContext({}), fields)
        begin_request(request)
        if memory is not None:  # asked of the store after the ack, by the work
            dropped = (
                f"dropped a replayed request from {peer}: these signed bytes already ran "
                "on another replica"
            )
            check_before_work(request, memory.check(dropped))
        with self._acks.awaiting_ack():
            answer = self._app.dispatch(request)
        response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
        start_response(response.status, response.get_headers())
        return response.get_body()


def _content_length(environ: dict[str, Any]) -> int | None:
    raw = str(environ.get("CONTENT_LENGTH") or "0").strip()
    return int(raw) if raw.isdigit() else None


def _read(environ: dict[str, Any], length: int) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None or length == 0:
        return b""
    chunks: list[bytes] = []
    left = length
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _refuse(start_response: StartResponse, status: int, peer: str, why: str) -> list[bytes]:
    log.warning("refused %d from %s: %s", status, peer, why)
    return _plain(start_response, status, REASONS[status])


REASONS = {
    400: "bad request",
    401: "unauthorized",
    413: "request too large",
}
_PHRASES = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
}


def _plain(
    start_response: StartResponse,
    status: int,
    text: str,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = (text + "\n").encode() if text else b""
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(f"{status} {_PHRASES[status]}", headers + (extra or []))
    return [body]
