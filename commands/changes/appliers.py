"""How a change reaches the cluster: the `Applier` contract, and `ObjectWrites`.

Why this exists: the pipeline (claim, record, bake, rollback, takeover after a crash)
is the same for every kind of change, but how a kind writes differs — guarded object
writes today, Helm install stages next. An applier answers four questions, and the
pipeline never asks it anything else:

- `plan`: what is live now and what the write will make of it, writing nothing. The
  pipeline stores the plan in the change record *before* the first write, so whatever
  happens next, the record knows what the cluster held before.
- `write`: make every planned item look like its `after`, skipping items that already
  do (a replica taking over resumes with the same call); stop at the first failure and
  undo nothing — the pipeline decides what to undo.
- `inspect`: for some planned items, is each live one still as `before`, already as
  `after`, or neither (someone else changed it, or a write went half-way)?
- `undo`: put items back to their `before`.

`ObjectWrites` is the applier of every kind today: Kubernetes objects, each written
with the resourceVersion just read as a precondition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from commands.changes.diffs import drift, same_object
from commands.changes.model import Change, Snapshot
from commands.changes.writes import Restore, dry_run_each, make_it, restore
from commands.core.errors import PortError
from commands.core.ports import Cluster


@dataclass(frozen=True)
class Plan:
    """Each item as it is live now (`before`) and as the write will make it (`after`,
    None: absent), or why nothing can be written (`refused`: drift, a refused dry run)."""

    items: tuple[Snapshot, ...] = ()
    refused: str | None = None


@dataclass(frozen=True)
class ApplyOutcome:
    """What a write did: every item now as planned (`before`, and `after` as written), or
    `failure` with the items written before it stopped."""

    snapshots: tuple[Snapshot, ...] = ()
    failure: str | None = None


class Found(Enum):
    BEFORE = "not written"
    AFTER = "written"
    OTHER = "neither as before nor as planned"


@dataclass(frozen=True)
class Inspected:
    """One planned item and what is live for it now."""

    item: Snapshot
    found: Found
    live: object = None

    @property
    def label(self) -> str:
        return self.item.ref.label

    def as_found(self) -> Snapshot:
        """The item with `after` as live now: what a rollback checks before restoring."""
        return Snapshot(self.item.ref, self.item.before, self.live)


@dataclass(frozen=True)
class Inspection:
    items: tuple[Inspected, ...]

    def _with(self, found: Found) -> tuple[Inspected, ...]:
        return tuple(i for i in self.items if i.found is found)

    @property
    def written(self) -> tuple[Inspected, ...]:
        return self._with(Found.AFTER)

    @property
    def unwritten(self) -> tuple[Inspected, ...]:
        return self._with(Found.BEFORE)

    @property
    def other(self) -> tuple[Inspected, ...]:
        return self._with(Found.OTHER)

    @property
    def resumable(self) -> bool:
        """Every item is as before or as planned: finishing the write guesses nothing."""
        return not self.other

    def describe(self, *, written: str = "written", unwritten: str = "not written") -> str:
        parts = []
        for name, items in ((written, self.written), (unwritten, self.unwritten)):
            if items:
                parts.append(f"{name}: " + ", ".join(i.label for i in items))
        if self.other:
            labels = ", ".join(i.label for i in self.other)
            parts.append(f"neither as before nor as planned (changed by someone else?): {labels}")
        return "; ".join(parts) or "nothing planned"


class Applier(Protocol):
    """The contract every change kind's writer keeps (see the module docstring)."""

    def plan(self, cluster: Cluster, change: Change) -> Plan:
        """Read what is live and check the write would be accepted; write nothing."""
        ...

    def write(self, cluster: Cluster, change: Change, plan: tuple[Snapshot, ...]) -> ApplyOutcome:
        """Make each item look like its `after`, skipping those that already do; stop at
        the first failure and undo nothing."""
        ...

    def inspect(self, cluster: Cluster, items: tuple[Snapshot, ...]) -> Inspection:
        """Each item's live state against its `before` and `after`. Raises PortError when
        the cluster cannot be read (a takeover then waits and tries again)."""
        ...

    def undo(self, cluster: Cluster, snapshots: tuple[Snapshot, ...]) -> Restore:
        """Put each item back to its `before`, newest first; say what could not be."""
        ...


class ObjectWrites:
    """Guarded Kubernetes object writes: the applier of every change kind today."""

    def plan(self, cluster: Cluster, change: Change) -> Plan:
        try:
            lives = [cluster.get_object(o.ref) for o in change.objects]
        except PortError as exc:
            return Plan(refused=f"could not read the live objects, nothing written: {exc}")
        drifted = [
            line
            for o, live in zip(change.objects, lives, strict=True)
            for line in drift(o.ref, o.observed, live)
        ]
        if drifted:
            return Plan(
                refused="refused as drift: the objects changed since the proposal, "
                "nothing written: " + "; ".join(drifted)
            )
        afters, problems = dry_run_each(cluster, change.objects, lives)
        if problems:
            return Plan(refused="dry run refused, nothing written: " + "; ".join(problems))
        items = tuple(
            Snapshot(o.ref, live, after)
            for o, live, after in zip(change.objects, lives, afters, strict=True)
        )
        return Plan(items)

    def write(self, cluster: Cluster, change: Change, plan: tuple[Snapshot, ...]) -> ApplyOutcome:
        desired = {o.ref: o.desired for o in change.objects}
        written: list[Snapshot] = []
        for item in plan:
            try:
                live = cluster.get_object(item.ref)
                if _is_after(item, live):
                    written.append(Snapshot(item.ref, item.before, live))
                    continue
                if not same_object(item.before, live):
                    moved = "; ".join(drift(item.ref, item.before, live))
                    return ApplyOutcome(
                        tuple(written), f"{item.ref.label} changed since apply began: {moved}"
                    )
                after = make_it(cluster, item.ref, live, desired[item.ref], dry_run=False)
            except PortError as exc:
                return ApplyOutcome(tuple(written), f"writing {item.ref.label} failed: {exc}")
            written.append(Snapshot(item.ref, item.before, after))
        return ApplyOutcome(tuple(written))

    def inspect(self, cluster: Cluster, items: tuple[Snapshot, ...]) -> Inspection:
        found = []
        for item in items:
            live = cluster.get_object(item.ref)
            if _is_after(item, live):
                found.append(Inspected(item, Found.AFTER, live))
            elif same_object(item.before, live):
                found.append(Inspected(item, Found.BEFORE, live))
            else:
                found.append(Inspected(item, Found.OTHER, live))
        return Inspection(tuple(found))

    def undo(self, cluster: Cluster, snapshots: tuple[Snapshot, ...]) -> Restore:
        return restore(cluster, snapshots)


def _is_after(item: Snapshot, live: object) -> bool:
    """Live is what the write makes: absent for a delete, else the planned object (the
    server's dry-run answer, so its defaults count) without server-owned fields."""
    if item.after is None:
        return live is None
    return live is not None and same_object(item.after, live)


OBJECT_WRITES = ObjectWrites()
