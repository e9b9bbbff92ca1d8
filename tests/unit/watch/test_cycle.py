"""The watcher cycle on in-memory fakes: posts once, edits, resolves, storms, blindness,
replicas and lost leases, Slack failures."""

from __future__ import annotations

import re

from commands.changes.recent import ChangeRef
from commands.core.model import Caller, Role
from commands.watch.actions import acknowledge_alert
from commands.watch.alerts import Alert, AlertState
from commands.watch.commands import LatencyPolicy, StealPolicy, WatchPolicy
from commands.watch.cycle import WatchCycle
from commands.watch.ports import CyclePorts
from commands.watch.rules import RuleSpec
from commands.watch.store import INDEX_KEY, alert_key
from tests.unit.fakes import FixedClock, MemoryStore, services
from tests.unit.watch.fakes import (
    FakeChanges,
    FakePods,
    Ids,
    RecordingNotifier,
    ScriptedMetrics,
    host,
)

CYCLE = 10.0


def policy(**kw: object) -> WatchPolicy:
    values: dict[str, object] = {
        "cluster": "prod",
        "channel": "C_ONCALL",
        "cycle_s": CYCLE,
        "latency": LatencyPolicy(default_ms=300, min_rps=1, spec=RuleSpec(for_cycles=2)),
        "steal": StealPolicy(warn_pct=10, critical_pct=20, spec=RuleSpec(for_cycles=2)),
        "storm_k": 3,
        "edit_interval_s": 0,
        "claim_timeout_s": 30,
    }
    values.update(kw)
    return WatchPolicy(**values)  # type: ignore[arg-type]


class Rig:
    def __init__(self, store: MemoryStore | None = None, replica: str = "r1", **kw: object) -> None:
        self.store = store or MemoryStore()
        self.metrics = ScriptedMetrics()
        self.notifier = RecordingNotifier()
        self.clock = FixedClock()
        self.leader = True
        self.changes = FakeChanges()
        self.pods = FakePods()
        ports = CyclePorts(
            store=self.store,
            metrics=self.metrics,
            notifier=self.notifier,
            clock=self.clock,
            replica=replica,
            new_id=Ids(replica),
            still_leader=lambda: self.leader,
            changes=self.changes,
            pods=self.pods,
        )
        self.cycle = WatchCycle(policy(**kw), ports)

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.clock.value += CYCLE
            self.cycle.run()

    def alerts(self) -> list[Alert]:
        index = self.store.get(INDEX_KEY, cluster="prod") or {}
        return [Alert.from_json(self.store.get(alert_key(fp), cluster="prod")) for fp in index]


def test_a_breach_posts_once_after_for_and_recovery_edits_and_replies() -> None:
    rig = Rig()
    rig.metrics.set_service("payments", 180)
    rig.metrics.set_service("frontend", 100)
    rig.tick()
    assert rig.notifier.sent == []
    rig.metrics.set_service("payments", 900)
    rig.tick()
    assert rig.notifier.sent == []  # pending: one breach cycle of two
    rig.tick()
    assert rig.notifier.kinds() == ["post", "chart"]
    rig.tick(3)
    assert rig.notifier.kinds() == ["post", "chart"]  # same value: no edits, no reposts
    rig.metrics.set_service("payments", 1500)
    rig.tick()
    assert rig.notifier.kinds()[-1] == "edit"
    rig.metrics.set_service("payments", 150)
    rig.tick()
    assert rig.notifier.kinds()[-2:] == ["edit", "reply"]
    assert rig.notifier.sent[-1].text == "resolved_reply"
    assert rig.notifier.sent[-2].state == "resolved"
    assert rig.alerts() == []  # out of the active index
    rig.tick(2)
    assert rig.notifier.kinds().count("post") == 1


def test_an_acknowledgement_typed_anywhere_is_shown_by_the_next_cycle_once() -> None:
    rig = Rig()
    rig.metrics.set_service("payments", 900)
    rig.tick(2)
    (alert,) = rig.alerts()
    acted = acknowledge_alert(services(rig.store), Caller("U_ALICE", Role.OPERATOR), alert.id)
    assert acted.changed  # e.g. `meshbot alert ack ID` on a bastion host: no Slack client
    rig.tick()
    assert rig.notifier.kinds() == ["post", "chart", "edit"]
    assert rig.notifier.sent[-1].state == "acknowledged"
    rig.tick(2)
    assert rig.notifier.kinds().count("edit") == 1


def test_low_traffic_is_held_and_said_in_the_summary() -> None:
    rig = Rig()
    rig.metrics.set_service("batch", 5000, rps=0.1)
    rig.tick(5)
    assert rig.notifier.sent == []
    summary = rig.store.get("watch:summary", cluster="prod")
    assert summary["holds"] == [f"{host('batch')}: low traffic (0.1 req/s < 1)"]


