"""The fault matrix of the HTTP front, through the real front: signed and unsigned HTTP
into the real Bolt app on waitress (and Socket Mode envelopes), the Slack emulator
recording what the bot posts, real Redis remembering what ran.

Nothing unverified is read, answered or posted to; malformed or oversized bodies are
refused in one log line without a traceback; a replay or a Slack retry never runs a
command twice; answers only go to Slack's response_urls. (Refusals in the audit stream:
test_audit.py; startup failures: test_startup.py; logs under a burst: test_logs.py.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.sandbox.slack import SlackEmulator, block_actions_body, sign, slash_command_body
from bot.sandbox.slack import payloads as slack_payloads
from bot.slack.front import MAX_BODY_BYTES
from commands.core.model import Text
from commands.core.registry import Args, CommandSpec, Context
from tests.fixtures.meshbot import RunningBot
from tests.reliability.support import (
    AttackerEndpoint,
    audit_entries,
    peak_rss_growth,
    post_huge,
)

FORM = "application/x-www-form-urlencoded"


def front_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "meshbot.front"]


def no_traceback(caplog: pytest.LogCaptureFixture) -> bool:
    return all(r.exc_info is None and r.levelno < logging.ERROR for r in caplog.records)


def record_what_bolt_sees(bot: RunningBot) -> list[dict[str, Any]]:
    """Every request that reaches the Bolt app (a global middleware added by the test)."""
    seen: list[dict[str, Any]] = []

    def recorder(body: dict[str, Any], next: Callable[[], None]) -> None:
        seen.append(body)
        next()

    bot.app.use(recorder)
    return seen


def count_runs(bot: RunningBot) -> list[str]:
    """A `tick` command that records each run (the registry is the runtime's own)."""
    ran: list[str] = []

    def tick(ctx: Context, args: Args) -> Text:
        ran.append(ctx.caller.user_id)
        return Text("ticked")

    bot.runtime.registry.register(CommandSpec("tick", "count a run", tick))
    return ran


def events_url(bot: RunningBot) -> str:
    assert bot.server is not None
    return f"{bot.server.url}/slack/events"


def answered_after(bot: RunningBot, text: str = "help") -> dict[str, object]:
    """A correctly signed command, answered: the positive signal that whatever was sent
    before it has been handled."""
    return bot.answer(bot.slash(text), timeout=10)


# ---- unsigned and badly signed ------------------------------------------------------------

SECRET_OF_ANOTHER_APP = "not-our-signing-secret"


def tampered(kind: str, body: bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    now = int(time.time())
    good = sign(secret, body, now)
    match kind:
        case "no signature headers":
            return body, {}
        case "timestamp notanumber":
            return body, {**good, "X-Slack-Request-Timestamp": "notanumber"}
        case "timestamp 1e20":
            return body, {**good, "X-Slack-Request-Timestamp": "1e20"}
        case "timestamp with a sign":
            return body, {**good, "X-Slack-Request-Timestamp": f"+{now}"}
        case "six minutes old":
            return body, sign(secret, body, now - 360)
        case "six minutes ahead":
            return body, sign(secret, body, now + 360)
        case "signature of zeros":
            return body, {**good, "X-Slack-Signature": "v0=" + "0" * 64}
        case "signature not hex":
            return body, {**good, "X-Slack-Signature": "v0=" + "z" * 64}
        case "another app's secret":
            return body, sign(SECRET_OF_ANOTHER_APP, body, now)
        case "body changed after signing":
            return body.replace(b"help", b"tick"), good
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "no signature headers",
        "timestamp notanumber",
        "timestamp 1e20",
        "timestamp with a sign",
        "six minutes old",
        "six minutes ahead",
        "signature of zeros",
        "signature not hex",
        "another app's secret",
        "body changed after signing",
    ],
)
def test_an_unverified_request_gets_401_and_nothing_of_it_is_read_run_or_posted_to(
    http_bot: RunningBot, signing_secret: str, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    seen = record_what_bolt_sees(http_bot)
    ran = count_runs(http_bot)
    with AttackerEndpoint() as attacker:
        body = slash_command_body(text="help", response_url=attacker.url)
        body, headers = tampered(kind, body, signing_secret)
        answer = httpx.post(
            events_url(http_bot), content=body, headers={"Content-Type": FORM, **headers}
        )
        assert answer.status_code == 401
        assert answer.text == "unauthorized\n"
        [line] = front_lines(caplog)
        assert line.startswith("refused 401 from 127.0.0.1: not signed by Slack")
        assert "help" not in line and attacker.url not in line
        answered_after(http_bot)
        assert attacker.hits == []
    assert ran == [] and len(seen) == 1  # Bolt only ever saw the signed `help`
    assert no_traceback(caplog)


def test_only_post_to_the_events_path_is_served(http_bot: RunningBot) -> None:
    assert http_bot.server is not None
    assert httpx.get(events_url(http_bot)).status_code == 405
    assert httpx.post(f"{http_bot.server.url}/other", content=b"x").status_code == 404


# ---- size -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_100_mb_body_is_refused_413_without_being_read(
    http_bot: RunningBot, caplog: pytest.LogCaptureFixture, chunked: bool
) -> None:
    assert http_bot.server is not None
    seen = record_what_bolt_sees(http_bot)
    with peak_rss_growth() as grew:
        status, _ = post_huge("127.0.0.1", http_bot.server.port, 100 * 2**20, chunked=chunked)
    assert status == 413
    assert grew() < 20 * 2**20, f"the process peaked {grew() / 2**20:.0f} MiB higher"
    [line] = front_lines(caplog)
    assert line.startswith("refused 413 from 127.0.0.1")
    answered_after(http_bot)
    assert len(seen) == 1


