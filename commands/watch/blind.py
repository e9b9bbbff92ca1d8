"""Blindness is a rule too: a cluster whose Prometheus gives nothing gets one notice.

Why this exists: with no data, no alert can be decided, and silence would look like a
healthy mesh. `blind_cycles` empty or failed cycles in a row fire one "watcher blind"
notice per cluster (a record like any alert, so it is posted once across replicas),
and the first cycle with data again resolves it ("recovered after N min").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from commands.watch.alerts import BLIND_RULE, Alert, AlertState, Tuning, advance, fingerprint
from commands.watch.alerts import new_alert as fresh_alert
from commands.watch.commands import WatchPolicy
from commands.watch.rules import Reading, RuleSpec, evaluate
from commands.watch.store import AlertStore


def record_blindness(
    policy: WatchPolicy,
    alerts: AlertStore,
    tuning: Tuning,
    new_id: Callable[[], str],
    reason: str | None,
    now: float,
) -> dict[str, str]:
    """Count this cycle as blind (`reason`) or not; returns the notice if one was opened."""
    cluster = policy.cluster
    fp = fingerprint(cluster, BLIND_RULE, cluster)
    opened = new_id()
    spec = RuleSpec(for_cycles=policy.blind_cycles)
    reading = Reading(1.0 if reason else 0.0, 0.5)

    def step(current: Any) -> Any:
        alert = None if current is None else Alert.from_json(current)
        if alert is None or alert.state is AlertState.RESOLVED:
            if reason is None:
                return None
            alert = fresh_alert(opened, cluster, BLIND_RULE, cluster, "", now)
        elif alert.evaluated_at > now - policy.cycle_s / 2:
            return None  # this cycle was already applied (a handover overlap)
        decision = evaluate(spec, reading, alert.rule_state)
        nxt = advance(alert, decision, now, tuning, silenced_until=None)
        return replace(nxt, detail=reason or alert.detail).to_json()

    written, value = alerts.update(cluster, fp, step)
    if written and value is not None and value["id"] == opened:
        alerts.remember(opened, cluster, fp)
        return {fp: opened}
    return {}
