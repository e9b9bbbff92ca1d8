"""Slack's request signature, checked before anything reads the request.

Slack signs every HTTP request: `X-Slack-Signature: v0=hex(HMAC-SHA256(signing secret,
"v0:{X-Slack-Request-Timestamp}:{raw body}"))`, and a request older (or newer) than five
minutes must be refused so a captured request cannot be replayed later. slack_sdk's
verifier turns the timestamp into an `int` unguarded, so `notanumber` or `1e20` raised
inside Bolt and became a 500 — after Bolt had parsed the body and built a responder for
the sender's `response_url`. Here the timestamp must be plain decimal digits, the
window is checked before any hashing, and the digests are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

WINDOW_S = 300  # Slack: refuse requests more than five minutes from now
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


@dataclass(frozen=True)
class Verdict:
    """Whether a request is Slack's; `problem` says why not (safe to log: no body)."""

    ok: bool
    problem: str = ""
    timestamp: int = 0


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window_s: int = WINDOW_S,
) -> Verdict:
    if not secret:
        return Verdict(False, "no signing secret is configured")
    if not timestamp or not signature:
        return Verdict(False, "no X-Slack-Signature / X-Slack-Request-Timestamp headers")
    if not _TIMESTAMP.fullmatch(timestamp):
        return Verdict(False, "X-Slack-Request-Timestamp is not a Unix time in seconds")
    when = int(timestamp)
    if abs(now - when) > window_s:
        return Verdict(False, f"timestamp is {int(now - when)} s from now (window {window_s} s)")
    if not _SIGNATURE.fullmatch(signature):
        return Verdict(False, "X-Slack-Signature is not a v0 HMAC-SHA256 signature")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return Verdict(False, "signature does not match the body")
    return Verdict(True, timestamp=when)
