"""Writing a change's objects to a cluster, and putting them back, with preconditions.

Apply and rollback are the same operation in opposite directions: make each object
look like a target, where the target may be "absent". Every write carries the
resourceVersion of the object we just read (create has nothing to carry: it fails if
the object appeared meanwhile), so a concurrent edit turns into a 409 instead of being
overwritten. A write that fails part-way is undone in reverse order from what was
written, so the cluster is never left half-changed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from commands.changes.diffs import SERVER_OWNED_METADATA
from commands.changes.model import ObjectChange, ObjectRef, Snapshot
from commands.core import deadline
from commands.core.errors import PortError
from commands.core.ports import Cluster

JSON = Any


def writable(obj: JSON, resource_version: str | None = None) -> JSON:
    """A copy fit to send: no status or server-owned metadata, our precondition if any."""
    body = copy.deepcopy(obj)
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    for key in SERVER_OWNED_METADATA:
        meta.pop(key, None)
    if resource_version:
        meta["resourceVersion"] = resource_version
    return body


def resource_version(obj: JSON | None) -> str | None:
    if obj is None:
        return None
    value = (obj.get("metadata") or {}).get("resourceVersion")
    return str(value) if value else None


def make_it(
    cluster: Cluster, ref: ObjectRef, live: JSON | None, target: JSON | None, *, dry_run: bool
) -> JSON | None:
    """Turn `live` into `target` (None: absent). Returns the object as written (None if
    absent afterwards). Raises the port's errors; writes nothing when the target is live."""
    if target is None:
        if live is not None:
            cluster.delete_object(ref, resource_version=resource_version(live), dry_run=dry_run)
        return None
    if live is None:
        result: JSON = cluster.create_object(ref, writable(target), dry_run=dry_run)
        return result
    replaced: JSON = cluster.replace_object(
        ref, writable(target, resource_version(live)), dry_run=dry_run
    )
    return replaced


def dry_run(
    cluster: Cluster, objects: tuple[ObjectChange, ...], lives: list[JSON | None]
) -> list[str]:
    """The server's objections to each write, as lines; empty when all would succeed."""
    return dry_run_each(cluster, objects, lives)[1]


def dry_run_each(
    cluster: Cluster, objects: tuple[ObjectChange, ...], lives: list[JSON | None]
) -> tuple[list[JSON | None], list[str]]:
    """Each object as the server would write it (its defaults filled in; None: absent),
    and the server's objections as lines (empty when every write would succeed)."""
    answers: list[JSON | None] = []
    problems: list[str] = []
    for change, live in zip(objects, lives, strict=True):
        try:
            answers.append(make_it(cluster, change.ref, live, change.desired, dry_run=True))
        except PortError as exc:
            answers.append(None)
            problems.append(f"{change.ref.label}: {exc}")
    return answers, problems


@dataclass(frozen=True)
class Restore:
    """What undoing some writes achieved: restored labels, and those that failed."""

    restored: tuple[str, ...]
    failed: tuple[tuple[Snapshot, str], ...]

    def describe(self) -> str:
        parts = []
        if self.restored:
            parts.append("restored " + ", ".join(self.restored))
        if self.failed:
            parts.append(
                "could NOT restore " + "; ".join(f"{s.ref.label} ({why})" for s, why in self.failed)
            )
        return "; ".join(parts) or "nothing had been written"


def restore(cluster: Cluster, snapshots: tuple[Snapshot, ...]) -> Restore:
    """Put each snapshot's `before` back, newest write first, over whatever is live now
    (callers check drift first where it matters: rollback does, undoing our own
    half-finished apply need not)."""
    restored: list[str] = []
    failed: list[tuple[Snapshot, str]] = []
    with deadline.suspended():  # a command's deadline never cuts a restore short
        for snap in reversed(snapshots):
            try:
                live = cluster.get_object(snap.ref)
                make_it(cluster, snap.ref, live, snap.before, dry_run=False)
                restored.append(snap.ref.label)
            except PortError as exc:
                failed.append((snap, str(exc)))
    return Restore(tuple(restored), tuple(failed))
