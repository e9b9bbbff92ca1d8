"""Alerts in the store: records by fingerprint, opaque ids, storms, silences, the index.

Why this exists: the watcher cycle and the alert commands (buttons, typed commands)
work on the same records, and a click carries only an alert's opaque id; everything
else is looked up here, server-side. Every change to a record goes through
`Store.update` with the lifecycle functions of `commands.watch.alerts`, so a double
click, two people at once and the watcher cycle running meanwhile all end in one
consistent record. Only this module knows the store keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from commands.core.model import Refusal
from commands.core.ports import Store
from commands.watch.alerts import Alert, Group

RECORD_TTL_S = 7 * 86400.0
INDEX_KEY = "alerts:active"  # per cluster: fingerprint → id of every alert not yet finished
REF_KEY = "alert-ref:{}"  # global: opaque alert id → (cluster, fingerprint)
GROUP_REF_KEY = "alert-group-ref:{}"  # global: opaque group id → cluster
GONE = "This alert is no longer known (it expired)."


def alert_key(fp: str) -> str:
    return f"alert:{fp}"


def group_key(group_id: str) -> str:
    return f"alert-group:{group_id}"


def silence_key(fp: str) -> str:
    return f"silence:{fp}"


@dataclass(frozen=True)
class Located:
    cluster: str
    fingerprint: str


class AlertStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- by fingerprint, in one cluster (the watcher cycle) ----------------------------

    def load(self, cluster: str, fp: str) -> Alert | None:
        raw = self.store.get(alert_key(fp), cluster=cluster)
        return None if raw is None else Alert.from_json(raw)

    def load_many(self, cluster: str, fps: Sequence[str]) -> list[Alert | None]:
        """`load` of each fingerprint, in one store round trip."""
        raws = self.store.get_many([alert_key(fp) for fp in fps], cluster=cluster)
        return [None if raw is None else Alert.from_json(raw) for raw in raws]

    def update(
        self, cluster: str, fp: str, step: Callable[[Any], Any]
    ) -> tuple[bool, dict[str, Any] | None]:
        """`Store.update` of the fingerprint's record (raw JSON in, raw JSON or None out)."""
        written, value = self.store.update(alert_key(fp), step, cluster=cluster, ttl_s=RECORD_TTL_S)
        return written, value

    def save(self, alert: Alert, change: Callable[[Alert], Alert | None]) -> Alert | None:
        """Apply `change` to this incarnation of the alert; None when it changed nothing
        (or the record is now another incarnation)."""

        def step(current: Any) -> Any:
            if current is None or current.get("id") != alert.id:
                return None
            changed = change(Alert.from_json(current))
            return None if changed is None else changed.to_json()

        written, value = self.update(alert.cluster, alert.fingerprint, step)
        return Alert.from_json(value) if written and value else None

    def remember(self, alert_id: str, cluster: str, fp: str) -> None:
        """Make the opaque id (what buttons carry) findable from any cluster."""
        self.store.put(
            REF_KEY.format(alert_id), {"cluster": cluster, "fingerprint": fp}, ttl_s=RECORD_TTL_S
        )

    # ---- the index of a cluster's unfinished alerts -------------------------------------

    def index(self, cluster: str) -> dict[str, str]:
        return dict(self.store.get(INDEX_KEY, cluster=cluster) or {})

    def index_add(self, cluster: str, added: Mapping[str, str]) -> None:
        if not added:
            return

        def merge(current: Any) -> Any:
            merged = dict(current or {})
            if all(merged.get(k) == v for k, v in added.items()):
                return None
            merged.update(added)
            return merged

        self.store.update(INDEX_KEY, merge, cluster=cluster)

    def index_remove(self, cluster: str, fp: str, alert_id: str) -> None:
        def drop(current: Any) -> Any:
            if not current or current.get(fp) != alert_id:
                return None
            return {k: v for k, v in current.items() if k != fp}

        self.store.update(INDEX_KEY, drop, cluster=cluster)

    # ---- by opaque id (buttons and typed commands) --------------------------------------

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
            return Refusal(GONE)
        outcome: list[Alert | Refusal] = [Refusal(GONE)]

        def step(current: Any) -> Any:
            if current is None or current.get("id") != alert_id:
                outcome[0] = Refusal("This alert was replaced by a newer one.")
                return None
            result = change(Alert.from_json(current))
            outcome[0] = result
            return None if isinstance(result, Refusal) else result.to_json()

        self.update(where.cluster, where.fingerprint, step)
        return outcome[0]

    # ---- silences -----------------------------------------------------------------------

    def silenced_until(self, cluster: str, fp: str) -> float | None:
        raw = self.store.get(silence_key(fp), cluster=cluster)
        return None if not raw else float(raw["until"])

    def silences(self, cluster: str, fps: Sequence[str]) -> dict[str, float | None]:
        """`silenced_until` of each fingerprint, in one store round trip."""
        raws = self.store.get_many([silence_key(fp) for fp in fps], cluster=cluster)
        return {
            fp: None if not raw else float(raw["until"]) for fp, raw in zip(fps, raws, strict=True)
        }

    def set_silence(self, alert: Alert, user: str, until: float, seconds: float) -> None:
        self.store.put(
            silence_key(alert.fingerprint),
            {"until": until, "by": user},
            cluster=alert.cluster,
            ttl_s=seconds,
        )

    def clear_silence(self, alert: Alert) -> None:
        self.store.delete(silence_key(alert.fingerprint), cluster=alert.cluster)

    # ---- storms -------------------------------------------------------------------------

    def save_group(self, group: Group) -> None:
        self.store.put(
            GROUP_REF_KEY.format(group.id), {"cluster": group.cluster}, ttl_s=RECORD_TTL_S
        )
        self.store.put(
            group_key(group.id), group.to_json(), cluster=group.cluster, ttl_s=RECORD_TTL_S
        )

    def group(self, cluster: str, group_id: str) -> Group | None:
        raw = self.store.get(group_key(group_id), cluster=cluster)
        return None if raw is None else Group.from_json(raw)

    def locate_group(self, group_id: str) -> str | None:
        raw = self.store.get(GROUP_REF_KEY.format(group_id))
        return None if not isinstance(raw, dict) else str(raw["cluster"])

    def members(self, group: Group) -> list[Alert]:
        """The group's alerts that are still this group's (a fingerprint may fire again)."""
        found = []
        for fp in group.members:
            raw = self.store.get(alert_key(fp), cluster=group.cluster)
            if raw is not None and raw.get("group_id") == group.id:
                found.append(Alert.from_json(raw))
        return found
