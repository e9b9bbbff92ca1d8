"""In-memory fakes for the watcher core: a scriptable Prometheus, a recording notifier,
a change pipeline and a pod reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from commands.changes.recent import ChangeRef, ChangeTarget, RollbackOutcome
from commands.core.errors import MetricsUnavailable
from commands.core.model import Caller
from commands.core.ports import Sample
from commands.watch.alerts import Alert, Effect, Group
from commands.watch.ports import NotifyFailed
from commands.watch.queries import STAT


def host(name: str, namespace: str | None = None) -> str:
    return f"{name}.{namespace or name}.svc.cluster.local"


@dataclass
class ScriptedMetrics:
    """p99/rps per service host and steal per node, changed by the test between cycles."""

    p99: dict[str, float] = field(default_factory=dict)
    rps: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    steal: dict[str, float] = field(default_factory=dict)
    down: bool = False
    queries: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return "scripted"

    def ping(self) -> str:
        return "2.42.0"

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Sample]:
        self.queries.append(promql)
        if self.down:
            raise MetricsUnavailable("Prometheus at http://prom:9090 is unreachable (fake)")
        if "node_cpu_seconds_total" in promql:
            return [Sample({"node": n}, v) for n, v in self.steal.items()]
        rows = [Sample({"destination_service": h, STAT: "p99"}, v) for h, v in self.p99.items()]
        rows += [Sample({"destination_service": h, STAT: "rps"}, v) for h, v in self.rps.items()]
        if "offset" in promql:
            rows += [
                Sample({"destination_service": h, STAT: "baseline"}, v)
                for h, v in self.baseline.items()
            ]
        return rows

    def set_service(self, name: str, p99: float, rps: float = 50.0) -> None:
        self.p99[host(name)] = p99
        self.rps[host(name)] = rps


@dataclass
class Sent:
    kind: str
    alert_id: str
    subject: str
    state: str
    text: str = ""


@dataclass
class RecordingNotifier:
    sent: list[Sent] = field(default_factory=list)
    fail_next: int = 0
    counter: int = 0

    def _maybe_fail(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise NotifyFailed("Slack answered 500 (fake)")

    def _ts(self) -> str:
        self.counter += 1
        return f"1700000000.{self.counter:06d}"

    def post_alert(self, alert: Alert, channel: str) -> str:
        self._maybe_fail()
        self.sent.append(Sent("post", alert.id, alert.subject, alert.state.value))
        return self._ts()

    def post_group(self, group: Group, alerts: Sequence[Alert], channel: str) -> str:
        self._maybe_fail()
        self.sent.append(Sent("group", group.id, ",".join(a.subject for a in alerts), "firing"))
        return self._ts()

    def edit_alert(self, alert: Alert) -> None:
        self._maybe_fail()
        self.sent.append(Sent("edit", alert.id, alert.subject, alert.state.value))

    def edit_group(self, group: Group, alerts: Sequence[Alert]) -> None:
        self._maybe_fail()
        self.sent.append(Sent("edit_group", group.id, "", ""))

    def reply(self, alert: Alert, effect: Effect) -> None:
        self._maybe_fail()
        self.sent.append(Sent("reply", alert.id, alert.subject, alert.state.value, effect.value))

    def reply_group(self, group: Group, alerts: Sequence[Alert]) -> None:
        self._maybe_fail()
        self.sent.append(Sent("reply_group", group.id, ",".join(a.subject for a in alerts), ""))

    def attach_chart(self, alert: Alert) -> None:
        self.sent.append(Sent("chart", alert.id, alert.subject, alert.state.value))

    def kinds(self) -> list[str]:
        return [s.kind for s in self.sent]


@dataclass
class FakeChanges:
    refs: list[ChangeRef] = field(default_factory=list)
    asked: list[ChangeTarget] = field(default_factory=list)
    rolled_back: list[tuple[str, str]] = field(default_factory=list)

    def recent_changes_touching(
        self, cluster: str, target: ChangeTarget, within_s: float
    ) -> Sequence[ChangeRef]:
        self.asked.append(target)
        return [r for r in self.refs if target.service and target.service in r.summary]

    def rollback(self, change_id: str, caller: Caller) -> RollbackOutcome:
        self.rolled_back.append((change_id, caller.user_id))
        return RollbackOutcome(True, "rollback proposed")


@dataclass
class FakePods:
    pods: dict[str, list[str]] = field(default_factory=dict)

    def meshed_pods_on_node(self, node: str) -> Sequence[str]:
        return self.pods.get(node, [])


class Ids:
    def __init__(self, prefix: str = "a") -> None:
        self.prefix = prefix
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n:04d}"
