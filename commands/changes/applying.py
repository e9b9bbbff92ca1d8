"""Applying an approved change: lease, claim once, plan, write under guard, record.

Why this exists: apply is where "never twice, never half" is won. The replica takes the
change's work lease (commands.changes.lease) and keeps renewing it; exactly one
caller's atomic move takes approved → applying, and only that caller writes. Before the
first write the plan — every item as it is and as it will be — is stored in the record,
so a replica killed at any point leaves enough behind for another to tell what was
written (commands.changes.takeover). The writing itself is the kind's `Applier`
(commands.changes.appliers); when a write fails part-way, what was written is undone
and the change is failed with the reason. If the store cannot take the final record,
the writes stay: the record already holds the plan, and the next sweep finishes the
record once the store answers.
"""

from __future__ import annotations

from commands.changes.lease import WorkLease
from commands.changes.ledger import Ledger
from commands.changes.machine import claim_apply, fail, record_applied, store_plan
from commands.changes.model import Change, ChangeState, Snapshot
from commands.core.errors import StoreUnavailable
from commands.core.model import Refusal


def work_lease(ledger: Ledger, change_id: str) -> WorkLease:
    services = ledger.services
    ttl = ledger.kit.settings.apply_lease_s
    return WorkLease(services.lease, change_id, services.replica_id, ttl)


def apply(ledger: Ledger, change_id: str, cluster_name: str) -> Change:
    """approved → applying → applied → verifying (or failed). Only the caller whose
    update claimed `applying` writes; anyone else gets the change as it stands."""
    change = current(ledger, change_id, cluster_name)
    if change.state is not ChangeState.APPROVED:
        return change
    lease = work_lease(ledger, change_id)
    if not lease.take():
        return current(ledger, change_id, cluster_name)  # another replica is on it
    with lease.kept():
        claimed = claim(ledger, change_id, cluster_name, lease.token)
        if isinstance(claimed, Refusal):
            return current(ledger, change_id, cluster_name)
        return carry_out(ledger, claimed, lease.token)


def claim(
    ledger: Ledger, change_id: str, cluster_name: str, token: str | None = None, detail: str = ""
) -> Change | Refusal:
    """approved → applying, once: the change as claimed, or why this caller stays out."""
    now = ledger.clock.now()
    moved = ledger.move(
        current(ledger, change_id, cluster_name), lambda c: claim_apply(c, now, token, detail)
    )
    return moved if isinstance(moved, Refusal) else moved.after


def carry_out(ledger: Ledger, change: Change, token: str | None) -> Change:
    """Plan (stored before any write), write, record: the work of the holder of `token`
    on a change it claimed. A failed write is undone unless the change was taken over."""
    cluster = ledger.services.clusters.get(change.cluster)
    if cluster is None:
        reason = f"cluster {change.cluster} is no longer configured"
        return failed(ledger, change, reason, owner=token)
    applier = ledger.kit.hooks.applier(change.kind)
    plan = applier.plan(cluster, change)
    if plan.refused is not None:
        return failed(ledger, change, plan.refused, owner=token)
    stored = ledger.move(change, lambda c: store_plan(c, token, plan.items), announce=False)
    if isinstance(stored, Refusal):
        return current(ledger, change.id, change.cluster)
    change = stored.after
    outcome = applier.write(cluster, change, change.plan)
    if outcome.failure is None:
        return record(ledger, change, outcome.snapshots, token=token)
    if current(ledger, change.id, change.cluster).applier != change.applier:
        return current(ledger, change.id, change.cluster)  # taken over: its holder decides
    undone = applier.undo(cluster, outcome.snapshots)
    left = tuple(s for s, _ in undone.failed)
    reason = f"{outcome.failure}. Undo: {undone.describe()}"
    return failed(ledger, change, reason, left, owner=token)


def record(
    ledger: Ledger,
    change: Change,
    written: tuple[Snapshot, ...],
    *,
    token: str | None = None,
    detail: str | None = None,
) -> Change:
    """applying → applied → verifying (verified when the kind has no verifier).

    If the store cannot take the record, the writes stay and the error goes up: the
    record holds the plan, so a replica's sweep records the apply once the store answers
    and this replica's lease has expired."""
    verifier = ledger.kit.hooks.verifiers.get(change.kind)
    now = ledger.clock.now()
    verify_at = None if verifier is None else now + verifier.bake_seconds(change)
    try:
        moved = ledger.move(
            change, lambda c: record_applied(c, written, now, verify_at, token, detail)
        )
    except StoreUnavailable as exc:
        raise StoreUnavailable(
            f"{exc}; {change.id} was written to the cluster but could not be recorded. "
            "A replica records it once the store answers again"
        ) from exc
    if isinstance(moved, Refusal):  # taken over meanwhile: the record is the other's
        return current(ledger, change.id, change.cluster)
    return moved.after


def failed(
    ledger: Ledger,
    change: Change,
    reason: str,
    snapshots: tuple[Snapshot, ...] | None = None,
    *,
    owner: str | None = None,
) -> Change:
    now = ledger.clock.now()
    return ledger.moved_to(change, lambda c: fail(c, reason, now, snapshots=snapshots, owner=owner))


def current(ledger: Ledger, change_id: str, cluster_name: str) -> Change:
    change = ledger.records.get(change_id, cluster_name)
    if change is None:
        raise StoreUnavailable(f"change {change_id} vanished from the store")
    return change
