"""A wave held for want of data, accepted through Slack with signed requests: the wave's
requester (U_ALICE) is refused at the button, and a forged submission as her changes
nothing; the approver (U_BOB) gives a reason in the modal, the stage is verified by
override, the plan message says who accepted it and why, and the audit has it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.install.accept import CALLBACK, REASON_BLOCK, REASON_INPUT
from bot.install.render import ACCEPT_HOLD
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator
from commands.changes.model import ChangeState
from tests.fixtures.meshbot import RunningBot
from tests.integration.changes.test_slack import buttons, texts
from tests.integration.install.conftest import bot_config, state_of, wait_until
from tests.integration.install.test_flow import click, wait_stage

pytestmark = pytest.mark.helm
REASON = "batch jobs, no traffic"


def submit(bot: RunningBot, user: str, plan_id: str, reason: str) -> None:
    assert bot.client is not None
    values = {REASON_BLOCK: {REASON_INPUT: {"type": "plain_text_input", "value": reason}}}
    answer = bot.client.view_submission(
        CALLBACK, values=values, private_metadata=plan_id, user_id=user
    )
    assert answer.status_code == 200


def test_the_approver_accepts_a_held_bake_and_the_requester_cannot(
    istio_cluster: tuple[KubeTestServer, Path],
    install_bot: Callable[..., RunningBot],
    slack_emulator: SlackEmulator,
) -> None:
    _, kubeconfig = istio_cluster
    bot = install_bot(bot_config(kubeconfig))  # no Prometheus: every bake holds
    bot.slash("install plan version=1.30.3 waves=quiet/shop")
    plan_msg = slack_emulator.wait_for(
        lambda: next((m for m in slack_emulator.messages("C_OPS") if "→ 1.30.3" in m.text), None),
        10,
    )
    plan_id, ts = buttons(plan_msg)["install_start"], plan_msg.ts
    click(bot, slack_emulator, "install_start", plan_id, "U_ALICE", ts)
    change = buttons(wait_stage(slack_emulator, ts, 1, "proposed"))["change_approve"]
    click(bot, slack_emulator, "change_approve", change, "U_BOB", ts)
    wait_stage(slack_emulator, ts, 1, "verified", 120)
    click(bot, slack_emulator, "install_advance", plan_id, "U_ALICE", ts)
    wave = buttons(wait_stage(slack_emulator, ts, 2, "proposed"))["change_approve"]
    click(bot, slack_emulator, "change_approve", wave, "U_BOB", ts)

    def held() -> Any:
        message = slack_emulator.message("C_OPS", ts)
        shown = message is not None and "no Prometheus is configured" in texts(message)
        return message if shown and ACCEPT_HOLD in buttons(message) else None

    message = wait_until(held, "the wave held with Accept held bake", 90)
    assert buttons(message)[ACCEPT_HOLD] == plan_id

    # the wave's requester: refused at the button, no modal; a forged submission is refused
    click(bot, slack_emulator, ACCEPT_HOLD, plan_id, "U_ALICE", ts)
    refusal = wait_until(
        lambda: next(
            (r for r in slack_emulator.responses() if "someone else" in str(r.body)), None
        ),
        "Alice's refusal",
        20,
    )
    assert wave in str(refusal.body)
    assert slack_emulator.workspace.views == []
    submit(bot, "U_ALICE", plan_id, "mine")
    wait_until(
        lambda: any("someone else" in e.text for e in slack_emulator.ephemerals(user="U_ALICE")),
        "Alice's forged submission refused",
        20,
    )
    assert state_of(bot, wave) is ChangeState.VERIFYING

    # the approver: the modal, the reason, verified by override
    click(bot, slack_emulator, ACCEPT_HOLD, plan_id, "U_BOB", ts)
    modal = wait_until(lambda: slack_emulator.workspace.views, "the reason modal", 20)[0]
    assert modal["callback_id"] == CALLBACK and modal["private_metadata"] == plan_id
    submit(bot, "U_BOB", plan_id, REASON)
    wait_until(lambda: state_of(bot, wave) is ChangeState.VERIFIED, "verified by override", 20)
    accepted = wait_stage(slack_emulator, ts, 2, "verified", 20)
    assert f"held bake accepted by <@U_BOB>: {REASON}" in texts(accepted)
    assert buttons(accepted).get("install_advance") == plan_id
    entries = [e.fields for e in bot.runtime.services.store.read_audit("prod", count=500)]
    assert any(
        e["change"] == wave and e["event"] == "hold accepted" and e["actor"] == "U_BOB"
        and e["detail"] == REASON
        for e in entries
    )  # fmt: skip
    assert any(e["event"] == "accept hold" and e["actor"] == "U_ALICE" for e in entries)
