"""The emulator's browser workspace over HTTP, with meshbot's real Bolt app behind it:
what the page sends reaches the app as Slack's signed requests (or is refused as Slack
refuses it), and the page sees the result live over server-sent events."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from bot.sandbox.slack import SlackEmulator
from bot.sandbox.slack.web import CommandHint, Persona, WebFace
from tests.fixtures.meshbot import RunningBot

PERSONAS = [Persona("U_ALICE", "Alice", "operator"), Persona("U_BOB", "Bob", "approver")]


@pytest.fixture
def face(slack_emulator: SlackEmulator, http_bot: RunningBot) -> WebFace:
    assert http_bot.server is not None
    web = WebFace(slack_emulator, PERSONAS, [CommandHint("help", "help", "commands", "viewer")])
    web.relay.request_url = f"{http_bot.server.url}/slack/events"
    slack_emulator.web = web
    return web


def page(emulator: SlackEmulator, user: str, channel: str = "C_OPS") -> str:
    answer = httpx.get(f"{emulator.url}/", params={"as": user, "channel": channel}, timeout=10)
    assert answer.status_code == 200
    return answer.text


def post(
    emulator: SlackEmulator, path: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return httpx.post(f"{emulator.url}{path}", json=body, headers=headers, timeout=10)


def test_a_typed_slash_command_runs_signed_and_its_answer_is_only_for_the_typist(
    face: WebFace, slack_emulator: SlackEmulator
) -> None:
    answer = post(
        slack_emulator, "/ui/command", {"as": "U_ALICE", "channel": "C_OPS", "text": "/mesh help"}
    )
    assert answer.json() == {"ok": True}
    eph = slack_emulator.wait_for(lambda: slack_emulator.ephemerals("C_OPS", "U_ALICE"))[0]
    assert eph.text == "meshbot commands" and eph.via == "response_url"
    assert "meshbot commands" in page(slack_emulator, "U_ALICE")
    assert "Only visible to you" in page(slack_emulator, "U_ALICE")
    assert "meshbot commands" not in page(slack_emulator, "U_BOB")


def test_a_click_sends_the_stored_button_value_in_a_signed_block_actions_payload(
    face: WebFace, slack_emulator: SlackEmulator, http_bot: RunningBot, slack_web_client: WebClient
) -> None:
    received: list[dict[str, Any]] = []
    http_bot.app.action("demo_click")(lambda ack, body: (ack(), received.append(body)))
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Go"},
        "action_id": "demo_click",
        "value": "opaque-7",
    }
    posted = slack_web_client.chat_postMessage(
        channel="C_OPS",
        text="click me",
        blocks=[{"type": "actions", "block_id": "acts", "elements": [button]}],
    )
    ts = str(posted["ts"])
    bogus = post(
        slack_emulator,
        "/ui/action",
        {"as": "U_BOB", "channel": "C_OPS", "ts": ts, "block": 0, "element": 3},
    )
    assert bogus.status_code == 400 and bogus.json()["error"] == "not_a_button"

    click = {
        "as": "U_BOB",
        "channel": "C_OPS",
        "ts": ts,
        "block": 0,
        "element": 0,
        "value": "forged",
    }
    assert post(slack_emulator, "/ui/action", click).json() == {"ok": True}
    body = slack_emulator.wait_for(lambda: received)[0]
    action = body["actions"][0]
    assert (action["action_id"], action["value"], action["block_id"]) == (
        "demo_click",
        "opaque-7",
        "acts",
    )
    assert body["user"]["id"] == "U_BOB" and body["container"]["message_ts"] == ts
    assert body["response_url"].startswith(f"{slack_emulator.url}/response/")
    assert body["message"]["text"] == "click me"


def test_the_app_refuses_a_badly_signed_command_and_the_page_says_what_slack_says(
    face: WebFace, slack_emulator: SlackEmulator, http_bot: RunningBot
) -> None:
    slack_emulator.signing_secret = "not-the-apps-secret"
    post(slack_emulator, "/ui/command", {"as": "U_ALICE", "channel": "C_OPS", "text": "/mesh help"})
    eph = slack_emulator.wait_for(lambda: slack_emulator.ephemerals("C_OPS", "U_ALICE"))[0]
    assert eph.via == "slackbot" and 'failed with the error "http_401"' in eph.text
    assert slack_emulator.responses() == []  # the command never ran


def test_input_from_another_site_or_for_an_unknown_user_is_refused(
    face: WebFace, slack_emulator: SlackEmulator
) -> None:
    body = {"as": "U_ALICE", "channel": "C_OPS", "text": "/mesh help"}
    assert (
        post(slack_emulator, "/ui/command", body, Origin="https://evil.example").status_code == 403
    )
    stranger = post(slack_emulator, "/ui/command", {**body, "as": "U_STRANGER"})
    assert stranger.status_code == 400
    unknown = post(slack_emulator, "/ui/command", {**body, "text": "/deploy prod"})
    assert unknown.json() == {"ok": True}
    eph = slack_emulator.wait_for(lambda: slack_emulator.ephemerals("C_OPS", "U_ALICE"))[0]
    assert "`/deploy` is not a valid command" in eph.text


def test_live_updates_carry_new_and_edited_messages_in_place(
    face: WebFace, slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    events: list[dict[str, Any]] = []
    got = threading.Condition()

    def listen() -> None:
        url = f"{slack_emulator.url}/ui/events"
        with httpx.stream(
            "GET", url, params={"as": "U_ALICE", "channel": "C_OPS"}, timeout=30
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    with got:
                        events.append(json.loads(line[6:]))
                        got.notify_all()
                    if len(events) == 3:
                        return

    def wait(count: int) -> dict[str, Any]:
        with got:
            assert got.wait_for(lambda: len(events) >= count, timeout=15), events
            return events[count - 1]

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert wait(1)["messages"] == []
    posted = slack_web_client.chat_postMessage(channel="C_OPS", text="*deploying* v2")
    ((dom_id, first_hash, markup),) = wait(2)["messages"]
    assert dom_id == "m-" + str(posted["ts"]).replace(".", "-") and "<b>deploying</b> v2" in markup
    slack_web_client.chat_update(channel="C_OPS", ts=posted["ts"], text="deployed v2")
    ((same_id, new_hash, edited),) = wait(3)["messages"]
    assert same_id == dom_id and new_hash != first_hash
    assert edited is not None and "deployed v2" in edited and re.search(r"\(edited\)", edited)
    reader.join(timeout=10)


def test_without_a_request_url_the_page_reaches_a_socket_mode_app(
    slack_emulator: SlackEmulator, socket_bot: RunningBot
) -> None:
    slack_emulator.web = WebFace(slack_emulator, PERSONAS)
    body = {"as": "U_BOB", "channel": "C_OPS", "text": "/mesh version"}
    assert post(slack_emulator, "/ui/command", body).json() == {"ok": True}
    eph = slack_emulator.wait_for(lambda: slack_emulator.ephemerals("C_OPS", "U_BOB"))[0]
    assert eph.text.startswith("meshbot ") and eph.via == "response_url"
