"""A wave held for want of traffic: an approver (never its requester) accepts it with a
reason, audited and shown on the plan; a rollout under way or a breach never."""

from __future__ import annotations

from typing import Any

from bot.install.render import ACCEPT_HOLD, plan_message
from commands.changes.model import ChangeState
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome, Caller, Role
from commands.core.ports import Sample
from commands.install.model import InstallView, StageState
from tests.unit.fakes import MemoryStore
from tests.unit.install.fakes import Bed, install_bed
from tests.unit.install.test_stages import (
    ALICE,
    BOB,
    control_plane_verified,
    planned,
    run,
    wave_pods_restarted,
)

CAROL = Caller("U_CAROL", Role.OPERATOR)
DAVE = Caller("U_DAVE", Role.APPROVER)
LATER = 1_800_000_000.0 + 10_000  # past the new pods' Ready time and the bake window


def wave_applied(bed: Bed) -> tuple[str, str]:
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    wave = run(bed, f"install advance {plan_id}").view.stages[1].change  # type: ignore[union-attr]
    assert wave is not None
    assert Pipeline(bed.services).approve(wave.id, BOB).outcome is ActionOutcome.DONE
    return plan_id, wave.id


def held_on_traffic(bed: Bed) -> tuple[str, str]:
    plan_id, wave_id = wave_applied(bed)
    wave_pods_restarted(bed, ("quiet", "cart"))
    bed.metrics.on(
        "increase(istio_requests_total",
        lambda at: [Sample({"destination_workload_namespace": "cart"}, 3.0)],
    )
    bed.clock.value = LATER
    Pipeline(bed.services).run_due()
    change = Pipeline(bed.services).find(wave_id)
    assert change is not None and change.state is ChangeState.VERIFYING
    assert "not enough traffic to judge" in change.timeline[-1].detail or any(
        "not enough traffic" in line for line in change.verification
    )
    return plan_id, wave_id


def accept(bed: Bed, plan_id: str, caller: Caller, reason: str) -> Any:
    return run(bed, f'install advance {plan_id} override="{reason}"', caller)


def test_an_approver_accepts_a_held_bake_and_the_next_stage_may_be_proposed() -> None:
    bed = install_bed()
    plan_id, wave_id = held_on_traffic(bed)
    shown = bed.registry.dispatch(f"install status {plan_id}", ALICE, bed.services)
    assert isinstance(shown, InstallView) and shown.stages[1].held
    message = plan_message(shown)
    assert ACCEPT_HOLD in str(message.blocks) and "Accept held bake" in str(message.blocks)
    refused = run(bed, f"install advance {plan_id}")
    assert refused.outcome is ActionOutcome.REFUSED and "baking" in refused.message

    own = accept(bed, plan_id, ALICE, "mine")
    assert own.outcome is ActionOutcome.REFUSED and "someone else" in own.message
    operator = accept(bed, plan_id, CAROL, "looks fine")
    assert operator.outcome is ActionOutcome.REFUSED and "not an approver" in operator.message
    empty = accept(bed, plan_id, BOB, " ")
    assert empty.outcome is ActionOutcome.REFUSED and "give the reason" in empty.message
    assert Pipeline(bed.services).find(wave_id).state is ChangeState.VERIFYING  # type: ignore[union-attr]

    accepted = accept(bed, plan_id, BOB, "batch jobs, no traffic")
    assert accepted.outcome is ActionOutcome.DONE, accepted.message
    assert accepted.view is not None and accepted.view.stages[1].state is StageState.VERIFIED
    assert accepted.view.stages[1].accepted_hold == ("U_BOB", "batch jobs, no traffic")
    text = str(plan_message(accepted.view).blocks)
    assert "held bake accepted by <@U_BOB>: batch jobs, no traffic" in text
    store = bed.services.store
    assert isinstance(store, MemoryStore)
    entries = [e.fields for e in store.audit["prod"]]
    assert {
        "change": wave_id,
        "event": "hold accepted",
        "actor": "U_BOB",
        "detail": "batch jobs, no traffic",
    }.items() <= next(e for e in entries if e["event"] == "hold accepted").items()
    assert any(e["event"] == "accept hold" and e["actor"] == "U_ALICE" for e in entries)

    again = accept(bed, plan_id, DAVE, "twice")
    assert again.outcome is ActionOutcome.REFUSED  # the wave is verified: nothing held
    advanced = run(bed, f"install advance {plan_id}")
    assert advanced.outcome is ActionOutcome.DONE, advanced.message
    assert advanced.view is not None and advanced.view.stages[2].state is StageState.PROPOSED


def test_a_rollout_under_way_or_a_breach_can_never_be_accepted() -> None:
    bed = install_bed()
    plan_id, wave_id = wave_applied(bed)
    bed.clock.advance(11)
    Pipeline(bed.services).run_due()  # still on the old proxy: holds, rolling out
    shown = bed.registry.dispatch(f"install status {plan_id}", ALICE, bed.services)
    assert isinstance(shown, InstallView) and not shown.stages[1].held
    assert ACCEPT_HOLD not in str(plan_message(shown).blocks)
    rolling = accept(bed, plan_id, BOB, "ship it")
    assert rolling.outcome is ActionOutcome.REFUSED and "rolling out" in rolling.message

    wave_pods_restarted(bed, ("quiet", "cart"))
    bed.metrics.on(
        "increase(istio_requests_total",
        lambda at: [Sample({"destination_workload_namespace": "cart"}, 500.0)],
    )
    bed.metrics.on(
        'response_code=~"5..',
        lambda at: [
            Sample({"destination_workload_namespace": "cart"}, 0.0 if at < LATER else 200.0)
        ],
    )
    bed.clock.value = LATER
    breach = accept(bed, plan_id, BOB, "ship it")
    assert breach.outcome is ActionOutcome.REFUSED, breach.message
    assert "a breach cannot be overridden" in breach.message and "cart: 5xx" in breach.message
    assert Pipeline(bed.services).find(wave_id).state is ChangeState.VERIFYING  # type: ignore[union-attr]
