"""The front's pure checks: Slack's signature and window, body shapes, response_url hosts,
what identifies a request across Slack's retries, and the size cap against Slack's limits."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.sandbox.slack import block_actions_body, sign
from bot.slack.bodies import parse_slack_body
from bot.slack.front import MAX_BODY_BYTES
from bot.slack.replays import request_identity
from bot.slack.response_urls import ResponseUrls
from bot.slack.signature import verify

SECRET = "s3cret-signing"
NOW = 1_800_000_000


def test_a_correct_signature_within_the_window_verifies() -> None:
    body = b"command=%2Fmesh&text=help"
    headers = sign(SECRET, body, NOW - 299)
    verdict = verify(
        SECRET, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"], body, NOW
    )
    assert verdict.ok and verdict.timestamp == NOW - 299


@pytest.mark.parametrize(
    ("timestamp", "signature", "problem"),
    [
        (None, "v0=" + "a" * 64, "no X-Slack-Signature"),
        ("notanumber", "v0=" + "a" * 64, "not a Unix time in seconds"),
        ("1e20", "v0=" + "a" * 64, "not a Unix time in seconds"),
        ("99999999999999999999", "v0=" + "a" * 64, "not a Unix time in seconds"),
        (str(NOW - 301), "v0=" + "a" * 64, "timestamp is 301 s from now (window 300 s)"),
        (str(NOW + 301), "v0=" + "a" * 64, "timestamp is -301 s from now"),
        (str(NOW), "v1=" + "a" * 64, "not a v0 HMAC-SHA256 signature"),
        (str(NOW), "v0=" + "a" * 64, "signature does not match the body"),
    ],
)
def test_what_is_not_slacks_is_said_without_the_body(
    timestamp: str | None, signature: str, problem: str
) -> None:
    verdict = verify(SECRET, timestamp, signature, b"text=secret-body", NOW)
    assert not verdict.ok and problem in verdict.problem
    assert "secret-body" not in verdict.problem


def test_without_a_signing_secret_nothing_verifies() -> None:
    body = b"x=1"
    headers = sign("", body, NOW)
    verdict = verify(
        "", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"], body, NOW
    )
    assert not verdict.ok


def test_slack_shapes_parse_to_what_bolt_expects() -> None:
    form = "application/x-www-form-urlencoded"
    slash = parse_slack_body(b"command=%2Fmesh&text=mtls+status+namespace%3Dpayload-api", form)
    assert slash == {"command": "/mesh", "text": "mtls status namespace=payload-api"}
    click = urlencode({"payload": json.dumps({"type": "block_actions", "actions": []})})
    assert parse_slack_body(click.encode(), form) == {"type": "block_actions", "actions": []}
    event = json.dumps({"type": "event_callback", "event_id": "Ev1"}).encode()
    assert parse_slack_body(event, "application/json; charset=utf-8") == {
        "type": "event_callback",
        "event_id": "Ev1",
    }


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/commands/T0/123/abc", True),
        ("https://hooks.slack-gov.com/actions/T0/123/abc", True),
        ("https://hooks.slack.com:443/commands/T0/1/a", True),
        ("http://hooks.slack.com/commands/T0/1/a", False),
        ("https://hooks.slack.com:8443/commands/T0/1/a", False),
        ("https://user:pw@hooks.slack.com/commands/T0/1/a", False),
        ("https://hooks.slack.com.evil.example/commands", False),
        ("https://evil.example/hooks.slack.com", False),
        ("http://127.0.0.1:4455/response/abc", True),  # the configured SLACK_API_URL's host
        ("http://127.0.0.1:4456/response/abc", False),
        ("https://127.0.0.1:4455/response/abc", False),
        ("http://[::1/x", False),
        ("not a url", False),
    ],
)
def test_only_slacks_response_urls_are_allowed(url: str, allowed: bool) -> None:
    assert ResponseUrls("http://127.0.0.1:4455/api/").allows(url) is allowed


def test_a_request_is_identified_by_what_slack_keeps_on_a_retry() -> None:
    assert request_identity({"type": "event_callback", "event_id": "Ev1"}) == (
        "event_callback:event_id:Ev1"
    )
    assert request_identity({"command": "/mesh", "trigger_id": "1.2.x", "response_url": "u"}) == (
        "/mesh:trigger_id:1.2.x"
    )
    assert request_identity({"type": "block_actions", "response_url": "https://h/1"}) == (
        "block_actions:response_url:https://h/1"
    )
    assert request_identity({"type": "url_verification"}) is None


def test_the_cap_holds_the_largest_click_slack_can_send() -> None:
    # a message at Slack's limits: 40,000 characters of text plus ~13,300 of block text,
    # every one outside the BMP (the worst case for JSON escaping then form encoding)
    emoji = "\U0001f600"
    blocks = [
        {"type": "section", "block_id": f"b{i}", "text": {"type": "mrkdwn", "text": emoji * 266}}
        for i in range(50)
    ]
    message = {"type": "message", "ts": "1.2", "text": emoji * 40_000, "blocks": blocks}
    body = block_actions_body("change_approve", "chg-7xq2m4ab", "U1", "C1", "1.2", message=message)
    assert len(body) <= MAX_BODY_BYTES, f"{len(body)} bytes"
