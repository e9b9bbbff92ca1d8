"""Rolling a change back: restore every object it wrote to its `before` snapshot.

Why this exists: a rollback is a write to a live cluster made under pressure (an alert
is firing), so it is held to the same care as an apply. It needs the operator role (or
an approver of the change's policy when the policy says `rollback_needs_approver`),
claims the change atomically (a double click rolls back once), and refuses — writing
nothing — when anyone changed the objects since the change wrote them. A restore that
fails part-way leaves the change failed with the snapshots it could not restore, so a
second rollback can finish the job. It holds the change's work lease like an apply, so
a replica killed mid-rollback is taken over too (commands.changes.takeover).
"""

from __future__ import annotations

from commands.changes.appliers import OBJECT_WRITES, Applier, Found
from commands.changes.applying import work_lease
from commands.changes.diffs import drift
from commands.changes.ledger import Ledger, unknown
from commands.changes.machine import (
    claim_rollback,
    fail,
    may_approve,
    rollback_refused,
    rolled_back,
)
from commands.changes.model import Change, ChangeActed
from commands.changes.writes import Restore
from commands.core.errors import PortError
from commands.core.model import ActionOutcome, Caller, Refusal, Role
from commands.core.ports import Cluster


def rollback(ledger: Ledger, change_id: str, caller: Caller, reason: str = "") -> ChangeActed:
    """Restore what the change wrote; refused, writing nothing, on drift."""
    change = ledger.records.find(change_id)
    if change is None:
        return unknown(change_id, "rollback")
    refusal = may_roll_back(ledger, change, caller)
    if refusal is not None:
        return ledger.refused(change, "rollback", caller, refusal)
    lease = work_lease(ledger, change.id)
    if not lease.take():  # a double click, or an apply or rollback still running
        change = ledger.records.find(change_id) or change
        now = ledger.clock.now()
        busy = claim_rollback(change, caller.user_id, now, reason)
        if not isinstance(busy, Refusal):
            busy = Refusal(f"{change.id} is being worked on right now; look again in a moment")
        return ledger.refused(change, "rollback", caller, busy)
    with lease.kept():
        return _roll_back(ledger, change, caller, reason, lease.token)


def _roll_back(
    ledger: Ledger, change: Change, caller: Caller, reason: str, token: str
) -> ChangeActed:
    now = ledger.clock.now()
    ledger.records.activate(change)  # the sweep retires it again if the claim is refused
    step = ledger.move(change, lambda c: claim_rollback(c, caller.user_id, now, reason, token))
    if isinstance(step, Refusal):
        return ledger.refused(change, "rollback", caller, step)
    change = step.after
    cluster = ledger.services.clusters.get(change.cluster)
    if cluster is None:
        return refused(ledger, change, f"cluster {change.cluster} is not configured", token)
    try:
        drifted = drift_since_written(cluster, change, ledger.kit.hooks.applier(change.kind))
    except PortError as exc:
        return refused(ledger, change, f"could not read the live objects: {exc}", token)
    if drifted:
        return refused(
            ledger,
            change,
            "someone changed the objects since this change wrote them: " + "; ".join(drifted),
            token,
        )
    undone = ledger.kit.hooks.applier(change.kind).undo(cluster, change.snapshots)
    return recorded(ledger, change, undone, owner=token)


def may_roll_back(ledger: Ledger, change: Change, caller: Caller) -> Refusal | None:
    if caller.role is None or caller.role.value < Role.OPERATOR.value:
        return Refusal("rolling back needs the operator role")
    if change.policy.rollback_needs_approver and not may_approve(
        change.policy, caller.user_id, caller.role, ledger.kit.hooks.members
    ):
        return Refusal(f"rolling back {change.kind} changes on {change.cluster} needs an approver")
    return None


def drift_since_written(
    cluster: Cluster, change: Change, applier: Applier = OBJECT_WRITES
) -> list[str]:
    """How each item differs from what the change wrote (empty: untouched since), read
    through the kind's applier: objects, or what else a kind writes (Helm releases)."""
    inspection = applier.inspect(cluster, change.snapshots)
    return [
        line
        for i in inspection.items
        if i.found is not Found.AFTER
        for line in drift(i.item.ref, i.item.after, i.live)
    ]


def recorded(
    ledger: Ledger, change: Change, undone: Restore, *, owner: str | None = None
) -> ChangeActed:
    """rolling back → rolled back, or failed with what could not be restored."""
    now = ledger.clock.now()
    if undone.failed:
        left = tuple(s for s, _ in undone.failed)
        why = f"rollback failed part-way: {undone.describe()}"
        after = ledger.moved_to(
            change,
            lambda c: fail(c, why, now, snapshots=left, event="rollback failed", owner=owner),
        )
        return ChangeActed(change.id, "rollback", ActionOutcome.REFUSED, why, after)
    said = undone.describe() if undone.restored else "everything was already restored"
    after = ledger.moved_to(change, lambda c: rolled_back(c, now, owner, said))
    return ChangeActed(
        change.id, "rollback", ActionOutcome.DONE, f"Rolled back {change.id}: {said}", after
    )


def refused(ledger: Ledger, change: Change, why: str, owner: str | None = None) -> ChangeActed:
    """Back to where the change was before the rollback started; nothing was written."""
    now = ledger.clock.now()
    after = ledger.moved_to(change, lambda c: rollback_refused(c, why, now, owner))
    return ChangeActed(
        change.id,
        "rollback",
        ActionOutcome.REFUSED,
        f"Rollback of {change.id} refused, nothing written: {why}",
        after,
    )
