"""Applying an approved change: claim it once, write under guard, record what happened.

Why this exists: apply is where "never twice, never half" is won. Exactly one caller's
atomic move takes approved → applying, and only that caller writes. The writing itself
is an *applier*; every change kind today uses `ObjectWrites`: re-read the live objects,
refuse on drift since the proposal or on a refused dry run, write each object with its
resourceVersion as a precondition, and undo what was written when a later write fails.
Recording `applied` can fail too (Redis down); then the applier undoes the writes, so
the cluster never holds a change its records do not know about.

The three steps (claim, write, record) are separate so that a change kind applied by
something other than object writes brings its own applier with the same claim and
recording, and so that a replica can take over a change another left in `applying`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from commands.changes.diffs import drift
from commands.changes.ledger import Ledger
from commands.changes.machine import claim_apply, fail, record_applied
from commands.changes.model import Change, Snapshot
from commands.changes.writes import Restore, dry_run, make_it, restore
from commands.core.errors import PortError, StoreUnavailable
from commands.core.model import Refusal
from commands.core.ports import Cluster


@dataclass(frozen=True)
class ApplyOutcome:
    """What an applier did: every write (before and after), or why it stopped.

    On failure `left` holds the writes it could not undo (the change keeps them so a
    rollback can still restore them); None when nothing had been written."""

    snapshots: tuple[Snapshot, ...] = ()
    failure: str | None = None
    left: tuple[Snapshot, ...] | None = None


class Applier(Protocol):
    def write(self, cluster: Cluster, change: Change) -> ApplyOutcome: ...

    def undo(self, cluster: Cluster, snapshots: tuple[Snapshot, ...]) -> Restore: ...


class ObjectWrites:
    """The applier of every change kind today: guarded object writes, undone on failure."""

    def write(self, cluster: Cluster, change: Change) -> ApplyOutcome:
        try:
            lives = [cluster.get_object(o.ref) for o in change.objects]
        except PortError as exc:
            return ApplyOutcome(failure=f"could not read the live objects, nothing written: {exc}")
        drifted = [
            line
            for o, live in zip(change.objects, lives, strict=True)
            for line in drift(o.ref, o.observed, live)
        ]
        if drifted:
            return ApplyOutcome(
                failure="refused as drift: the objects changed since the proposal, "
                "nothing written: " + "; ".join(drifted)
            )
        problems = dry_run(cluster, change.objects, lives)
        if problems:
            return ApplyOutcome(failure="dry run refused, nothing written: " + "; ".join(problems))
        written: list[Snapshot] = []
        for o, live in zip(change.objects, lives, strict=True):
            try:
                after = make_it(cluster, o.ref, live, o.desired, dry_run=False)
            except PortError as exc:
                undone = self.undo(cluster, tuple(written))
                return ApplyOutcome(
                    failure=f"writing {o.ref.label} failed: {exc}. Undo: {undone.describe()}",
                    left=tuple(s for s, _ in undone.failed),
                )
            written.append(Snapshot(o.ref, live, after))
        return ApplyOutcome(tuple(written))

    def undo(self, cluster: Cluster, snapshots: tuple[Snapshot, ...]) -> Restore:
        return restore(cluster, snapshots)


OBJECT_WRITES = ObjectWrites()


def apply(
    ledger: Ledger, change_id: str, cluster_name: str, applier: Applier = OBJECT_WRITES
) -> Change:
    """approved → applying → applied → verifying (or failed). Only the caller whose
    update claimed `applying` writes; anyone else gets the change as it stands."""
    claimed = claim(ledger, change_id, cluster_name)
    if isinstance(claimed, Refusal):
        return current(ledger, change_id, cluster_name)
    cluster = ledger.services.clusters.get(claimed.cluster)
    if cluster is None:
        return failed(ledger, claimed, f"cluster {claimed.cluster} is no longer configured")
    outcome = applier.write(cluster, claimed)
    if outcome.failure is not None:
        return failed(ledger, claimed, outcome.failure, outcome.left)
    return record(ledger, claimed, cluster, outcome.snapshots, applier)


def claim(ledger: Ledger, change_id: str, cluster_name: str) -> Change | Refusal:
    """approved → applying, once: the change as claimed, or why this caller stays out."""
    moved = ledger.move(
        current(ledger, change_id, cluster_name), lambda c: claim_apply(c, ledger.clock.now())
    )
    return moved if isinstance(moved, Refusal) else moved.after


def record(
    ledger: Ledger,
    change: Change,
    cluster: Cluster,
    written: tuple[Snapshot, ...],
    applier: Applier = OBJECT_WRITES,
) -> Change:
    """applying → applied → verifying (verified when the kind has no verifier).

    If the store cannot take the record, the writes are undone before the error goes up."""
    verifier = ledger.kit.hooks.verifiers.get(change.kind)
    now = ledger.clock.now()
    verify_at = None if verifier is None else now + verifier.bake_seconds(change)
    try:
        return ledger.moved_to(change, lambda c: record_applied(c, written, now, verify_at))
    except StoreUnavailable as exc:
        undone = applier.undo(cluster, written)
        raise StoreUnavailable(
            f"{exc}; the change could not be recorded, so its writes were undone "
            f"({undone.describe()})"
        ) from exc


def failed(
    ledger: Ledger, change: Change, reason: str, snapshots: tuple[Snapshot, ...] | None = None
) -> Change:
    now = ledger.clock.now()
    return ledger.moved_to(change, lambda c: fail(c, reason, now, snapshots=snapshots))


def current(ledger: Ledger, change_id: str, cluster_name: str) -> Change:
    change = ledger.records.get(change_id, cluster_name)
    if change is None:
        raise StoreUnavailable(f"change {change_id} vanished from the store")
    return change
