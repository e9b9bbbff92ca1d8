"""The plan message in Slack: every stage's state, the current stage's buttons, and within
Slack's limits at 300 namespaces (checked by the emulator's own Block Kit validator)."""

from __future__ import annotations

from bot.install.cli import view_json, view_text
from bot.install.render import plan_message
from bot.sandbox.slack.limits import validate_message
from commands.core.model import Caller, Role
from commands.install.model import InstallSettings, InstallView
from tests.unit.install.fakes import big_cluster, install_bed
from tests.unit.install.test_stages import planned, run

ALICE = Caller("U_ALICE", Role.OPERATOR)


def actions(message: dict[str, object] | list[dict[str, object]]) -> dict[str, str]:
    blocks = message if isinstance(message, list) else []
    return {
        e["action_id"]: e["value"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]  # type: ignore[attr-defined]
    }


def test_the_plan_message_stays_within_slack_limits_at_300_namespaces() -> None:
    bed = install_bed(InstallSettings(wave_size=3), cluster=big_cluster(300, 1))
    result = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(result, InstallView)
    assert len(result.plan.stages) == 103  # control plane, 100 waves, promote, retire
    message = plan_message(result)
    verdict = validate_message(message.text, message.blocks)
    assert verdict.ok, verdict.errors
    text = str(message.blocks)
    assert "*1. control plane" in text and "*103. retire" in text  # every stage shown
    assert actions(message.blocks) == {
        "install_start": result.plan.id,
        "install_abort": result.plan.id,
    }
    assert len(view_json(result)["stages"]) == 103
    assert "103. retire" in view_text(result)


def test_the_current_stage_carries_the_pipeline_buttons() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    acted = run(bed, f"install start {plan_id}")
    assert acted.view is not None
    message = plan_message(acted.view)
    assert validate_message(message.text, message.blocks).ok
    change = acted.view.stages[0].change
    assert change is not None
    assert actions(message.blocks) == {
        "change_approve": change.id,
        "change_reject": change.id,
        "install_abort": plan_id,
    }
    assert "proposed" in str(message.blocks)


def test_a_plan_too_long_for_one_message_says_where_the_rest_is() -> None:
    bed = install_bed(InstallSettings(wave_size=1), cluster=big_cluster(600, 0))
    result = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(result, InstallView) and len(result.plan.stages) == 603
    message = plan_message(result)
    assert validate_message(message.text, message.blocks).ok
    text = str(message.blocks)
    assert f"all 603 stages: `/mesh install status {result.plan.id}`" in text
    assert "… stages 5 to 601: 597 pending" in text and "*603. retire" in text
