"""Taking over the work of a replica that stopped, and telling the truth about it.

Why this exists: a replica killed while it applied (or rolled back) a change leaves the
record in `applying` (or `rolling back`) and maybe some of the writes in the cluster.
Nobody may guess. When the change's work lease has expired, the sweep of a live
replica (commands.changes.due) takes the lease, re-reads the live objects through the
kind's `Applier.inspect` and compares them with the plan stored before the first write:

- every item as before or as planned: finish the work (write what is missing, record
  it, go on to the bake window) — finishing is what was approved, and guesses nothing;
- some item is neither (someone changed it, or a write went half-way), or finishing
  fails: the change becomes `interrupted`, with what was and was not written, and a
  Rollback that restores the `before` of what was written. Nothing is undone without a
  person deciding: the takeover may run long after the approval, with nobody watching.

Each step is a move in the record (audited, and said in the Slack thread). A change
approved whose apply never started (the approving replica died in between) is applied
once its approval is older than the lease. A cluster that cannot be read is said once
and tried again on the next sweep.
"""

from __future__ import annotations

from commands.changes.appliers import Inspection
from commands.changes.applying import carry_out, claim, failed, record, work_lease
from commands.changes.lease import WorkLease
from commands.changes.ledger import Ledger
from commands.changes.machine import (
    fail,
    interrupt,
    note,
    replica_of,
    rollback_refused,
    take_over,
)
from commands.changes.model import Change, ChangeState, Snapshot
from commands.changes.rolling_back import recorded
from commands.core.errors import PortError
from commands.core.model import Refusal

S = ChangeState


def take_over_if_abandoned(ledger: Ledger, change: Change, now: float) -> bool:
    """Take over `change` when the replica working on it is gone; True when it moved."""
    if change.state is S.APPROVED:
        approved_at = change.timeline[-1].at if change.timeline else change.created_at
        if now - approved_at < ledger.kit.settings.apply_lease_s:
            return False  # the approving replica is about to claim it
    elif change.state not in (S.APPLYING, S.ROLLING_BACK):
        return False
    lease = work_lease(ledger, change.id)
    if ledger.services.lease.holder(lease.name) is not None or not lease.take():
        return False  # still being worked on
    with lease.kept():
        if change.state is S.APPROVED:
            return _apply_approved(ledger, change, lease)
        if change.state is S.APPLYING:
            return _resume_apply(ledger, change, lease)
        return _resume_rollback(ledger, change, lease)


def _apply_approved(ledger: Ledger, change: Change, lease: WorkLease) -> bool:
    me = ledger.services.replica_id
    detail = f"approved, but the replica that was to apply it stopped first; {me} applies it"
    claimed = claim(ledger, change.id, change.cluster, lease.token, detail)
    if isinstance(claimed, Refusal):
        return False
    carry_out(ledger, claimed, lease.token)
    return True


def _resume_apply(ledger: Ledger, change: Change, lease: WorkLease) -> bool:
    me, gone = ledger.services.replica_id, replica_of(change.applier)
    stopped = f"{gone} stopped while applying (its lease expired)"
    cluster = ledger.services.clusters.get(change.cluster)
    if cluster is None:
        taken = _take(ledger, change, lease, stopped)
        why = f"{stopped}; cluster {change.cluster} is no longer configured, so what was "
        why += "written cannot be read"
        return taken is not None and bool(failed(ledger, taken, why, owner=lease.token))
    if not change.plan and change.applier is not None:
        # the plan is stored before the first write: without one, nothing was written
        taken = _take(ledger, change, lease, f"{stopped} before writing anything; {me} applies it")
        return taken is not None and bool(carry_out(ledger, taken, lease.token))
    plan = change.plan or tuple(Snapshot(o.ref, o.observed, o.desired) for o in change.objects)
    applier = ledger.kit.hooks.applier(change.kind)
    try:
        inspection = applier.inspect(cluster, plan)
    except PortError as exc:
        _waiting(ledger, change, f"{stopped}; cannot read the cluster to see what it wrote: {exc}")
        return False
    taken = _take(
        ledger, change, lease, f"{stopped}; {me} re-read the live objects: {inspection.describe()}"
    )
    if taken is None:
        return False
    if inspection.resumable:
        outcome = applier.write(cluster, taken, plan)
        if outcome.failure is None:
            before = len(inspection.written)
            detail = (
                f"{len(outcome.snapshots)} object(s) in place: {before} written before {gone} "
                f"stopped, {len(outcome.snapshots) - before} now by {me}"
            )
            record(ledger, taken, outcome.snapshots, token=lease.token, detail=detail)
            return True
        why = f"{stopped}; {me} could not finish it: {outcome.failure}"
        _interrupted(ledger, taken, lease, plan, outcome.snapshots, inspection, why)
        return True
    written = tuple(i.as_found() for i in inspection.written)
    why = f"{stopped}, and not every object is as it left it"
    _interrupted(ledger, taken, lease, plan, written, inspection, why)
    return True


