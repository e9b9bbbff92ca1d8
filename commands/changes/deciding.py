"""Approving and rejecting a proposal, and letting one expire.

Why this exists: this is where "never let the wrong person approve" is enforced. Each
decision re-reads the change, works out whether the caller may decide under the
change's own policy (approver role, named approvers or groups, never the requester),
and moves the record atomically through `commands.changes.machine`; a proposal past
its expiry is expired first, so a late click is told so and applies nothing. The last
approval needed applies the change (`commands.changes.applying`) before answering.
"""

from __future__ import annotations

from commands.changes.applying import apply
from commands.changes.ledger import Ledger, noop, unknown, when
from commands.changes.machine import approve as approve_step
from commands.changes.machine import expire_if_due, may_approve, replica_of
from commands.changes.machine import reject as reject_step
from commands.changes.model import Change, ChangeActed, ChangeState
from commands.core.model import ActionOutcome, Caller, Refusal


def approve(
    ledger: Ledger, change_id: str, caller: Caller, override: str | None = None
) -> ChangeActed:
    """Record an approval; the last one needed applies the change (and returns after)."""
    change = ledger.records.find(change_id)
    if change is None:
        return unknown(change_id, "approve")
    now = ledger.clock.now()
    expired = expire(ledger, change, now)
    if expired is not None:
        return ChangeActed(
            change_id,
            "approve",
            ActionOutcome.REFUSED,
            f"{change_id} expired at {when(change.expires_at)} without enough approvals; "
            "nothing was applied. Propose it again.",
            expired,
        )
    eligible = may_approve(change.policy, caller.user_id, caller.role, ledger.kit.hooks.members)
    step = ledger.move(change, lambda c: approve_step(c, caller.user_id, eligible, now, override))
    if isinstance(step, Refusal):
        return ledger.refused(change, "approve", caller, step)
    after = step.after
    if after.state is not ChangeState.APPROVED:
        got = len(after.approvals)
        return ChangeActed(
            change_id,
            "approve",
            ActionOutcome.DONE,
            f"Approved {change_id} ({got} of {after.policy.approvals} approvals)",
            after,
        )
    applied = apply(ledger, change_id, after.cluster)
    return ChangeActed(change_id, "approve", ActionOutcome.DONE, applied_message(applied), applied)


def reject(ledger: Ledger, change_id: str, caller: Caller, reason: str = "") -> ChangeActed:
    """Approvers reject a proposal; its requester may withdraw it the same way."""
    change = ledger.records.find(change_id)
    if change is None:
        return unknown(change_id, "reject")
    allowed = caller.user_id == change.requester or may_approve(
        change.policy, caller.user_id, caller.role, ledger.kit.hooks.members
    )
    now = ledger.clock.now()
    step = ledger.move(change, lambda c: reject_step(c, caller.user_id, allowed, now, reason))
    if isinstance(step, Refusal):
        return ledger.refused(change, "reject", caller, step)
    return ChangeActed(
        change_id,
        "reject",
        ActionOutcome.DONE,
        f"Rejected {change_id}; nothing applied",
        step.after,
    )


def expire(ledger: Ledger, change: Change, now: float) -> Change | None:
    """The change as expired when its time is up (now or earlier), else None."""
    step = ledger.move(change, lambda c: expire_if_due(c, now) or noop())
    if isinstance(step, Refusal):
        return change if change.state is ChangeState.EXPIRED else None
    return step.after


def applied_message(change: Change) -> str:
    match change.state:
        case ChangeState.VERIFYING:
            return f"Approved and applied {change.id}; watching the bake window now"
        case ChangeState.VERIFIED:
            return f"Approved and applied {change.id}"
        case ChangeState.FAILED:
            return f"Approved {change.id}, but applying it failed: {change.reason}"
        case ChangeState.APPLYING:
            return f"Approved {change.id}; it is being applied ({replica_of(change.applier)})"
    return f"Approved {change.id}; it is {change.state.value}"
