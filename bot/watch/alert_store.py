"""Alerts in the store, as the buttons see them: find by opaque id, change atomically.

Why this exists: a click carries only an alert's opaque id; everything else is looked
up here, server-side, and every change goes through `Store.update` with the lifecycle
functions of `commands.watch.alerts`, so a double click, two people at once, and the
watcher cycle running meanwhile all end in one consistent record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from commands.core.ports import Store
from commands.watch.alerts import Alert, Group, Refusal
from commands.watch.cycle import (
    GROUP_REF_KEY,
    RECORD_TTL_S,
    REF_KEY,
    alert_key,
    group_key,
    silence_key,
)


@dataclass(frozen=True)
class Located:
    cluster: str
    fingerprint: str


class AlertStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def locate(self, alert_id: str) -> Located | None:
        raw = self.store.get(REF_KEY.format(alert_id))
        if not isinstance(raw, dict):
            return None
        return Located(str(raw["cluster"]), str(raw["fingerprint"]))

    def get(self, alert_id: str) -> Alert | None:
        where = self.locate(alert_id)
        if where is None:
            return None
        raw = self.store.get(alert_key(where.fingerprint), cluster=where.cluster)
        if raw is None or raw.get("id") != alert_id:
            return None
        return Alert.from_json(raw)

    def change(self, alert_id: str, change: Callable[[Alert], Alert | Refusal]) -> Alert | Refusal:
        """Apply `change` atomically to the alert with this id; a Refusal changes nothing."""
        where = self.locate(alert_id)
        if where is None:
            return Refusal("This alert is no longer known (it expired).")
        outcome: list[Alert | Refusal] = [Refusal("This alert is no longer known (it expired).")]

        def step(current: Any) -> Any:
            if current is None or current.get("id") != alert_id:
                outcome[0] = Refusal("This alert was replaced by a newer one.")
                return None
            result = change(Alert.from_json(current))
            outcome[0] = result
            return None if isinstance(result, Refusal) else result.to_json()

        self.store.update(
            alert_key(where.fingerprint), step, cluster=where.cluster, ttl_s=RECORD_TTL_S
        )
        return outcome[0]

    def set_silence(self, alert: Alert, user: str, until: float, seconds: float) -> None:
        self.store.put(
            silence_key(alert.fingerprint),
            {"until": until, "by": user},
            cluster=alert.cluster,
            ttl_s=seconds,
        )

    def clear_silence(self, alert: Alert) -> None:
        self.store.delete(silence_key(alert.fingerprint), cluster=alert.cluster)

    def group(self, cluster: str, group_id: str) -> Group | None:
        raw = self.store.get(group_key(group_id), cluster=cluster)
        return None if raw is None else Group.from_json(raw)

    def members(self, group: Group) -> list[Alert]:
        found = []
        for fp in group.members:
            raw = self.store.get(alert_key(fp), cluster=group.cluster)
            if raw is not None and raw.get("group_id") == group.id:
                found.append(Alert.from_json(raw))
        return found

    def locate_group(self, group_id: str) -> str | None:
        raw = self.store.get(GROUP_REF_KEY.format(group_id))
        return None if not isinstance(raw, dict) else str(raw["cluster"])