def _interrupted(
    ledger: Ledger,
    change: Change,
    lease: WorkLease,
    plan: tuple[Snapshot, ...],
    written: tuple[Snapshot, ...],
    inspection: Inspection,
    why: str,
) -> None:
    """interrupted with exactly what is and is not in the cluster; failed when nothing is."""
    done = {s.ref for s in written}
    other = {i.item.ref for i in inspection.other}
    parts = [why]
    if written:
        parts.append("written: " + ", ".join(s.ref.label for s in written))
    unwritten = [s.ref.label for s in plan if s.ref not in done and s.ref not in other]
    if unwritten:
        parts.append("not written: " + ", ".join(unwritten))
    if other:
        labels = ", ".join(i.label for i in inspection.other)
        parts.append(f"neither as before nor as planned, left alone: {labels}")
    now = ledger.clock.now()
    if not written:
        reason = "; ".join([*parts, "nothing of it is in the cluster"])
        ledger.move(change, lambda c: fail(c, reason, now, owner=lease.token))
        return
    reason = "; ".join([*parts, "Rollback restores what was written"])
    ledger.move(change, lambda c: interrupt(c, lease.token, written, reason, now))


def _resume_rollback(ledger: Ledger, change: Change, lease: WorkLease) -> bool:
    me, gone = ledger.services.replica_id, replica_of(change.applier)
    stopped = f"{gone} stopped while rolling back (its lease expired)"
    cluster = ledger.services.clusters.get(change.cluster)
    applier = ledger.kit.hooks.applier(change.kind)
    if cluster is None:
        _waiting(ledger, change, f"{stopped}; cluster {change.cluster} is no longer configured")
        return False
    try:
        inspection = applier.inspect(cluster, change.snapshots)
    except PortError as exc:
        _waiting(ledger, change, f"{stopped}; cannot read the cluster: {exc}")
        return False
    # for a rollback the plan runs backwards: "as planned" is what the change wrote
    said = inspection.describe(written="not restored yet", unwritten="restored")
    taken = _take(ledger, change, lease, f"{stopped}; {me} re-read the live objects: {said}")
    if taken is None:
        return False
    pending = tuple(i.item for i in inspection.written)
    if inspection.resumable:
        recorded(ledger, taken, applier.undo(cluster, pending), owner=lease.token)
        return True
    now = ledger.clock.now()
    why = f"{stopped}, and not every object is as the change or the rollback left it: {said}"
    if not inspection.unwritten:  # nothing restored yet: the change stands as it was
        ledger.move(taken, lambda c: rollback_refused(c, why, now, owner=lease.token))
        return True
    ledger.move(
        taken,
        lambda c: fail(c, why, now, snapshots=pending, event="rollback failed", owner=lease.token),
    )
    return True


def _take(ledger: Ledger, change: Change, lease: WorkLease, detail: str) -> Change | None:
    now = ledger.clock.now()
    moved = ledger.move(change, lambda c: take_over(c, change.applier, lease.token, now, detail))
    return None if isinstance(moved, Refusal) else moved.after


def _waiting(ledger: Ledger, change: Change, detail: str) -> None:
    now = ledger.clock.now()
    ledger.move(change, lambda c: note(c, "takeover waiting", detail + ". Trying again", now))
