"""meshbot's Slack front end, end to end: signed requests into the real Bolt app over
HTTP (waitress) and envelopes over Socket Mode, answered through the Slack emulator."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.app.config import Settings
from bot.sandbox.slack import SlackEmulator, slash_command_body
from commands.core.model import Role, Text
from commands.core.registry import Args, CommandSpec, Context
from tests.fixtures.meshbot import RunningBot


def section_texts(body: dict[str, object]) -> str:
    blocks = body.get("blocks") or []
    assert isinstance(blocks, list)
    return "\n".join(b["text"]["text"] for b in blocks if b.get("type") in {"section", "header"})


def commands_counted(bot: RunningBot, command: str, outcome: str) -> float:
    value = bot.runtime.telemetry.registry.get_sample_value(
        "meshbot_commands_total", {"command": command, "outcome": outcome}
    )
    return value or 0.0


def test_signed_help_is_acknowledged_at_once_and_answered(http_bot: RunningBot) -> None:
    url = http_bot.slash("help")
    body = http_bot.answer(url)
    assert body["response_type"] == "ephemeral"
    text = section_texts(body)
    assert "`/mesh status`" in text and "`/mesh help [COMMAND …]`" in text
    assert body["text"] == "meshbot commands"
    assert commands_counted(http_bot, "help", "ok") == 1


@pytest.mark.parametrize(
    "tamper",
    ["bad signature", "old timestamp", "no signature headers", "body changed after signing"],
)
def test_unsigned_or_replayed_requests_get_401_and_run_nothing(
    http_bot: RunningBot, slack_emulator: SlackEmulator, signing_secret: str, tamper: str
) -> None:
    assert http_bot.client is not None and http_bot.server is not None
    url = slack_emulator.new_response_url("C_OPS", "U_ALICE")
    body = slash_command_body(text="help", user_id="U_ALICE", response_url=url)
    if tamper == "bad signature":
        answer = http_bot.client.post(body, **{"X-Slack-Signature": "v0=" + "0" * 64})
    elif tamper == "old timestamp":
        answer = http_bot.client.post(body, timestamp=int(time.time()) - 301)
    elif tamper == "no signature headers":
        answer = httpx.post(
            f"{http_bot.server.url}/slack/events",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    else:
        from bot.sandbox.slack import sign

        headers = sign(signing_secret, body)
        answer = httpx.post(
            f"{http_bot.server.url}/slack/events",
            content=body.replace(b"help", b"status"),
            headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        )
    assert answer.status_code == 401
    http_bot.settle()  # anything the request had started would be done by now
    assert slack_emulator.responses(url) == []
    assert commands_counted(http_bot, "help", "ok") == 0


def test_a_viewer_running_an_operator_command_is_denied_ephemerally(
    http_bot: RunningBot,
) -> None:
    ran: list[str] = []

    def drain(ctx: Context, args: Args) -> Text:
        ran.append(ctx.caller.user_id)
        return Text("drained")

    http_bot.runtime.registry.register(
        CommandSpec("drain", "Drain a node", drain, role=Role.OPERATOR)
    )
    body = http_bot.answer(http_bot.slash("drain", user_id="U_VIEWER"))
    assert body["response_type"] == "ephemeral"
    assert "`drain` needs the operator role; you have viewer" in str(body["text"])
    assert ran == []
    operator = http_bot.answer(http_bot.slash("drain", user_id="U_ALICE"))
    assert "drained" in str(operator["text"]) and ran == ["U_ALICE"]


def test_a_user_with_no_role_is_denied_and_a_group_member_is_resolved(
    http_bot: RunningBot,
) -> None:
    stranger = http_bot.answer(http_bot.slash("status", user_id="U_STRANGER"))
    assert "needs the viewer role; you have no role" in str(stranger["text"])
    approver = http_bot.answer(http_bot.slash("status", user_id="U_BOB"))
    assert "meshbot status" in section_texts(approver)


def test_bad_arguments_get_the_usage_and_nothing_runs(http_bot: RunningBot) -> None:
    body = http_bot.answer(http_bot.slash("status now please"))
    assert body["response_type"] == "ephemeral"
    text = section_texts(body)
    assert "unexpected `now please`" in text and "`/mesh status`" in text
    assert commands_counted(http_bot, "status", "usage_error") == 1


def test_status_with_real_redis_up(http_bot: RunningBot, clean_redis: str) -> None:
    text = section_texts(http_bot.answer(http_bot.slash("status")))
    assert f"*redis* state store: ok — {clean_redis}" in text
    assert "*lease* watchers: ok — nobody holds the watcher lease" in text
    assert "*cluster* -: not configured" in text


def test_status_with_redis_unreachable_answers_and_the_bot_keeps_serving(
    http_bot_factory, meshbot_settings_factory
) -> None:
    settings: Settings = meshbot_settings_factory("redis://127.0.0.1:1/0")
    bot: RunningBot = http_bot_factory(settings)
    body = bot.answer(bot.slash("status"))
    text = section_texts(body)
    assert "*redis* state store: unreachable — Redis is unreachable" in text
    assert "something is unreachable" in str(body["text"])
    again = bot.answer(bot.slash("version"))
    assert str(again["text"]).startswith("meshbot ")


def test_an_unexpected_error_gives_an_error_id_and_no_internals(
    http_bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(ctx: Context, args: Args) -> Text:
        raise RuntimeError("internal detail token=xoxb-should-not-leak")

    http_bot.runtime.registry.register(CommandSpec("explode", "Always fails", explode))
    body = http_bot.answer(http_bot.slash("explode"))
    text = str(body["text"])
    assert "Error id `" in text and "nothing was changed" in text
    assert "xoxb" not in text and "RuntimeError" not in text
    assert commands_counted(http_bot, "explode", "error") == 1


def test_help_over_socket_mode(socket_bot: RunningBot, slack_emulator: SlackEmulator) -> None:
    envelope = slack_emulator.socket.send_slash_command(text="help", user_id="U_ALICE")
    slack_emulator.socket.wait_for_ack(envelope)
    post = slack_emulator.wait_for(lambda: slack_emulator.responses())[0]
    assert post.body["text"] == "meshbot commands"
    assert "`/mesh status`" in section_texts(post.body)
    assert socket_bot.socket is not None and socket_bot.socket.connected()
