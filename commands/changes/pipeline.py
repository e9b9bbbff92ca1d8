"""The change pipeline: propose → approve → apply → verify → (rollback), over the ports.

Capabilities build a `Proposal` and call `Pipeline.propose`; everything after that is
the same for every kind of change, which is the point: one place does the dry runs, the
approval policy, the drift check, the guarded writes, the undo of a half-finished
apply, the bake window and the rollback, and one place writes the audit stream.

`Pipeline` is the front door the commands, the Slack edge and the sweeper use; each
stage lives in its own module, all moving records through one `Ledger`:

    proposing     read the live objects, dry-run, store, supersede older proposals
    deciding      approve (the last approval applies) / reject / expire
    applying      lease, claim approved → applying once, store the plan, write under
                  guard (the kind's Applier, appliers), record or undo
    due           what the clock makes due (the sweeper): expiry, bake-window verdicts,
                  takeover of work whose replica stopped (takeover, lease)
    rolling_back  restore what a change wrote, refused on drift
    ledger        the one way a record moves: atomic transition, audit, notifiers
    records       where change records, the index and the active set live
"""

from __future__ import annotations

from commands.changes import accepting, applying, deciding, due, proposing, rolling_back
from commands.changes.hooks import ChangesKit
from commands.changes.ledger import Ledger
from commands.changes.machine import attach_message
from commands.changes.model import Change, ChangeActed, History, Proposal
from commands.core.model import Caller, Result
from commands.core.ports import Services


class Pipeline:
    """One pipeline per call, over a runtime's `Services` (cheap to build)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.ledger = Ledger(services)

    @property
    def kit(self) -> ChangesKit:
        """This runtime's pipeline settings and hooks (verifiers, notifiers, directory)."""
        return self.ledger.kit

    # ---- reading -----------------------------------------------------------------------

    def find(self, change_id: str) -> Change | None:
        """The change with this id in any configured cluster."""
        return self.ledger.records.find(change_id)

    def history(self, cluster: str | None = None, limit: int = 20) -> History:
        return self.ledger.records.history(cluster, limit)

    def active(self, cluster: str) -> list[Change]:
        return self.ledger.records.active(cluster)

    # ---- the stages ----------------------------------------------------------------------

    def propose(self, proposal: Proposal, requester: Caller) -> Result:
        """Read the live objects, dry-run the writes, store and announce the change.

        Nothing is stored when the server refuses the dry run or nothing would change."""
        return proposing.propose(self.ledger, proposal, requester)

    def attach_message(self, change: Change, channel: str, ts: str) -> None:
        """Remember where the proposal was posted, so later steps edit it in place."""
        self.ledger.move(change, lambda c: attach_message(c, channel, ts), announce=False)

    def approve(self, change_id: str, caller: Caller, override: str | None = None) -> ChangeActed:
        """Record an approval; the last one needed applies the change (and returns after)."""
        return deciding.approve(self.ledger, change_id, caller, override)

    def reject(self, change_id: str, caller: Caller, reason: str = "") -> ChangeActed:
        return deciding.reject(self.ledger, change_id, caller, reason)

    def accept_hold(self, change_id: str, caller: Caller, reason: str) -> ChangeActed:
        """An approver (never the requester) accepts a bake held for want of data, with a
        reason: verified by override. A breach can never be accepted."""
        return accepting.accept_hold(self.ledger, change_id, caller, reason)

    def apply(self, change_id: str, cluster_name: str) -> Change:
        """approved → applying → applied → verifying (or failed), written once."""
        return applying.apply(self.ledger, change_id, cluster_name)

    def run_due(self) -> int:
        """Expire stale proposals and run due bake checks in every cluster; returns how many
        changes moved. Called on a timer by the runtime (bot.changes.sweeper)."""
        return due.run_due(self.ledger)

    def rollback(self, change_id: str, caller: Caller, reason: str = "") -> ChangeActed:
        """Restore every object the change wrote to its `before` snapshot.

        Needs the operator role (or an approver of the change's policy when the policy
        says `rollback_needs_approver`); refuses, writing nothing, if any object was
        changed by someone else since the change wrote it."""
        return rolling_back.rollback(self.ledger, change_id, caller, reason)