def test_one_byte_over_the_cap_is_413_and_the_largest_click_slack_sends_passes(
    http_bot: RunningBot, signing_secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    clicked: list[str] = []

    @http_bot.app.action("test_big_click")
    def on_click(ack: Callable[[], None], body: dict[str, Any]) -> None:
        ack()
        clicked.append(body["message"]["text"][:5])

    def click(size: int) -> bytes:
        message = {"type": "message", "ts": "1.2", "text": ""}
        trigger = f"{size}.1.{'0' * 32}"  # a fixed length, so the padding comes out exact

        def body() -> bytes:
            return block_actions_body(
                "test_big_click", "v", "U_ALICE", "C_OPS", "1.2", message=message, trigger=trigger
            )

        message["text"] = "x" * (size - len(body()))
        return body()

    assert http_bot.client is not None
    largest = click(MAX_BODY_BYTES)
    assert len(largest) == MAX_BODY_BYTES
    assert http_bot.client.post(largest).status_code == 200
    assert clicked == ["xxxxx"]
    over = click(MAX_BODY_BYTES + 1)
    assert len(over) == MAX_BODY_BYTES + 1
    assert http_bot.client.post(over).status_code == 413
    assert front_lines(caplog) == [
        f"refused 413 from 127.0.0.1: body larger than {MAX_BODY_BYTES} bytes"
    ]
    assert clicked == ["xxxxx"]


# ---- signed but malformed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        (b"%%%&&&==;;", FORM, "body is not form data"),
        (b"hello world", FORM, "body is not form data"),
        (b"payload=", FORM, "payload= is empty"),
        (b"payload=not-json", FORM, "payload= is not JSON"),
        (b"payload=%5B1%2C2%5D", FORM, "payload= is not a JSON object with a type"),
        (
            b"user_id=U1&text=help",
            FORM,
            "form data is neither a slash command nor an interaction payload",
        ),
        (b"\xff\xfe\x00command=/mesh", FORM, "body is not UTF-8"),
        (b"{not json", "application/json", "JSON body is not JSON"),
        (b"<xml/>", "text/xml", "Content-Type text/xml is not one Slack sends"),
    ],
)
def test_a_signed_but_malformed_body_gets_400_in_one_line(
    http_bot: RunningBot,
    signing_secret: str,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    problem: str,
) -> None:
    seen = record_what_bolt_sees(http_bot)
    headers = {"Content-Type": content_type, **sign(signing_secret, body)}
    answer = httpx.post(events_url(http_bot), content=body, headers=headers)
    assert answer.status_code == 400
    assert front_lines(caplog) == [f"refused 400 from 127.0.0.1: signed but malformed: {problem}"]
    assert seen == [] and no_traceback(caplog)


def test_a_form_that_merely_mentions_payload_still_reaches_its_command(
    http_bot: RunningBot,
) -> None:
    ran = count_runs(http_bot)
    url = http_bot.slash("tick payload-api")
    assert "unexpected `payload-api`" in str(http_bot.answer(url))
    assert ran == []  # a usage error, answered: Bolt alone would have dropped it (404)


# ---- replays and Slack's retries ------------------------------------------------------------


