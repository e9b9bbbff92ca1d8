"""The one way a change record moves, and what every move leaves behind.

No step of the pipeline writes a change record itself: it hands a pure transition from
`commands.changes.machine` to `Ledger.move`, which runs it inside one atomic
`Store.update`, so a double click, a Slack retry or two approvers at the same moment
move a change once. After a move the ledger takes a change that reached an end state
out of the active set and hands every new timeline entry to the notifiers; the entries
reach the cluster's audit stream in the same store transaction as the record, so a
crash never leaves a move unaudited; a refusal someone should know about (an approval that
was not allowed) is audited here too. The change record is the truth; the audit and
the notifiers follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from commands.changes.hooks import ChangeEvent, ChangesKit
from commands.changes.machine import Step
from commands.changes.model import ACTIVE_STATES, Change, ChangeActed
from commands.changes.records import ChangeRecords, change_key
from commands.core.errors import PortError
from commands.core.model import ActionOutcome, Caller, Refusal
from commands.core.ports import JSON, Services


@dataclass(frozen=True)
class Moved:
    before: Change
    after: Change


class Ledger:
    """The records, settings, hooks and clock every step of the pipeline works with."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.kit = services.kit(ChangesKit)
        self.store = services.store
        self.clock = services.clock
        self.records = ChangeRecords(services.store, services.clusters, self.kit.settings)

    def move(
        self, change: Change, transition: Callable[[Change], Step], *, announce: bool = True
    ) -> Moved | Refusal:
        """Run `transition` atomically on the stored record, with its audit entries in the
        same transaction; then tell the notifiers what it added."""
        seen: list[tuple[Change, Step]] = []

        def step(raw: JSON | None) -> JSON | None:
            if raw is None:
                seen[:] = [(change, Refusal(f"{change.id} is no longer stored"))]
                return None
            current = Change.from_json(raw)
            result = transition(current)
            seen[:] = [(current, result)]
            return None if isinstance(result, Refusal) else result.to_json()

        def audit(_new: JSON) -> list[dict[str, str]]:
            before, result = seen[0]
            return audit_entries(before, result) if isinstance(result, Change) else []

        written, _ = self.store.update(
            change_key(change.id),
            step,
            cluster=change.cluster,
            ttl_s=self.kit.settings.retention_s,
            audit=audit,
        )
        before, result = seen[0]
        if isinstance(result, Refusal) or not written:
            return result if isinstance(result, Refusal) else Refusal("not written")
        if result.state not in ACTIVE_STATES and before.state in ACTIVE_STATES:
            self.records.retire(result)
        if announce:
            self.notify(before, result)
        return Moved(before, result)

    def moved_to(
        self, change: Change, transition: Callable[[Change], Step], *, announce: bool = True
    ) -> Change:
        """`move`, answering with the record after it (or `change` when nothing moved)."""
        moved = self.move(change, transition, announce=announce)
        return change if isinstance(moved, Refusal) else moved.after

    def add(self, change: Change) -> None:
        """Store a new change with its audit entries, index it, tell the notifiers."""
        self.records.add(change, audit=audit_entries(None, change))
        self.notify(None, change)

    def notify(self, before: Change | None, after: Change) -> None:
        for entry in after.timeline[len(before.timeline) if before else 0 :]:
            self._notify(ChangeEvent(after, entry.event, entry.actor, entry.detail))

    def refused(self, change: Change, action: str, caller: Caller, refusal: Refusal) -> ChangeActed:
        """Answer a refused action; a real refusal (not a harmless repeat) is audited."""
        if refusal.outcome is ActionOutcome.REFUSED:
            self.store.append_audit(
                change.cluster,
                {
                    "change": change.id,
                    "kind": change.kind,
                    "event": action,
                    "state": change.state.value,
                    "actor": caller.user_id,
                    "at": when(self.clock.now()),
                    "cluster": change.cluster,
                    "result": "refused",
                    "detail": refusal.message[:1000],
                },
            )
        current = self.records.find(change.id) or change
        return ChangeActed(change.id, action, refusal.outcome, refusal.message, current)

    def _notify(self, event: ChangeEvent) -> None:
        for notifier in self.kit.hooks.notifiers:
            try:
                notifier.change_event(event)
            except PortError:
                continue  # the record is the truth; a notifier that failed already logged it


def audit_entries(before: Change | None, after: Change) -> list[dict[str, str]]:
    """One audit entry per timeline entry a move added."""
    return [
        {
            "change": after.id,
            "kind": after.kind,
            "event": entry.event,
            "state": entry.state.value,
            "actor": entry.actor,
            "at": when(entry.at),
            "cluster": after.cluster,
            "result": "ok",
            "detail": entry.detail[:1000],
        }
        for entry in after.timeline[len(before.timeline) if before else 0 :]
    ]


def noop() -> Refusal:
    """A transition that had nothing to do (already expired, superseded…)."""
    return Refusal("nothing to do", ActionOutcome.NOOP)


def unknown(change_id: str, action: str) -> ChangeActed:
    return ChangeActed(
        change_id,
        action,
        ActionOutcome.REFUSED,
        f"there is no change `{change_id}` (it may be past retention); see `/mesh history`",
    )


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
