"""One watcher cycle for one cluster: query → evaluate → record → notify.

Why this exists: the cycle is where exactly-once is won or lost, so it is core code
driven through ports (Metrics, Store, a notifier, the change pipeline) and tested with
in-memory fakes as well as against real Redis, Prometheus and the Slack emulator.

A cycle:
1. reads every service's p99 and rate in ONE query, every node's steal in ONE query;
   an unreachable Prometheus or an empty answer makes the cluster *blind*: one
   deduplicated notice, no alert decision at all (never a false alert), and a
   "recovered" edit when data returns;
2. judges each subject with `commands.watch.rules` — only subjects that breach now or have
   an open alert touch the store, so 5,000 healthy services cost nothing but the query;
3. applies each transition inside `Store.update` (atomic), writing the Slack work it
   needs into the alert's outbox;
4. claims the outboxes, checks it still holds the lease, and does the work — posts
   (one grouped message for a storm of more than `storm_k`), edits, thread replies and
   charts — recording each step, so a crash leaves work for the next holder and never
   a second post.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from commands.changes.recent import ChangeRef, ChangeTarget, RecentChanges
from commands.core.errors import MetricsUnavailable, PortError
from commands.core.ports import Clock, Metrics, Store
from commands.watch.alerts import (
    BLIND_RULE,
    Alert,
    AlertState,
    Effect,
    Group,
    Tuning,
    advance,
    claim,
    claimable,
    complete,
    fingerprint,
    new_alert,
)
from commands.watch.commands import INDEX_KEY, SUMMARY_KEY, WatchPolicy
from commands.watch.ports import MeshedPods
from commands.watch.queries import latency_query, parse_latency, parse_steal, steal_query
from commands.watch.rules import (
    Reading,
    RuleSpec,
    RuleState,
    evaluate,
    latency_reading,
    steal_reading,
)

RECORD_TTL_S = 7 * 86400.0
HOLDS_SHOWN = 20


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


def alert_key(fp: str) -> str:
    return f"alert:{fp}"


def group_key(group_id: str) -> str:
    return f"alert-group:{group_id}"


def silence_key(fp: str) -> str:
    return f"silence:{fp}"


REF_KEY = "alert-ref:{}"  # global: opaque alert id → (cluster, fingerprint)
GROUP_REF_KEY = "alert-group-ref:{}"  # global: opaque group id → cluster


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


@dataclass(frozen=True)
class Subject:
    rule: str
    name: str
    reading: Reading
    unit: str
    spec: RuleSpec


@dataclass
class CycleSummary:
    cluster: str
    at: float
    replica: str
    blind: str | None = None
    evaluated: int = 0
    holds: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    posted: int = 0
    grouped: int = 0
    edited: int = 0
    replies: int = 0
    failed: int = 0
    duration_ms: float = 0.0
    eval_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        raw = dict(vars(self))
        raw["holds_total"] = len(self.holds)
        raw["holds"] = self.holds[:HOLDS_SHOWN]
        return raw


class WatchCycle:
    def __init__(self, policy: WatchPolicy, ports: CyclePorts) -> None:
        self.policy = policy
        self.ports = ports
        self.tuning = Tuning(
            edit_interval_s=policy.edit_interval_s,
            renotify_s=policy.renotify_s,
            claim_timeout_s=policy.claim_timeout_s,
        )

    @property
    def cluster(self) -> str:
        return self.policy.cluster

    # ---- 1. read ---------------------------------------------------------------------

    def read(self) -> tuple[list[Subject], str | None]:
        """Every subject's reading, or why the cluster is blind."""
        policy = self.policy
        subjects: list[Subject] = []
        answered = False
        try:
            if policy.latency is not None:
                lat = policy.latency
                rows = self.ports.metrics.query(latency_query(lat.window, lat.baseline))
                answered |= bool(rows)
                for host, s in parse_latency(rows).items():
                    reading = latency_reading(
                        p99_ms=s.p99_ms,
                        rps=s.rps,
                        min_rps=lat.min_rps,
                        static_ms=lat.static_for(host),
                        baseline_ms=s.baseline_ms,
                        factor=lat.factor,
                    )
                    subjects.append(Subject("latency", host, reading, "ms", lat.spec))
            if policy.steal is not None:
                st = policy.steal
                rows = self.ports.metrics.query(steal_query(st.window, st.node_label))
                answered |= bool(rows)
                steal = parse_steal(rows, st.node_label, dict(st.instance_to_node))
                for node, value in steal.items():
                    reading = steal_reading(
                        steal_pct=value, warn_pct=st.warn_pct, critical_pct=st.critical_pct
                    )
                    subjects.append(Subject("steal", node, reading, "%", st.spec))
        except MetricsUnavailable as exc:
            return [], str(exc)
        if not answered:
            return [], "Prometheus answered, but with no data for any service or node"
        return subjects, None

    # ---- the whole cycle ---------------------------------------------------------------

    def run(self) -> CycleSummary:
        started = time.perf_counter()
        now = self.ports.clock.now()
        summary = CycleSummary(self.cluster, now, self.ports.replica)
        subjects, blind = self.read()
        summary.blind = blind
        touched = self._blind(blind, now)
        if blind is None:
            t0 = time.perf_counter()
            touched |= self.evaluate(subjects, now, summary)
            summary.eval_ms = (time.perf_counter() - t0) * 1000
        self._index_add(touched)
        self.drain(now, summary)
        summary.duration_ms = (time.perf_counter() - started) * 1000
        self.ports.store.put(SUMMARY_KEY, summary.to_json(), cluster=self.cluster)
        return summary

    # ---- 2/3. evaluate and record -------------------------------------------------------

    def _index(self) -> dict[str, str]:
        return dict(self.ports.store.get(INDEX_KEY, cluster=self.cluster) or {})

    def _index_add(self, added: Mapping[str, str]) -> None:
        if not added:
            return

        def merge(current: Any) -> Any:
            merged = dict(current or {})
            if all(merged.get(k) == v for k, v in added.items()):
                return None
            merged.update(added)
            return merged

        self.ports.store.update(INDEX_KEY, merge, cluster=self.cluster)

    def _index_remove(self, fp: str, alert_id: str) -> None:
        def drop(current: Any) -> Any:
            if not current or current.get(fp) != alert_id:
                return None
            return {k: v for k, v in current.items() if k != fp}

        self.ports.store.update(INDEX_KEY, drop, cluster=self.cluster)

    def _silenced_until(self, fp: str) -> float | None:
        raw = self.ports.store.get(silence_key(fp), cluster=self.cluster)
        return None if not raw else float(raw["until"])

    def evaluate(
        self, subjects: Sequence[Subject], now: float, summary: CycleSummary
    ) -> dict[str, str]:
        """Apply this cycle's decisions; returns fingerprints of alerts created (fp → id)."""
        index = self._index()
        created: dict[str, str] = {}
        seen: set[str] = set()
        by_fp: dict[str, Subject] = {}
        for subject in subjects:
            summary.evaluated += 1
            fp = fingerprint(self.cluster, subject.rule, subject.name)
            by_fp[fp] = subject
            if subject.reading.hold is not None:
                summary.holds.append(f"{subject.name}: {subject.reading.hold}")
            if fp in index:
                continue
            decision = evaluate(subject.spec, subject.reading, RuleState())
            if decision.breaching:
                alert_id = self._create(fp, subject, now)
                if alert_id is not None:
                    created[fp] = alert_id
                    seen.add(fp)
        for fp, alert_id in index.items():
            if fp in seen:
                continue
            self._advance(fp, alert_id, by_fp.get(fp), now)
        return created

    def _create(self, fp: str, subject: Subject, now: float) -> str | None:
        alert_id = self.ports.new_id()
        fresh = replace(
            new_alert(alert_id, self.cluster, subject.rule, subject.name, subject.unit, now),
            evaluated_at=now - 1e9,
        )
        silenced = self._silenced_until(fp)

        def create(current: Any) -> Any:
            if current is not None and AlertState(current["state"]) is not AlertState.RESOLVED:
                return None  # another replica opened it first
            decision = evaluate(subject.spec, subject.reading, RuleState())
            return advance(fresh, decision, now, self.tuning, silenced_until=silenced).to_json()

        written, value = self.ports.store.update(
            alert_key(fp), create, cluster=self.cluster, ttl_s=RECORD_TTL_S
        )
        if not written:  # open already: make sure the index knows it (a crash in between)
            return None if value is None else str(value["id"])
        self.ports.store.put(
            REF_KEY.format(alert_id),
            {"cluster": self.cluster, "fingerprint": fp},
            ttl_s=RECORD_TTL_S,
        )
        return alert_id

    def _advance(self, fp: str, alert_id: str, subject: Subject | None, now: float) -> None:
        half_cycle = self.policy.cycle_s / 2
        silenced = self._silenced_until(fp)

        def step(current: Any) -> Any:
            if current is None or current.get("id") != alert_id:
                return None
            alert = Alert.from_json(current)
            if alert.rule == BLIND_RULE or alert.state is AlertState.RESOLVED:
                return None
            if alert.evaluated_at > now - half_cycle:
                return None  # this cycle was already applied (a handover overlap)
            reading = subject.reading if subject else Reading(None, alert.threshold)
            spec = subject.spec if subject else self._spec(alert.rule)
            decision = evaluate(spec, reading, alert.rule_state)
            return advance(alert, decision, now, self.tuning, silenced_until=silenced).to_json()

        self.ports.store.update(alert_key(fp), step, cluster=self.cluster, ttl_s=RECORD_TTL_S)

    def _spec(self, rule: str) -> RuleSpec:
        if rule == "latency" and self.policy.latency is not None:
            return self.policy.latency.spec
        if rule == "steal" and self.policy.steal is not None:
            return self.policy.steal.spec
        return RuleSpec()

    # ---- blind -------------------------------------------------------------------------

    def _blind(self, reason: str | None, now: float) -> dict[str, str]:
        """Blindness is a rule too: `blind_cycles` empty cycles in a row fire one notice."""
        fp = fingerprint(self.cluster, BLIND_RULE, self.cluster)
        new_id = self.ports.new_id()
        spec = RuleSpec(for_cycles=self.policy.blind_cycles)
        reading = Reading(1.0 if reason else 0.0, 0.5)

        def step(current: Any) -> Any:
            alert = None if current is None else Alert.from_json(current)
            if alert is None or alert.state is AlertState.RESOLVED:
                if reason is None:
                    return None
                alert = new_alert(new_id, self.cluster, BLIND_RULE, self.cluster, "", now)
            elif alert.evaluated_at > now - self.policy.cycle_s / 2:
                return None  # this cycle was already applied (a handover overlap)
            decision = evaluate(spec, reading, alert.rule_state)
            nxt = advance(alert, decision, now, self.tuning, silenced_until=None)
            return replace(nxt, detail=reason or alert.detail).to_json()

        written, value = self.ports.store.update(
            alert_key(fp), step, cluster=self.cluster, ttl_s=RECORD_TTL_S
        )
        if written and value is not None and value["id"] == new_id:
            self.ports.store.put(
                REF_KEY.format(new_id),
                {"cluster": self.cluster, "fingerprint": fp},
                ttl_s=RECORD_TTL_S,
            )
            return {fp: new_id}
        return {}

    # ---- 4. notify -----------------------------------------------------------------------

    def _load(self, fp: str) -> Alert | None:
        raw = self.ports.store.get(alert_key(fp), cluster=self.cluster)
        return None if raw is None else Alert.from_json(raw)

    def _claim(self, alert: Alert, now: float) -> Alert | None:
        replica = self.ports.replica

        def take(current: Any) -> Any:
            if current is None or current.get("id") != alert.id:
                return None
            latest = Alert.from_json(current)
            if not claimable(latest, replica, now, self.tuning):
                return None
            return claim(latest, replica, now).to_json()

        written, value = self.ports.store.update(
            alert_key(alert.fingerprint), take, cluster=self.cluster, ttl_s=RECORD_TTL_S
        )
        return Alert.from_json(value) if written and value else None

    def _save(self, alert: Alert, change: Callable[[Alert], Alert | None]) -> Alert | None:
        def step(current: Any) -> Any:
            if current is None or current.get("id") != alert.id:
                return None
            changed = change(Alert.from_json(current))
            return None if changed is None else changed.to_json()

        written, value = self.ports.store.update(
            alert_key(alert.fingerprint), step, cluster=self.cluster, ttl_s=RECORD_TTL_S
        )
        return Alert.from_json(value) if written and value else None

    def _done(self, alert: Alert, effect: Effect, now: float, **where: Any) -> Alert | None:
        replica = self.ports.replica
        return self._save(alert, lambda a: complete(a, effect, replica, now, **where))

    def drain(self, now: float, summary: CycleSummary) -> None:
        index = self._index()
        alerts = [a for fp in index if (a := self._load(fp)) is not None and a.id == index[fp]]
        for alert in alerts:
            if alert.state is not AlertState.RESOLVED:
                summary.counts[alert.state.value] = summary.counts.get(alert.state.value, 0) + 1
        claimed = [
            c
            for a in alerts
            if claimable(a, self.ports.replica, now, self.tuning)
            and (c := self._claim(a, now)) is not None
        ]
        for alert in alerts:  # finished: out of the index
            if alert.state is AlertState.RESOLVED and not alert.outbox:
                self._index_remove(alert.fingerprint, alert.id)
        if not claimed or not self.ports.still_leader():
            return  # a replica that lost the lease sends nothing; its claims expire
        claimed = [self._enrich(a, now) for a in claimed]
        new_posts = [a for a in claimed if Effect.POST in a.outbox and a.rule != BLIND_RULE]
        grouped: set[str] = set()
        if len(new_posts) > self.policy.storm_k:
            grouped = self._post_group(new_posts, now, summary)
        batched = self._batch_groups(claimed, summary)
        for alert in claimed:
            latest: Alert | None = alert
            if alert.fingerprint in grouped:
                latest = self._load(alert.fingerprint)
            while latest is not None and latest.outbox and latest.claim_by == self.ports.replica:
                if not self.ports.still_leader():
                    return
                effect = latest.outbox[0]
                try:
                    latest = self._perform(latest, effect, now, summary, batched)
                except NotifyFailed:
                    summary.failed += 1
                    break  # keep the claim: retried next cycle
            if latest is not None and latest.state is AlertState.RESOLVED and not latest.outbox:
                self._index_remove(latest.fingerprint, latest.id)

    def _enrich(self, alert: Alert, now: float) -> Alert:
        """Before the first post: the likely cause and, for a node, its meshed pods."""
        if Effect.POST not in alert.outbox or alert.rule == BLIND_RULE:
            return alert
        cause = self._likely_cause(alert, now)
        pods: tuple[str, ...] = ()
        if alert.rule == "steal" and self.ports.pods is not None:
            try:
                pods = tuple(self.ports.pods.meshed_pods_on_node(alert.subject))
            except PortError:
                pods = ()
        if cause is None and not pods:
            return alert
        return self._save(alert, lambda a: replace(a, cause=cause, pods=pods)) or alert

    def _likely_cause(self, alert: Alert, now: float) -> ChangeRef | None:
        if self.ports.changes is None:
            return None
        if alert.rule == "latency":
            parts = alert.subject.split(".")
            target = ChangeTarget(service=parts[0], namespace=parts[1] if len(parts) > 2 else None)
        else:
            target = ChangeTarget(node=alert.subject)
        try:
            refs = self.ports.changes.recent_changes_touching(
                self.cluster, target, self.policy.rollback_window_s
            )
        except PortError:
            return None
        return refs[0] if refs else None

    def _post_group(self, alerts: list[Alert], now: float, summary: CycleSummary) -> set[str]:
        group = Group(self.ports.new_id(), self.cluster, tuple(a.fingerprint for a in alerts), now)
        try:
            ts = self.ports.notifier.post_group(group, alerts, self.policy.channel)
        except NotifyFailed:
            summary.failed += 1
            return set()
        stored = replace(group, channel=self.policy.channel, ts=ts)
        self.ports.store.put(
            GROUP_REF_KEY.format(group.id), {"cluster": self.cluster}, ttl_s=RECORD_TTL_S
        )
        self.ports.store.put(
            group_key(group.id), stored.to_json(), cluster=self.cluster, ttl_s=RECORD_TTL_S
        )
        summary.posted += 1
        summary.grouped += len(alerts)
        done: set[str] = set()
        for alert in alerts:
            where = {"channel": self.policy.channel, "ts": ts, "group_id": group.id}
            saved = self._done(alert, Effect.POST, now, **where)
            if saved is not None:
                self._done(saved, Effect.CHART, now)  # one chart per alert is too many here
                done.add(alert.fingerprint)
        return done

    def _batch_groups(
        self, claimed: Sequence[Alert], summary: CycleSummary
    ) -> set[tuple[str, Effect]]:
        """Storm members share one message: one edit and one resolved reply per group."""
        done: set[tuple[str, Effect]] = set()
        groups: dict[str, list[Alert]] = {}
        for alert in claimed:
            if alert.group_id and alert.posted:
                groups.setdefault(alert.group_id, []).append(alert)
        for group_id, members in groups.items():
            editing = [m for m in members if Effect.EDIT in m.outbox]
            resolved = [m for m in members if Effect.RESOLVED_REPLY in m.outbox]
            try:
                if editing:
                    self._edit_group(group_id)
                    summary.edited += 1
                    done |= {(m.fingerprint, Effect.EDIT) for m in editing}
                raw = self.ports.store.get(group_key(group_id), cluster=self.cluster)
                if resolved and raw is not None:
                    self.ports.notifier.reply_group(Group.from_json(raw), resolved)
                    summary.replies += 1
                    done |= {(m.fingerprint, Effect.RESOLVED_REPLY) for m in resolved}
            except NotifyFailed:
                summary.failed += 1
        return done

    def _perform(
        self,
        alert: Alert,
        effect: Effect,
        now: float,
        summary: CycleSummary,
        batched: set[tuple[str, Effect]] = frozenset(),  # type: ignore[assignment]
    ) -> Alert | None:
        notifier = self.ports.notifier
        where: dict[str, Any] = {}
        if (alert.fingerprint, effect) in batched:
            pass  # done for the whole storm at once
        elif effect is Effect.POST:
            where = {
                "channel": self.policy.channel,
                "ts": notifier.post_alert(alert, self.policy.channel),
            }
            summary.posted += 1
        elif not alert.posted:
            pass  # nothing in Slack to edit or reply to: drop the effect
        elif effect is Effect.EDIT:
            fresh = self._load(alert.fingerprint) or alert
            if fresh.group_id:
                self._edit_group(fresh.group_id)
            else:
                notifier.edit_alert(fresh)
            summary.edited += 1
        elif effect is Effect.CHART:
            if self.policy.chart and alert.rule != BLIND_RULE:
                notifier.attach_chart(alert)
        else:
            notifier.reply(alert, effect)
            summary.replies += 1
        return self._done(alert, effect, now, **where)

    def _edit_group(self, group_id: str) -> None:
        raw = self.ports.store.get(group_key(group_id), cluster=self.cluster)
        if raw is None:
            return
        group = Group.from_json(raw)
        members = [a for fp in group.members if (a := self._load(fp)) is not None]
        self.ports.notifier.edit_group(group, [a for a in members if a.group_id == group.id])
