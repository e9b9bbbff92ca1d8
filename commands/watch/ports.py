"""What the watcher cycle talks to: the alert notifier (Slack), meshed pods on a node,
and the bundle of ports one cycle runs on.

Why this exists: the cycle is core code; everything it touches is behind these
protocols (and the shared Store, Metrics and Clock), so it runs against Slack, Redis
and Prometheus in production and against small in-memory fakes in unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from commands.changes.recent import RecentChanges
from commands.core.errors import PortError
from commands.core.ports import Clock, Metrics, Store
from commands.watch.alerts import Alert, Effect, Group


@runtime_checkable
class MeshedPods(Protocol):
    """The pods with an istio-proxy container on one node (`namespace/name`).

    Optional: a cluster adapter without it still gets steal alerts, without the pod list.
    """

    def meshed_pods_on_node(self, node: str) -> Sequence[str]: ...


class NotifyFailed(PortError):
    """Slack did not take a message (after the client's own retries)."""


class AlertNotifier(Protocol):
    """Where alerts are shown (Slack); every method may raise NotifyFailed."""

    def post_alert(self, alert: Alert, channel: str) -> str:
        """Post the alert message; returns its `ts`."""
        ...

    def post_group(self, group: Group, alerts: Sequence[Alert], channel: str) -> str: ...

    def edit_alert(self, alert: Alert) -> None: ...

    def edit_group(self, group: Group, alerts: Sequence[Alert]) -> None: ...

    def reply(self, alert: Alert, effect: Effect) -> None:
        """A thread reply for RESOLVED_REPLY, SILENCE_EXPIRED_REPLY or REMINDER."""
        ...

    def reply_group(self, group: Group, alerts: Sequence[Alert]) -> None:
        """One thread reply for the members of a storm that resolved in this cycle."""
        ...

    def attach_chart(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class CyclePorts:
    store: Store
    metrics: Metrics
    notifier: AlertNotifier
    clock: Clock
    replica: str
    new_id: Callable[[], str]
    still_leader: Callable[[], bool] = lambda: True
    changes: RecentChanges | None = None
    pods: MeshedPods | None = None
