"""The change pipeline: propose → approve → apply → verify → (rollback), over the ports.

Capabilities build a `Proposal` and call `Pipeline.propose`; everything after that is
the same for every kind of change, which is the point: one place does the dry runs,
the approval policy, the drift check, the guarded writes, the undo of a half-finished
apply, the bake window and the rollback, and one place writes the audit stream.

Each state change is one atomic `Store.update` running a pure transition from
`commands.changes.machine`, so a double click, a Slack retry or two approvers at the same
moment move the change once; whoever's update moved approved → applying is the only
one that writes to the cluster. The change record (with its timeline) is the source of
truth; every new timeline entry is then appended to the audit stream and handed to the
notifiers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from commands.changes.diffs import change_diff, drift, same_object
from commands.changes.hooks import ChangeEvent, ChangesKit, Verdict, VerdictOutcome
from commands.changes.machine import (
    Refusal,
    Step,
    approve,
    attach_message,
    claim_apply,
    claim_rollback,
    claim_verify,
    expire_if_due,
    fail,
    hold,
    may_approve,
    new_change_id,
    policy_for,
    record_applied,
    reject,
    rollback_refused,
    rolled_back,
    supersede,
    verified,
)
from commands.changes.model import (
    ACTIVE_STATES,
    ActionOutcome,
    Change,
    ChangeActed,
    ChangeProposed,
    ChangeState,
    History,
    HistoryRow,
    ObjectChange,
    Proposal,
    Snapshot,
)
from commands.changes.writes import Restore, dry_run, make_it, restore
from commands.core.errors import PortError, StoreUnavailable
from commands.core.model import Caller, Failure, Result, Role, Text
from commands.core.ports import JSON, Cluster, Services

INDEX_KEY = "changes:index"
ACTIVE_KEY = "changes:active"


def change_key(change_id: str) -> str:
    return f"change:{change_id}"


@dataclass(frozen=True)
class _Moved:
    before: Change
    after: Change


class Pipeline:
    """One pipeline per call, over a runtime's `Services` (cheap to build)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.kit = services.kit(ChangesKit)
        self.store = services.store
        self.clock = services.clock

    # ---- reading ---------------------------------------------------------------------------

    def find(self, change_id: str) -> Change | None:
        """The change with this id in any configured cluster."""
        for cluster in sorted(self.services.clusters):
            raw = self.store.get(change_key(change_id), cluster=cluster)
            if raw is not None:
                return Change.from_json(raw)
        return None

    def history(self, cluster: str | None = None, limit: int = 20) -> History:
        clusters = [cluster] if cluster else sorted(self.services.clusters)
        rows: list[HistoryRow] = []
        for name in clusters:
            for change_id in (self.store.get(INDEX_KEY, cluster=name) or [])[:limit]:
                raw = self.store.get(change_key(change_id), cluster=name)
                if raw is None:
                    continue  # past retention
                c = Change.from_json(raw)
                rows.append(
                    HistoryRow(c.id, c.kind, c.cluster, c.state, c.title, c.requester, c.created_at)
                )
        rows.sort(key=lambda r: r.created_at, reverse=True)
        return History(tuple(rows[:limit]), cluster, limit)

    def active(self, cluster: str) -> list[Change]:
        found = []
        for change_id in self.store.get(ACTIVE_KEY, cluster=cluster) or []:
            raw = self.store.get(change_key(change_id), cluster=cluster)
            if raw is not None:
                found.append(Change.from_json(raw))
        return found

    # ---- propose ---------------------------------------------------------------------------

    def propose(self, proposal: Proposal, requester: Caller) -> Result:
        """Read the live objects, dry-run the writes, store and announce the change.

        Nothing is stored when the server refuses the dry run or nothing would change."""
        cluster = self.services.clusters.get(proposal.cluster)
        if cluster is None:
            return Failure(f"no cluster named `{proposal.cluster}` is configured")
        lives = [cluster.get_object(o.ref) for o in proposal.objects]
        objects = tuple(
            ObjectChange(o.ref, o.desired, live)
            for o, live in zip(proposal.objects, lives, strict=True)
        )
        if all(same_object(o.desired, o.observed) for o in objects):
            return Text(f"Nothing to change: {proposal.title} is already in place")
        problems = dry_run(cluster, objects, lives)
        if problems:
            return Failure(
                "The API server's dry run refused this change, so nothing was proposed: "
                + "; ".join(problems)
            )
        settings = self.kit.settings
        policy = policy_for(settings.rules, settings.default_policy, proposal.kind, cluster.name)
        now = self.clock.now()
        change = Change(
            id=new_change_id(),
            kind=proposal.kind,
            cluster=proposal.cluster,
            title=proposal.title,
            requester=requester.user_id,
            created_at=now,
            expires_at=now + policy.expiry_s,
            state=ChangeState.PROPOSED,
            objects=objects,
            diff=change_diff(objects),
            gates=proposal.gates,
            risks=proposal.risks,
            policy=policy,
            summary=proposal.summary,
            verify=proposal.verify,
        ).with_event(ChangeState.PROPOSED, "proposed", requester.user_id, now, proposal.title)
        self.store.put(
            change_key(change.id),
            change.to_json(),
            cluster=change.cluster,
            ttl_s=settings.retention_s,
        )
        self._index(change)
        self._announce(None, change)
        self._supersede_older(change, now)
        return ChangeProposed(change)

    def _index(self, change: Change) -> None:
        size = self.kit.settings.index_size

        def add_newest(ids: JSON | None) -> JSON:
            return [change.id, *[i for i in (ids or []) if i != change.id]][:size]

        def add_active(ids: JSON | None) -> JSON:
            return [*(ids or []), change.id]

        self.store.update(INDEX_KEY, add_newest, cluster=change.cluster)
        self.store.update(ACTIVE_KEY, add_active, cluster=change.cluster)

    def _supersede_older(self, newer: Change, now: float) -> None:
        refs = {o.ref for o in newer.objects}
        for older in self.active(newer.cluster):
            if older.id != newer.id and refs & {o.ref for o in older.objects}:
                self._move(older, lambda c: supersede(c, newer.id, now) or _noop())

    def attach_message(self, change: Change, channel: str, ts: str) -> None:
        """Remember where the proposal was posted, so later steps edit it in place."""
        self._move(change, lambda c: attach_message(c, channel, ts), announce=False)

    # ---- approve / reject ------------------------------------------------------------------

    def approve(self, change_id: str, caller: Caller, override: str | None = None) -> ChangeActed:
        """Record an approval; the last one needed applies the change (and returns after)."""
        change = self.find(change_id)
        if change is None:
            return _unknown(change_id, "approve")
        now = self.clock.now()
        expired = self._expire(change, now)
        if expired is not None:
            return ChangeActed(
                change_id,
                "approve",
                ActionOutcome.REFUSED,
                f"{change_id} expired at {_when(change.expires_at)} without enough approvals; "
                "nothing was applied. Propose it again.",
                expired,
            )
        eligible = may_approve(change.policy, caller.user_id, caller.role, self.kit.hooks.members)
        step = self._move(change, lambda c: approve(c, caller.user_id, eligible, now, override))
        if isinstance(step, Refusal):
            return self._refused(change, "approve", caller, step)
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
        applied = self.apply(change_id, after.cluster)
        return ChangeActed(
            change_id, "approve", ActionOutcome.DONE, _apply_message(applied), applied
        )

    def reject(self, change_id: str, caller: Caller, reason: str = "") -> ChangeActed:
        change = self.find(change_id)
        if change is None:
            return _unknown(change_id, "reject")
        allowed = caller.user_id == change.requester or may_approve(
            change.policy, caller.user_id, caller.role, self.kit.hooks.members
        )
        now = self.clock.now()
        step = self._move(change, lambda c: reject(c, caller.user_id, allowed, now, reason))
        if isinstance(step, Refusal):
            return self._refused(change, "reject", caller, step)
        return ChangeActed(
            change_id,
            "reject",
            ActionOutcome.DONE,
            f"Rejected {change_id}; nothing applied",
            step.after,
        )

    def _expire(self, change: Change, now: float) -> Change | None:
        step = self._move(change, lambda c: expire_if_due(c, now) or _noop())
        if isinstance(step, Refusal):
            return change if change.state is ChangeState.EXPIRED else None
        return step.after

    # ---- apply -----------------------------------------------------------------------------

    def apply(self, change_id: str, cluster_name: str) -> Change:
        """approved → applying → applied → verifying (or failed). Only the caller whose
        update claimed `applying` writes; anyone else gets the change as it stands."""
        raw = self.store.get(change_key(change_id), cluster=cluster_name)
        if raw is None:
            raise StoreUnavailable(f"change {change_id} vanished from the store")
        claimed = self._move(Change.from_json(raw), lambda c: claim_apply(c, self.clock.now()))
        if isinstance(claimed, Refusal):
            return Change.from_json(self.store.get(change_key(change_id), cluster=cluster_name))
        change = claimed.after
        cluster = self.services.clusters.get(change.cluster)
        if cluster is None:
            return self._fail(change, f"cluster {change.cluster} is no longer configured")
        try:
            lives = [cluster.get_object(o.ref) for o in change.objects]
        except PortError as exc:
            return self._fail(change, f"could not read the live objects, nothing written: {exc}")
        drifted = [
            line
            for o, live in zip(change.objects, lives, strict=True)
            for line in drift(o.ref, o.observed, live)
        ]
        if drifted:
            return self._fail(
                change,
                "refused as drift: the objects changed since the proposal, nothing written: "
                + "; ".join(drifted),
            )
        problems = dry_run(cluster, change.objects, lives)
        if problems:
            return self._fail(change, "dry run refused, nothing written: " + "; ".join(problems))
        written: list[Snapshot] = []
        for o, live in zip(change.objects, lives, strict=True):
            try:
                after = make_it(cluster, o.ref, live, o.desired, dry_run=False)
            except PortError as exc:
                undone = restore(cluster, tuple(written))
                return self._fail(
                    change,
                    f"writing {o.ref.label} failed: {exc}. Undo: {undone.describe()}",
                    snapshots=tuple(s for s, _ in undone.failed),
                )
            written.append(Snapshot(o.ref, live, after))
        return self._record_applied(change, cluster, tuple(written))

    def _record_applied(
        self, change: Change, cluster: Cluster, written: tuple[Snapshot, ...]
    ) -> Change:
        verifier = self.kit.hooks.verifiers.get(change.kind)
        now = self.clock.now()
        verify_at = None if verifier is None else now + verifier.bake_seconds(change)
        try:
            step = self._move(change, lambda c: record_applied(c, written, now, verify_at))
        except StoreUnavailable as exc:
            undone = restore(cluster, written)
            raise StoreUnavailable(
                f"{exc}; the change could not be recorded, so its writes were undone "
                f"({undone.describe()})"
            ) from exc
        return change if isinstance(step, Refusal) else step.after

    def _fail(
        self, change: Change, reason: str, snapshots: tuple[Snapshot, ...] | None = None
    ) -> Change:
        now = self.clock.now()
        step = self._move(change, lambda c: fail(c, reason, now, snapshots=snapshots))
        return change if isinstance(step, Refusal) else step.after

    # ---- verify (bake window) --------------------------------------------------------------

    def run_due(self) -> int:
        """Expire stale proposals and run due bake checks in every cluster; returns how many
        changes moved. Called on a timer by the runtime (bot.changes.sweeper)."""
        moved = 0
        for cluster in sorted(self.services.clusters):
            for change in self.active(cluster):
                now = self.clock.now()
                if change.state is ChangeState.PROPOSED:
                    moved += self._expire(change, now) is not None
                elif change.state is ChangeState.VERIFYING:
                    moved += self._verify_if_due(change, now)
        return moved

    def _verify_if_due(self, change: Change, now: float) -> bool:
        lease = self.kit.settings.verify_lease_s
        claimed = self._move(change, lambda c: claim_verify(c, now, lease), announce=False)
        if isinstance(claimed, Refusal):
            return False
        change = claimed.after
        verifier = self.kit.hooks.verifiers.get(change.kind)
        if verifier is None:
            verdict = Verdict(VerdictOutcome.PASS, ("no verifier for this kind",))
        else:
            try:
                verdict = verifier.verify(change, self.services, now)
            except PortError as exc:
                verdict = Verdict(VerdictOutcome.HOLD, (f"cannot judge: {exc}",))
        if verdict.outcome is VerdictOutcome.PASS:
            self._move(change, lambda c: verified(c, verdict.lines, now))
        elif verdict.outcome is VerdictOutcome.BREACH:
            reason = "bake window breach: " + "; ".join(verdict.lines)
            self._move(change, lambda c: fail(c, reason, now, event="breach"))
        else:
            self._hold(change, verdict, now)
        return True

    def _hold(self, change: Change, verdict: Verdict, now: float) -> None:
        settings = self.kit.settings
        started = change.applied_at or now
        retry_at: float | None = now + settings.hold_retry_s
        if now - started >= settings.max_hold_s:
            retry_at = None  # give up looking; stays held until someone decides
        last = change.timeline[-1] if change.timeline else None
        if last is not None and last.event == "hold" and retry_at is not None:
            # already said we are holding; look again later without repeating ourselves
            self._move(change, lambda c: replace(c, verify_at=retry_at), announce=False)
            return
        self._move(change, lambda c: hold(c, verdict.lines, now, retry_at))

    # ---- rollback --------------------------------------------------------------------------

    def rollback(self, change_id: str, caller: Caller, reason: str = "") -> ChangeActed:
        """Restore every object the change wrote to its `before` snapshot.

        Needs the operator role (or an approver of the change's policy when the policy
        says `rollback_needs_approver`); refuses, writing nothing, if any object was
        changed by someone else since the change wrote it."""
        change = self.find(change_id)
        if change is None:
            return _unknown(change_id, "rollback")
        if caller.role is None or caller.role.value < Role.OPERATOR.value:
            return self._refused(
                change, "rollback", caller, Refusal("rolling back needs the operator role")
            )
        if change.policy.rollback_needs_approver and not may_approve(
            change.policy, caller.user_id, caller.role, self.kit.hooks.members
        ):
            return self._refused(
                change,
                "rollback",
                caller,
                Refusal(
                    f"rolling back {change.kind} changes on {change.cluster} needs an approver"
                ),
            )
        now = self.clock.now()
        step = self._move(change, lambda c: claim_rollback(c, caller.user_id, now, reason))
        if isinstance(step, Refusal):
            return self._refused(change, "rollback", caller, step)
        change = step.after
        cluster = self.services.clusters.get(change.cluster)
        if cluster is None:
            return self._rollback_refused(change, f"cluster {change.cluster} is not configured")
        try:
            lives = [cluster.get_object(s.ref) for s in change.snapshots]
        except PortError as exc:
            return self._rollback_refused(change, f"could not read the live objects: {exc}")
        drifted = [
            line
            for s, live in zip(change.snapshots, lives, strict=True)
            if not same_object(s.after, live)
            for line in drift(s.ref, s.after, live)
        ]
        if drifted:
            return self._rollback_refused(
                change,
                "someone changed the objects since this change wrote them: " + "; ".join(drifted),
            )
        undone: Restore = restore(cluster, change.snapshots)
        now = self.clock.now()
        if undone.failed:
            left = tuple(s for s, _ in undone.failed)
            why = f"rollback failed part-way: {undone.describe()}"
            moved = self._move(
                change, lambda c: fail(c, why, now, snapshots=left, event="rollback failed")
            )
            after = change if isinstance(moved, Refusal) else moved.after
            return ChangeActed(change_id, "rollback", ActionOutcome.REFUSED, why, after)
        moved = self._move(change, lambda c: rolled_back(c, now))
        after = change if isinstance(moved, Refusal) else moved.after
        return ChangeActed(
            change_id,
            "rollback",
            ActionOutcome.DONE,
            f"Rolled back {change_id}: {undone.describe()}",
            after,
        )

    def _rollback_refused(self, change: Change, why: str) -> ChangeActed:
        now = self.clock.now()
        moved = self._move(change, lambda c: rollback_refused(c, why, now))
        after = change if isinstance(moved, Refusal) else moved.after
        return ChangeActed(
            change.id,
            "rollback",
            ActionOutcome.REFUSED,
            f"Rollback of {change.id} refused, nothing written: {why}",
            after,
        )

    # ---- the one way a change record moves -------------------------------------------------

    def _move(
        self, change: Change, transition: Callable[[Change], Step], *, announce: bool = True
    ) -> _Moved | Refusal:
        """Run `transition` atomically on the stored record; audit and notify what it added."""
        seen: list[tuple[Change, Step]] = []

        def step(raw: JSON | None) -> JSON | None:
            if raw is None:
                seen[:] = [(change, Refusal(f"{change.id} is no longer stored"))]
                return None
            current = Change.from_json(raw)
            result = transition(current)
            seen[:] = [(current, result)]
            return None if isinstance(result, Refusal) else result.to_json()

        written, _ = self.store.update(
            change_key(change.id),
            step,
            cluster=change.cluster,
            ttl_s=self.kit.settings.retention_s,
        )
        before, result = seen[0]
        if isinstance(result, Refusal) or not written:
            return result if isinstance(result, Refusal) else Refusal("not written")
        if result.state not in ACTIVE_STATES and before.state in ACTIVE_STATES:
            self.store.update(
                ACTIVE_KEY,
                lambda ids: [i for i in (ids or []) if i != result.id],
                cluster=result.cluster,
            )
        if announce:
            self._announce(before, result)
        return _Moved(before, result)

    def _announce(self, before: Change | None, after: Change) -> None:
        new_entries = after.timeline[len(before.timeline) if before else 0 :]
        for entry in new_entries:
            self.store.append_audit(
                after.cluster,
                {
                    "change": after.id,
                    "kind": after.kind,
                    "event": entry.event,
                    "state": entry.state.value,
                    "actor": entry.actor,
                    "at": _when(entry.at),
                    "cluster": after.cluster,
                    "result": "ok",
                    "detail": entry.detail[:1000],
                },
            )
            self._notify(ChangeEvent(after, entry.event, entry.actor, entry.detail))

    def _refused(
        self, change: Change, action: str, caller: Caller, refusal: Refusal
    ) -> ChangeActed:
        if refusal.outcome is ActionOutcome.REFUSED:
            self.store.append_audit(
                change.cluster,
                {
                    "change": change.id,
                    "kind": change.kind,
                    "event": action,
                    "state": change.state.value,
                    "actor": caller.user_id,
                    "at": _when(self.clock.now()),
                    "cluster": change.cluster,
                    "result": "refused",
                    "detail": refusal.message[:1000],
                },
            )
        current = self.find(change.id) or change
        return ChangeActed(change.id, action, refusal.outcome, refusal.message, current)

    def _notify(self, event: ChangeEvent) -> None:
        for notifier in self.kit.hooks.notifiers:
            try:
                notifier.change_event(event)
            except PortError:
                continue  # the record is the truth; a notifier that failed already logged it


def _noop() -> Refusal:
    return Refusal("nothing to do", ActionOutcome.NOOP)


def _unknown(change_id: str, action: str) -> ChangeActed:
    return ChangeActed(
        change_id,
        action,
        ActionOutcome.REFUSED,
        f"there is no change `{change_id}` (it may be past retention); see `/mesh history`",
    )


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _apply_message(change: Change) -> str:
    match change.state:
        case ChangeState.VERIFYING:
            return f"Approved and applied {change.id}; watching the bake window now"
        case ChangeState.VERIFIED:
            return f"Approved and applied {change.id}"
        case ChangeState.FAILED:
            return f"Approved {change.id}, but applying it failed: {change.reason}"
    return f"Approved {change.id}; it is {change.state.value}"


def describe_time(at: float) -> str:
    return _when(at)
