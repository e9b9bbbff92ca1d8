"""Every refused state change reaches the audit stream with who, what and why: role- and
channel-refused clicks and typed commands in Slack (through the real front and the Slack
emulator), and a refusal from the CLI (a subprocess), read back from real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.slack import SlackEmulator
from tests.fixtures.meshbot import RunningBot
from tests.processes import meshbot_process
from tests.reliability.support import audit_entries


def proposal_id(bot: RunningBot, slack: SlackEmulator) -> tuple[str, str]:
    url = bot.slash("mtls permissive namespace=shop", user_id="U_ALICE")
    assert "Proposed chg-" in str(bot.answer(url, timeout=15))
    message = slack.wait_for(lambda: slack.messages("C_OPS"))[-1]
    for block in message.blocks or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element["action_id"] == "change_approve":
                return str(element["value"]), message.ts
    raise AssertionError("no Approve button")


def ephemeral_text(bot: RunningBot, url: str) -> str:
    return str(bot.answer(url, timeout=10))


@pytest.mark.parametrize(
    ("action", "user", "role"),
    [
        ("change_approve", "U_ALICE", "operator"),
        ("change_approve", "U_VIEWER", "viewer"),
        ("change_reject", "U_VIEWER", "viewer"),
        ("change_approve", "U_STRANGER", "none"),
    ],
)
def test_a_role_refused_click_is_answered_and_audited(
    mesh_bot: RunningBot, slack_emulator: SlackEmulator, action: str, user: str, role: str
) -> None:
    change_id, ts = proposal_id(mesh_bot, slack_emulator)
    assert mesh_bot.client is not None
    url = slack_emulator.new_response_url("C_OPS", user)
    mesh_bot.client.action(action, change_id, user_id=user, message_ts=ts, response_url=url)
    answer = ephemeral_text(mesh_bot, url)
    assert f"you have {'no role' if role == 'none' else role}" in answer
    [entry] = [e for e in audit_entries(mesh_bot.runtime, "prod") if e["result"] == "refused"]
    assert entry["event"] == action.replace("_", " ")
    assert entry["change"] == change_id and entry["kind"] == "mtls-permissive"
    assert entry["actor"] == user and entry["role"] == role and entry["refused_by"] == "role"
    assert entry["front_end"] == "slack" and entry["channel"] == "C_OPS"
    assert "role" in entry["detail"]


def test_typed_refusals_by_role_and_by_channel_are_audited(
    mesh_bot: RunningBot, slack_emulator: SlackEmulator
) -> None:
    viewer = mesh_bot.answer(mesh_bot.slash("mtls strict namespace=shop", user_id="U_VIEWER"))
    assert "needs the operator role" in str(viewer)
    elsewhere = mesh_bot.answer(
        mesh_bot.slash("mtls permissive namespace=shop", user_id="U_ALICE", channel_id="C_ONCALL")
    )
    assert "can only be used from" in str(elsewhere)
    refused = [e for e in audit_entries(mesh_bot.runtime, "prod") if e["result"] == "refused"]
    assert [(e["event"], e["actor"], e["refused_by"], e["channel"]) for e in refused] == [
        ("mtls strict", "U_VIEWER", "role", "C_OPS"),
        ("mtls permissive", "U_ALICE", "channel", "C_ONCALL"),
    ]
    assert refused[1]["command"] == "mtls permissive namespace=shop"


def test_a_typed_change_command_refused_by_role_is_audited_against_the_change(
    mesh_bot: RunningBot, slack_emulator: SlackEmulator
) -> None:
    change_id, _ = proposal_id(mesh_bot, slack_emulator)
    typed = mesh_bot.answer(mesh_bot.slash(f"change reject {change_id}", user_id="U_VIEWER"))
    assert "needs the operator role" in str(typed)
    refused = [e for e in audit_entries(mesh_bot.runtime, "prod") if e["result"] == "refused"]
    assert [(e["event"], e["actor"], e["change"]) for e in refused] == [
        ("change reject", "U_VIEWER", change_id)
    ]


def test_a_refusal_from_the_cli_is_audited(
    mesh_bot: RunningBot, tmp_path: Path, kubeconfig: Path, clean_redis: str, key_prefix: str
) -> None:
    config = tmp_path / "cli.yaml"
    config.write_text(
        f"redis: {{key_prefix: {key_prefix}}}\n"
        f"clusters:\n  prod:\n    kubeconfig: {kubeconfig}\n    context: sandbox\n"
    )
    args = ["timeouts", "fix", "tf-0000000000", "--config", str(config)]
    with meshbot_process(args, {"REDIS_URL": clean_redis}) as process:
        assert process.wait(timeout=60) == 1
        output = process.stdout.read() if process.stdout else ""
    assert "no timeouts audit of prod is stored" in output
    [entry] = [e for e in audit_entries(mesh_bot.runtime, "prod") if e["result"] == "refused"]
    assert (entry["event"], entry["actor"], entry["front_end"]) == ("timeouts fix", "local", "cli")
    assert entry["refused_by"] == "pipeline" and entry["role"] == "approver"
