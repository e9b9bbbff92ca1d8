"""Signed requests: the helpers satisfy Slack's verifier and drive a Bolt app over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.slack import (
    SignedClient,
    SlackEmulator,
    block_actions_body,
    sign,
    slash_command_body,
    view_submission_body,
)


def verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    return SignatureVerifier(secret).is_valid_request(body, headers)


def test_signature_accepted_and_tampering_rejected(signing_secret: str) -> None:
    body = slash_command_body(text="mtls enable payments", response_url="http://x/response/1")
    headers = sign(signing_secret, body)
    assert verifies(signing_secret, body, headers)
    assert not verifies(signing_secret, body.replace(b"payments", b"billing"), headers)
    assert not verifies("another-secret", body, headers)
    stale = sign(signing_secret, body, timestamp=int(time.time()) - 600)
    assert not verifies(signing_secret, body, stale)


def test_slash_command_body_has_all_of_slacks_fields() -> None:
    body = slash_command_body(
        command="/mesh",
        text="help",
        user_id="U_BOB",
        channel_id="C_OPS",
        response_url="http://r",
        team_id="T1",
        trigger_id="1.2.3",
    )
    fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    for name in ("command", "text", "user_id", "user_name", "channel_id", "team_id"):
        assert name in fields
    assert fields["response_url"] == "http://r" and fields["trigger_id"] == "1.2.3"


def test_block_actions_and_view_submission_bodies() -> None:
    body = block_actions_body("approve", "chg-1", "U_BOB", "C_OPS", "1.000100", thread_ts="1.0")
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "approve"
    assert payload["actions"][0]["value"] == "chg-1"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1.000100",
        "channel_id": "C_OPS",
        "is_ephemeral": False,
        "thread_ts": "1.0",
    }
    form = parse_qs(view_submission_body("silence", private_metadata="a").decode())
    view = json.loads(form["payload"][0])
    assert view["type"] == "view_submission" and view["view"]["callback_id"] == "silence"
    assert view["view"]["private_metadata"] == "a"


@pytest.fixture
def bolt_http(slack_emulator: SlackEmulator, signing_secret: str) -> Iterator[SignedClient]:
    client = WebClient(token=slack_emulator.bot_token, base_url=slack_emulator.api_url)
    app = App(client=client, signing_secret=signing_secret)

    @app.command("/mesh")
    def mesh(ack: Any, respond: Any, say: Any, command: dict[str, Any]) -> None:
        ack()
        say(text=f"running {command['text']}")
        respond(text="queued", response_type="ephemeral")

    @app.action("approve")
    def approve(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        ack()
        respond(text=f"approved {body['actions'][0]['value']}", replace_original=True)

    transport = httpx.WSGITransport(app=SlackRequestHandler(app))
    with SignedClient("http://bolt.test", signing_secret, transport=transport) as signed:
        yield signed


def test_bolt_http_mode_slash_command(
    slack_emulator: SlackEmulator, bolt_http: SignedClient
) -> None:
    response_url = slack_emulator.new_response_url(channel="C_OPS", user="U_ALICE")
    answer = bolt_http.slash("preflight", user_id="U_ALICE", response_url=response_url)
    assert answer.status_code == 200
    slack_emulator.wait_for(lambda: slack_emulator.responses(response_url))
    assert [m.text for m in slack_emulator.messages("C_OPS")] == ["running preflight"]
    assert slack_emulator.ephemerals("C_OPS", user="U_ALICE")[0].text == "queued"


def test_bolt_http_mode_button(slack_emulator: SlackEmulator, bolt_http: SignedClient) -> None:
    web = WebClient(token=slack_emulator.bot_token, base_url=slack_emulator.api_url)
    ts = web.chat_postMessage(channel="C_OPS", text="Approve?")["ts"]
    response_url = slack_emulator.new_response_url(channel="C_OPS", user="U_BOB", message_ts=ts)
    answer = bolt_http.action(
        "approve", "chg-9", user_id="U_BOB", message_ts=ts, response_url=response_url
    )
    assert answer.status_code == 200
    slack_emulator.wait_for(lambda: slack_emulator.responses(response_url))
    message = slack_emulator.message("C_OPS", ts)
    assert message is not None and message.text == "approved chg-9"


def test_bolt_refuses_bad_and_replayed_signatures(
    slack_emulator: SlackEmulator, bolt_http: SignedClient
) -> None:
    body = slash_command_body(text="help")
    forged = bolt_http.post(body, headers={"X-Slack-Signature": "v0=" + "0" * 64})
    assert forged.status_code == 401
    replayed = bolt_http.post(body, timestamp=int(time.time()) - 600)
    assert replayed.status_code == 401
    assert slack_emulator.messages("C_OPS") == []