def test_prometheus_unreachable_gives_one_blind_notice_and_no_alert() -> None:
    rig = Rig()
    rig.metrics.set_service("payments", 900)
    rig.tick()
    rig.metrics.down = True
    rig.tick(4)
    assert rig.notifier.kinds() == ["post"]
    assert rig.notifier.sent[0].subject == "prod"
    rig.metrics.down = False
    rig.metrics.set_service("payments", 100)
    rig.tick()
    assert rig.notifier.kinds() == ["post", "edit", "reply"]
    assert rig.notifier.sent[1].state == "resolved"
    assert all(s.subject == "prod" for s in rig.notifier.sent)  # never a false alert


def test_empty_answers_make_the_cluster_blind_too() -> None:
    rig = Rig()
    rig.tick(2)
    assert rig.notifier.kinds() == ["post"]
    summary = rig.store.get("watch:summary", cluster="prod")
    assert "no data" in summary["blind"]


def test_a_storm_becomes_one_grouped_message() -> None:
    rig = Rig(storm_k=3)
    for i in range(8):
        rig.metrics.set_service(f"svc{i}", 900)
    rig.tick(2)
    assert rig.notifier.kinds() == ["group"]
    alerts = rig.alerts()
    assert len(alerts) == 8 and len({a.ts for a in alerts}) == 1
    for i in range(8):
        rig.metrics.set_service(f"svc{i}", 100)
    rig.tick()
    assert rig.notifier.kinds()[1:] == ["edit_group", "reply_group"]
    assert rig.alerts() == []


def test_two_replicas_on_one_store_post_once() -> None:
    store = MemoryStore()
    a, b = Rig(store, "r1"), Rig(store, "r2")
    b.notifier = a.notifier
    b.cycle.ports = b.cycle.ports.__class__(**{**vars(b.cycle.ports), "notifier": a.notifier})
    for rig in (a, b):
        rig.metrics.set_service("payments", 900)
    for _ in range(4):
        a.tick()
        b.clock.value = a.clock.value + 1
        b.cycle.run()
    assert a.notifier.kinds().count("post") == 1


def test_a_replica_that_lost_the_lease_sends_nothing_and_the_next_holder_does() -> None:
    store = MemoryStore()
    old = Rig(store, "r1")
    old.metrics.set_service("payments", 900)
    old.tick()
    old.leader = False  # lease lost mid-cycle: the claim is taken, nothing is sent
    old.tick()
    assert old.notifier.sent == []
    new = Rig(store, "r2")
    new.metrics.set_service("payments", 900)
    new.clock.value = old.clock.value + CYCLE
    new.cycle.run()
    assert new.notifier.sent == []  # the old claim is still fresh
    new.clock.value += 30
    new.cycle.run()
    assert new.notifier.kinds() == ["post", "chart"]


def test_slack_failure_keeps_the_alert_and_retries_next_cycle() -> None:
    rig = Rig()
    rig.metrics.set_service("payments", 900)
    rig.tick()
    rig.notifier.fail_next = 1
    rig.tick()
    assert rig.notifier.sent == []
    (alert,) = rig.alerts()
    assert alert.state is AlertState.FIRING and alert.outbox
    rig.tick()
    assert rig.notifier.kinds() == ["post", "chart"]


def test_the_likely_cause_and_the_meshed_pods_are_attached() -> None:
    rig = Rig()
    rig.changes.refs = [ChangeRef("ch-1", "mTLS STRICT on payments", 1.0, "U_ALICE")]
    rig.pods.pods = {"node-c": ["shop/frontend-1", "payments/payments-0"]}
    rig.metrics.set_service("payments", 900)
    rig.metrics.steal = {"node-c": 25.0, "node-a": 1.0}
    rig.tick(2)
    by_rule = {a.rule: a for a in rig.alerts()}
    assert by_rule["latency"].cause is not None
    assert by_rule["latency"].cause.summary == "mTLS STRICT on payments"
    assert by_rule["steal"].pods == ("shop/frontend-1", "payments/payments-0")
    assert rig.changes.asked[0].service == "payments"


def test_five_thousand_services_cost_four_queries_and_touch_only_the_breaching() -> None:
    rig = Rig(steal=None)
    for i in range(5000):
        rig.metrics.set_service(f"svc{i}", 900 if i % 1000 == 0 else 100)
    rig.tick()
    rig.metrics.queries.clear()
    rig.tick()
    # rate, bucket layout, two buckets per service, the exact p99 of the five breaching
    rate, layout, buckets, exact = rig.metrics.queries
    assert "histogram_quantile" not in rate + layout + buckets
    measured = set(re.findall(r"(svc\d+)\\\\.svc", exact))
    assert measured == {f"svc{i}" for i in range(0, 5000, 1000)}
    summary = rig.store.get("watch:summary", cluster="prod")
    assert summary["evaluated"] == 5000
    assert len(rig.alerts()) == 5  # how fast: tests/bench/bench_watch.py measures it
