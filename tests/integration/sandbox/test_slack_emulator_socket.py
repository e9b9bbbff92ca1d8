"""Socket Mode end to end: a tiny Bolt app on SocketModeHandler against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot.sandbox.slack import SlackEmulator

APPROVE_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Approve *chg-1*?"}},
    {
        "type": "actions",
        "block_id": "decision",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "value": "chg-1",
                "text": {"type": "plain_text", "text": "Approve"},
            }
        ],
    },
]


def build_app(client: WebClient) -> App:
    app = App(client=client)

    @app.command("/mesh")
    def mesh(ack: Any, say: Any, respond: Any, command: dict[str, Any]) -> None:
        if command["text"] == "whoami":
            ack(text=f"you are {command['user_name']}")
            return
        ack()
        say(text=f"running `{command['text']}`")
        respond(text="only you see this")

    @app.action("approve")
    def approve(ack: Any, body: dict[str, Any], respond: Any, client: WebClient) -> None:
        ack()
        container = body["container"]
        respond(text=f"Approved by <@{body['user']['id']}>", replace_original=True)
        client.chat_postMessage(
            channel=container["channel_id"],
            thread_ts=container["message_ts"],
            text=f"approval recorded for {body['actions'][0]['value']}",
        )

    return app


@pytest.fixture
def bolt_socket_app(slack_emulator: SlackEmulator) -> Iterator[App]:
    client = WebClient(token=slack_emulator.bot_token, base_url=slack_emulator.api_url)
    app = build_app(client)
    handler = SocketModeHandler(app, slack_emulator.app_token)
    handler.connect()
    try:
        slack_emulator.socket.wait_for_connection()
        yield app
    finally:
        handler.close()


def test_hello_and_connection(slack_emulator: SlackEmulator, bolt_socket_app: App) -> None:
    assert slack_emulator.socket.connection_count == 1
    (opened,) = slack_emulator.calls("apps.connections.open")
    assert opened.token == slack_emulator.app_token
    assert opened.response["url"].startswith(slack_emulator.socket.url)


def test_slash_command_ack_then_say_and_respond(
    slack_emulator: SlackEmulator, bolt_socket_app: App
) -> None:
    envelope_id = slack_emulator.socket.send_slash_command(
        command="/mesh", text="preflight prod", user_id="U_ALICE", channel_id="C_OPS"
    )
    ack = slack_emulator.socket.wait_for_ack(envelope_id, timeout=5)
    assert ack.envelope_id == envelope_id and not ack.payload

    slack_emulator.wait_for(lambda: slack_emulator.messages("C_OPS"))
    assert [m.text for m in slack_emulator.messages("C_OPS")] == ["running `preflight prod`"]
    (post,) = slack_emulator.wait_for(lambda: slack_emulator.responses())
    assert post.text == "only you see this" and post.response_type == "ephemeral"
    (eph,) = slack_emulator.ephemerals("C_OPS", user="U_ALICE")
    assert eph.text == "only you see this"


def test_ack_with_a_response_payload(slack_emulator: SlackEmulator, bolt_socket_app: App) -> None:
    envelope_id = slack_emulator.socket.send_slash_command(text="whoami", user_id="U_BOB")
    ack = slack_emulator.socket.wait_for_ack(envelope_id)
    assert ack.payload is not None and ack.payload["text"] == "you are bob"


def test_button_click_replaces_the_message_and_replies_in_thread(
    slack_emulator: SlackEmulator, bolt_socket_app: App
) -> None:
    posted = bolt_socket_app.client.chat_postMessage(
        channel="C_OPS", text="Approve chg-1?", blocks=APPROVE_BLOCKS
    )
    envelope_id = slack_emulator.socket.send_block_actions(
        "approve", "chg-1", user_id="U_BOB", channel_id="C_OPS", message_ts=posted["ts"]
    )
    slack_emulator.socket.wait_for_ack(envelope_id)
    (sent,) = [e for e in slack_emulator.socket.sent if e["envelope_id"] == envelope_id]
    assert sent["type"] == "interactive"
    assert sent["payload"]["actions"][0]["block_id"] == "decision"
    assert sent["payload"]["message"]["blocks"] == APPROVE_BLOCKS

    replies = slack_emulator.wait_for(lambda: slack_emulator.thread("C_OPS", posted["ts"]))
    assert replies[0].text == "approval recorded for chg-1"
    slack_emulator.wait_for(lambda: slack_emulator.responses())
    message = slack_emulator.message("C_OPS", posted["ts"])
    assert message is not None and message.text == "Approved by <@U_BOB>"


def test_disconnect_request_makes_the_app_reconnect(
    slack_emulator: SlackEmulator, bolt_socket_app: App
) -> None:
    slack_emulator.socket.send_disconnect()
    slack_emulator.wait_for("apps.connections.open", count=2, timeout=10)
    slack_emulator.wait_for(lambda: slack_emulator.socket.connection_count == 1, timeout=10)
    envelope_id = slack_emulator.socket.send_slash_command(text="status")
    slack_emulator.socket.wait_for_ack(envelope_id, timeout=5)


def test_hello_on_connect_and_unknown_ticket_refused(slack_emulator: SlackEmulator) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{slack_emulator.socket.url}?ticket=forged", open_timeout=5)
    assert refused.value.response.status_code == 401
    with connect(slack_emulator.open_socket_url(), open_timeout=5) as ws:
        hello = ws.recv(timeout=5)
        assert '"type": "hello"' in str(hello)
        envelope_id = slack_emulator.socket.send_slash_command(text="x")
        assert envelope_id in str(ws.recv(timeout=5))
        ws.send(f'{{"envelope_id": "{envelope_id}"}}')
        assert slack_emulator.socket.wait_for_ack(envelope_id).payload is None


def test_no_app_connected_times_out(slack_emulator: SlackEmulator) -> None:
    with pytest.raises(TimeoutError):
        slack_emulator.socket.send_envelope("slash_commands", {}, timeout=0.2)
