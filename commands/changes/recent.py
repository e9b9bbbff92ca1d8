"""The change pipeline as the watchers see it: `RecentChanges` and its implementation.

An alert about a service or namespace should name the meshbot changes that recently
touched it and offer to roll them back. This adapter answers that from the pipeline's
own records and starts rollbacks through `Pipeline.rollback`, so a Rollback button on
an alert gets the same drift check, policy and audit as one on the proposal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from commands.changes.machine import ROLLBACK_FROM
from commands.changes.model import Change, ChangeState
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome, Caller
from commands.core.ports import Services


@dataclass(frozen=True)
class ChangeTarget:
    """What an alert is about, to find the meshbot changes that touched it."""

    service: str | None = None
    namespace: str | None = None
    node: str | None = None


@dataclass(frozen=True)
class ChangeRef:
    """A meshbot change that is a likely cause: "mTLS STRICT on payments, by @alice"."""

    id: str
    summary: str
    applied_at: float
    by: str
    can_roll_back: bool = True


@dataclass(frozen=True)
class RollbackOutcome:
    """What starting a rollback did, said plainly (shown in the alert's thread)."""

    started: bool
    message: str


class RecentChanges(Protocol):
    """The change pipeline, as the watchers see it: recent changes, and their rollback."""

    def recent_changes_touching(
        self, cluster: str, target: ChangeTarget, within_s: float
    ) -> Sequence[ChangeRef]:
        """Newest first; only changes that were applied (and not yet rolled back)."""
        ...

    def rollback(self, change_id: str, caller: Caller) -> RollbackOutcome:
        """Roll the change back as `caller` (the pipeline re-checks their permission)."""
        ...


def touches(change: Change, target: ChangeTarget) -> bool:
    """Whether `change` wrote what the alert is about.

    A node alert matches a change to that Node; a service alert matches a change to an
    object named like the service; a namespace matches a change that wrote there, or
    a mesh-wide one (verify scope `*`, e.g. STRICT for the whole mesh).
    """
    refs = [o.ref for o in change.objects]
    if target.node is not None and any(r.kind == "Node" and r.name == target.node for r in refs):
        return True
    if target.service is not None and any(r.name == target.service for r in refs):
        return True
    if target.namespace is not None:
        scope = change.verify.get("namespaces", []) if isinstance(change.verify, dict) else []
        spaces = {r.namespace for r in refs} | set(scope)
        return target.namespace in spaces or "*" in spaces
    return False


class PipelineRecentChanges:
    """Recent changes from the pipeline's records; rollbacks through `Pipeline.rollback`."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def recent_changes_touching(
        self, cluster: str, target: ChangeTarget, within_s: float
    ) -> Sequence[ChangeRef]:
        pipeline = Pipeline(self._services)
        since = self._services.clock.now() - within_s
        found: list[ChangeRef] = []
        for row in pipeline.history(cluster, limit=self._services_limit()).rows:
            if row.state not in ROLLBACK_FROM:
                continue
            change = pipeline.find(row.id)
            if change is None or change.applied_at is None or change.applied_at < since:
                continue
            if touches(change, target):
                found.append(
                    ChangeRef(
                        change.id,
                        change.title,
                        change.applied_at,
                        change.requester,
                        can_roll_back=change.wrote_objects,
                    )
                )
        found.sort(key=lambda r: r.applied_at, reverse=True)
        return found

    def rollback(self, change_id: str, caller: Caller) -> RollbackOutcome:
        acted = Pipeline(self._services).rollback(change_id, caller, "from an alert")
        done = acted.outcome is ActionOutcome.DONE
        if acted.change is not None and acted.change.state is ChangeState.ROLLED_BACK and not done:
            return RollbackOutcome(False, f"{change_id} was already rolled back")
        return RollbackOutcome(done, acted.message)

    def _services_limit(self) -> int:
        return 200
