"""In-memory fakes for the watcher core: a scriptable Prometheus, a recording notifier,
a change pipeline and a pod reader."""

from __future__ import annotations

import re
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


# Istio's default request-duration buckets (ms), as Envoy writes their `le` labels.
ISTIO_BUCKETS = ("0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000")
ISTIO_BUCKETS += ("10000", "30000", "60000", "300000", "600000", "1800000", "3600000", "+Inf")


def _selected(promql: str, label: str) -> re.Pattern[str] | None:
    """The regex a query's `label=~"…"` matcher holds, unescaped from PromQL's string."""
    found = re.search(label + r'=~"((?:[^"\\]|\\.)*)"', promql)
    if found is None:
        return None
    return re.compile(found.group(1).replace("\\\\", "\\"))


@dataclass
class ScriptedMetrics:
    """p99/rps per service host and steal per node, changed by the test between cycles.

    It answers the watcher's query shapes as Prometheus would for these numbers: a
    service's bucket `le=b` holds every request when b is at or above its p99, else 98 %
    of them (so its p99 lies in the bucket the scripted value falls in); the exact query
    answers only for the services its `destination_service=~` matcher selects.
    """

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
        hosts = _selected(promql, "destination_service")
        chosen = [h for h in self.rps if hosts is None or hosts.fullmatch(h)]
        if promql.startswith("count by (le)"):
            return [Sample({"le": le}, 1.0) for le in ISTIO_BUCKETS] if chosen else []
        les = _selected(promql, "le")
        if les is not None:
            return [
                Sample({"destination_service": h, "le": le}, self._below(h, le))
                for h in chosen
                for le in ISTIO_BUCKETS
                if les.fullmatch(le)
            ]
        rows = [Sample({"destination_service": h, STAT: "rps"}, self.rps[h]) for h in chosen]
        if "histogram_quantile" not in promql:
            return rows
        rows += [Sample({"destination_service": h, STAT: "p99"}, self.p99[h]) for h in chosen]
        if "offset" in promql:
            rows += [
                Sample({"destination_service": h, STAT: stat}, v)
                for h, v in self.baseline.items()
                if h in chosen
                for stat in ("baseline", "baseline_covered")
            ]
        return rows

    def _below(self, host: str, le: str) -> float:
        rate = self.rps[host]
        return rate if le == "+Inf" or float(le) >= self.p99[host] else 0.98 * rate

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
