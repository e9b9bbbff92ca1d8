"""Where change records live: one JSON record per change, plus a newest-first index and
the set of active changes, per cluster.

Why this exists: every step of the pipeline reads changes the same ways (by id in any
cluster, by id in one cluster, the active ones, recent history) and a new change is
indexed in one place, so no step builds a store key by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from commands.changes.hooks import PipelineSettings
from commands.changes.model import Change, History, HistoryRow
from commands.core.ports import JSON, Cluster, Store

INDEX_KEY = "changes:index"
ACTIVE_KEY = "changes:active"


def change_key(change_id: str) -> str:
    return f"change:{change_id}"


class ChangeRecords:
    def __init__(
        self, store: Store, clusters: Mapping[str, Cluster], settings: PipelineSettings
    ) -> None:
        self.store = store
        self.clusters = clusters
        self.settings = settings

    def get(self, change_id: str, cluster: str) -> Change | None:
        raw = self.store.get(change_key(change_id), cluster=cluster)
        return None if raw is None else Change.from_json(raw)

    def find(self, change_id: str) -> Change | None:
        """The change with this id in any configured cluster."""
        for cluster in sorted(self.clusters):
            change = self.get(change_id, cluster)
            if change is not None:
                return change
        return None

    def history(self, cluster: str | None = None, limit: int = 20) -> History:
        clusters = [cluster] if cluster else sorted(self.clusters)
        rows: list[HistoryRow] = []
        for name in clusters:
            for change_id in (self.store.get(INDEX_KEY, cluster=name) or [])[:limit]:
                c = self.get(change_id, name)
                if c is None:
                    continue  # past retention
                rows.append(
                    HistoryRow(c.id, c.kind, c.cluster, c.state, c.title, c.requester, c.created_at)
                )
        rows.sort(key=lambda r: r.created_at, reverse=True)
        return History(tuple(rows[:limit]), cluster, limit)

    def active(self, cluster: str) -> list[Change]:
        found = []
        for change_id in self.store.get(ACTIVE_KEY, cluster=cluster) or []:
            change = self.get(change_id, cluster)
            if change is not None:
                found.append(change)
        return found

    def add(self, change: Change, audit: Sequence[Mapping[str, str]] = ()) -> None:
        """Store a new change (with its audit entries, in one transaction) and list it
        first in its cluster's index and active set."""
        self.store.update(
            change_key(change.id),
            lambda current: change.to_json() if current is None else None,
            cluster=change.cluster,
            ttl_s=self.settings.retention_s,
            audit=lambda _new: audit,
        )
        size = self.settings.index_size

        def add_newest(ids: JSON | None) -> JSON:
            return [change.id, *[i for i in (ids or []) if i != change.id]][:size]

        def add_active(ids: JSON | None) -> JSON:
            return [*(ids or []), change.id]

        self.store.update(INDEX_KEY, add_newest, cluster=change.cluster)
        self.store.update(ACTIVE_KEY, add_active, cluster=change.cluster)

    def activate(self, change: Change) -> None:
        """Put an ended change back in the active set (before a rollback claims it, so a
        replica killed mid-rollback leaves it where the sweep looks)."""
        self.store.update(
            ACTIVE_KEY,
            lambda ids: None if change.id in (ids or []) else [*(ids or []), change.id],
            cluster=change.cluster,
        )

    def retire(self, change: Change) -> None:
        """Take a change that reached an end state out of its cluster's active set."""
        self.store.update(
            ACTIVE_KEY,
            lambda ids: [i for i in (ids or []) if i != change.id],
            cluster=change.cluster,
        )
