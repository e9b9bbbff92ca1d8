"""Before an alert is first posted: its likely cause and, for a node, its meshed pods.

Why this exists: "p99 of payments is 1650 ms" is half an answer; "likely cause: mTLS
STRICT on payments, 8 min ago, by @alice" with a Rollback button is the other half.
The recent meshbot changes that touched the alert's service, namespace or node come
from the change pipeline (commands.changes.recent); a steal alert lists the meshed pods
on the node, because those are what to move. Either lookup failing only leaves the
line out: the alert is posted anyway.
"""

from __future__ import annotations

from dataclasses import replace

from commands.changes.recent import ChangeRef, ChangeTarget
from commands.core.errors import PortError
from commands.watch.alerts import BLIND_RULE, Alert, Effect
from commands.watch.commands import WatchPolicy
from commands.watch.ports import CyclePorts
from commands.watch.store import AlertStore


def enrich(policy: WatchPolicy, ports: CyclePorts, alerts: AlertStore, alert: Alert) -> Alert:
    """The alert with its cause and pods recorded, when it is about to be posted."""
    if Effect.POST not in alert.outbox or alert.rule == BLIND_RULE:
        return alert
    cause = likely_cause(policy, ports, alert)
    pods = meshed_pods(ports, alert)
    if cause is None and not pods:
        return alert
    return alerts.save(alert, lambda a: replace(a, cause=cause, pods=pods)) or alert


def likely_cause(policy: WatchPolicy, ports: CyclePorts, alert: Alert) -> ChangeRef | None:
    """The newest meshbot change that touched what the alert is about, within the window."""
    if ports.changes is None:
        return None
    if alert.rule == "latency":
        parts = alert.subject.split(".")
        target = ChangeTarget(service=parts[0], namespace=parts[1] if len(parts) > 2 else None)
    else:
        target = ChangeTarget(node=alert.subject)
    try:
        refs = ports.changes.recent_changes_touching(
            policy.cluster, target, policy.rollback_window_s
        )
    except PortError:
        return None
    return refs[0] if refs else None


def meshed_pods(ports: CyclePorts, alert: Alert) -> tuple[str, ...]:
    if alert.rule != "steal" or ports.pods is None:
        return ()
    try:
        return tuple(ports.pods.meshed_pods_on_node(alert.subject))
    except PortError:
        return ()