def test_the_same_signed_bytes_sent_again_are_acked_and_not_run(
    http_bot: RunningBot, slack_emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "meshbot.front")
    ran = count_runs(http_bot)
    url = slack_emulator.new_response_url("C_OPS", "U_ALICE")
    body = slash_command_body(text="tick", response_url=url)
    assert http_bot.client is not None
    timestamp = int(time.time())
    assert http_bot.client.post(body, timestamp=timestamp).status_code == 200
    replay = http_bot.client.post(body, timestamp=timestamp)
    assert replay.status_code == 200 and replay.headers["X-Slack-No-Retry"] == "1"
    assert front_lines(caplog) == [
        "dropped a replayed request from 127.0.0.1: these signed bytes already ran"
    ]
    assert "ticked" in str(http_bot.answer(url))
    assert ran == ["U_ALICE"]
    assert len(slack_emulator.responses(url)) == 1


def test_a_slack_retry_with_a_new_signature_is_recognised_and_not_run_again(
    http_bot: RunningBot, slack_emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "meshbot.front")
    ran = count_runs(http_bot)
    url = slack_emulator.new_response_url("C_OPS", "U_ALICE")
    body = slash_command_body(text="tick", response_url=url)
    assert http_bot.client is not None
    assert http_bot.client.post(body).status_code == 200
    for attempt in (1, 2, 3):
        retry = http_bot.client.post(
            body,
            timestamp=int(time.time()) + attempt,
            **{"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert retry.status_code == 200 and retry.text == ""
    assert front_lines(caplog) == [
        f"dropped a repeated /mesh over HTTP (retry {n}, reason http_timeout): it already ran"
        for n in (1, 2, 3)
    ]
    assert "ticked" in str(http_bot.answer(url))
    assert ran == ["U_ALICE"]


def changes_in(bot: RunningBot) -> list[dict[str, str]]:
    return [e for e in audit_entries(bot.runtime, "prod") if e.get("event") == "proposed"]


def test_a_retried_mtls_permissive_proposes_one_change(
    mesh_bot: RunningBot, slack_emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "meshbot.front")
    url = slack_emulator.new_response_url("C_OPS", "U_ALICE")
    body = slash_command_body(text="mtls permissive namespace=shop", response_url=url)
    assert mesh_bot.client is not None
    assert mesh_bot.client.post(body).status_code == 200
    retry = mesh_bot.client.post(
        body,
        timestamp=int(time.time()) + 1,
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status_code == 200
    assert any("dropped a repeated /mesh" in line for line in front_lines(caplog))
    assert "Proposed chg-" in str(mesh_bot.answer(url, timeout=15))
    assert len(changes_in(mesh_bot)) == 1
    assert len(slack_emulator.messages("C_OPS")) == 1
    assert len(slack_emulator.responses(url)) == 1


def test_a_socket_mode_redelivery_is_acked_and_not_run_again(
    socket_bot: RunningBot, slack_emulator: SlackEmulator
) -> None:
    ran = count_runs(socket_bot)
    url = slack_emulator.new_response_url("C_OPS", "U_ALICE")
    payload = slack_payloads.slash_command(text="tick", response_url=url)
    first = slack_emulator.socket.send_envelope("slash_commands", payload)
    again = slack_emulator.socket.send_envelope(
        "slash_commands", payload, retry_attempt=1, retry_reason="timeout"
    )
    slack_emulator.socket.wait_for_ack(first)
    slack_emulator.socket.wait_for_ack(again)
    assert "ticked" in str(slack_emulator.wait_for(lambda: slack_emulator.responses(url))[0].body)
    assert ran == ["U_ALICE"]


# ---- response_url ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["slash command", "click"])
def test_a_signed_request_whose_response_url_is_not_slacks_is_refused(
    http_bot: RunningBot, signing_secret: str, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    ran = count_runs(http_bot)
    assert http_bot.client is not None
    with AttackerEndpoint() as attacker:
        if kind == "slash command":
            body = slash_command_body(text="tick", response_url=attacker.url)
        else:
            body = block_actions_body(
                "change_approve", "chg-7xq2m4ab", "U_BOB", "C_OPS", "1.2", response_url=attacker.url
            )
        assert http_bot.client.post(body).status_code == 400
        host = attacker.url.split("/")[2]
        assert front_lines(caplog) == [
            f"refused a request whose response_url is not Slack's: {host}"
        ]
        answered_after(http_bot)
        assert attacker.hits == []
    assert ran == [] and no_traceback(caplog)
