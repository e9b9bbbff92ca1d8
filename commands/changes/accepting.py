"""Accepting a held bake: an approver's way out when there is nothing to judge.

Why this exists: a bake with no data (a namespace that serves almost no traffic, no
metrics) holds, and must never pass by itself. Left alone it holds forever, so an
approver — never the requester — may accept it with a reason, the way a failed gate is
overridden on approval. The verdict is taken again first: only a hold for want of data
(`Verdict.acceptable`) can be accepted; a breach never, nor a hold while something is
still under way (a rollout, the bake window not over). The acceptance is a move of the
change (verifying → verified) with its own timeline event, so it is audited like any
other transition and shown wherever the change is.
"""

from __future__ import annotations

from commands.changes.due import judge
from commands.changes.hooks import VerdictOutcome
from commands.changes.ledger import Ledger, unknown
from commands.changes.machine import accept_hold as accept_step
from commands.changes.machine import may_approve, verified
from commands.changes.model import ChangeActed, ChangeState
from commands.core.model import ActionOutcome, Caller, Refusal

ACTION = "accept hold"


def accept_hold(ledger: Ledger, change_id: str, caller: Caller, reason: str) -> ChangeActed:
    change = ledger.records.find(change_id)
    if change is None:
        return unknown(change_id, ACTION)
    now = ledger.clock.now()
    eligible = may_approve(change.policy, caller.user_id, caller.role, ledger.kit.hooks.members)
    early = accept_step(change, caller.user_id, eligible, now, reason, ())
    if isinstance(early, Refusal):  # who, in which state, why: before reading any metrics
        return ledger.refused(change, ACTION, caller, early)
    verdict = judge(ledger, change, now)
    said = "; ".join(verdict.lines)
    if verdict.outcome is VerdictOutcome.BREACH:
        refusal = Refusal(
            f"{change_id} is not held but breaches ({said}): a breach cannot be overridden; "
            "roll it back"
        )
        return ledger.refused(change, ACTION, caller, refusal)
    if verdict.outcome is VerdictOutcome.PASS:
        moved = ledger.move(change, lambda c: verified(c, verdict.lines, now))
        if isinstance(moved, Refusal):
            return ledger.refused(change, ACTION, caller, moved)
        return ChangeActed(
            change_id, ACTION, ActionOutcome.DONE, f"{change_id} passes: {said}", moved.after
        )
    if not verdict.acceptable:
        refusal = Refusal(f"{change_id} is not held for want of data but: {said}")
        return ledger.refused(change, ACTION, caller, refusal)
    step = ledger.move(
        change, lambda c: accept_step(c, caller.user_id, eligible, now, reason, verdict.lines)
    )
    if isinstance(step, Refusal):
        return ledger.refused(change, ACTION, caller, step)
    assert step.after.state is ChangeState.VERIFIED
    return ChangeActed(
        change_id,
        ACTION,
        ActionOutcome.DONE,
        f"Held bake of {change_id} accepted by you: {reason.strip()} (it was held: {said})",
        step.after,
    )
