"""Steps 2 and 3 of a watcher cycle: judge each subject and record the decision.

Why this exists: only subjects that breach now, or that have an unfinished alert, touch
the store, so 5,000 healthy services cost nothing but the query; the open alerts'
silences are read in one round trip, not one each. Each decision is
applied inside `Store.update` (atomic) with the lifecycle functions of
`commands.watch.alerts`, which also write the Slack work it needs into the alert's
outbox; a cycle applied twice (two replicas overlapping during a lease handover) is
recognised by the alert's `evaluated_at` and applied once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from commands.watch.alerts import BLIND_RULE, Alert, AlertState, Tuning, advance, fingerprint
from commands.watch.alerts import new_alert as fresh_alert
from commands.watch.commands import WatchPolicy
from commands.watch.reading import Subject
from commands.watch.rules import Reading, RuleSpec, RuleState, evaluate
from commands.watch.store import AlertStore
from commands.watch.summary import CycleSummary


class Decisions:
    """What one cluster's cycle decides about its subjects."""

    def __init__(
        self, policy: WatchPolicy, alerts: AlertStore, tuning: Tuning, new_id: Callable[[], str]
    ) -> None:
        self.policy = policy
        self.alerts = alerts
        self.tuning = tuning
        self.new_id = new_id
        self.cluster = policy.cluster

    def evaluate(
        self,
        subjects: Sequence[Subject],
        now: float,
        summary: CycleSummary,
        index: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Apply this cycle's decisions; returns fingerprints of alerts created (fp → id).
        `index`: the open alerts, when the caller has read them already."""
        index = dict(self.alerts.index(self.cluster) if index is None else index)
        created: dict[str, str] = {}
        by_fp: dict[str, Subject] = {}
        for subject in subjects:
            summary.evaluated += 1
            fp = fingerprint(self.cluster, subject.rule, subject.name)
            by_fp[fp] = subject
            if subject.reading.hold is not None:
                summary.holds.append(f"{subject.name}: {subject.reading.hold}")
            if fp in index:
                continue
            if evaluate(subject.spec, subject.reading, RuleState()).breaching:
                alert_id = self.open(fp, subject, now)
                if alert_id is not None:
                    created[fp] = alert_id
        following = [fp for fp in index if fp not in created]
        silences = self.alerts.silences(self.cluster, following)  # one read for them all
        for fp in following:
            self.follow(fp, index[fp], by_fp.get(fp), now, silences[fp])
        return created

    def open(self, fp: str, subject: Subject, now: float) -> str | None:
        """A new alert for a subject that breaches now (pending until `for` cycles)."""
        alert_id = self.new_id()
        fresh = replace(
            fresh_alert(alert_id, self.cluster, subject.rule, subject.name, subject.unit, now),
            evaluated_at=now - 1e9,
        )
        silenced = self.alerts.silenced_until(self.cluster, fp)

        def create(current: Any) -> Any:
            if current is not None and AlertState(current["state"]) is not AlertState.RESOLVED:
                return None  # another replica opened it first
            decision = evaluate(subject.spec, subject.reading, RuleState())
            return advance(fresh, decision, now, self.tuning, silenced_until=silenced).to_json()

        written, value = self.alerts.update(self.cluster, fp, create)
        if not written:  # open already: make sure the index knows it (a crash in between)
            return None if value is None else str(value["id"])
        self.alerts.remember(alert_id, self.cluster, fp)
        return alert_id

    def follow(
        self,
        fp: str,
        alert_id: str,
        subject: Subject | None,
        now: float,
        silenced: float | None,
    ) -> None:
        """One more cycle for an unfinished alert; no reading this cycle counts as no data.
        `silenced`: the fingerprint's silence, read with the others' before."""
        half_cycle = self.policy.cycle_s / 2

        def step(current: Any) -> Any:
            if current is None or current.get("id") != alert_id:
                return None
            alert = Alert.from_json(current)
            if alert.rule == BLIND_RULE or alert.state is AlertState.RESOLVED:
                return None
            if alert.evaluated_at > now - half_cycle:
                return None  # this cycle was already applied (a handover overlap)
            reading = subject.reading if subject else Reading(None, alert.threshold)
            spec = subject.spec if subject else self.spec(alert.rule)
            decision = evaluate(spec, reading, alert.rule_state)
            return advance(alert, decision, now, self.tuning, silenced_until=silenced).to_json()

        self.alerts.update(self.cluster, fp, step)

    def spec(self, rule: str) -> RuleSpec:
        if rule == "latency" and self.policy.latency is not None:
            return self.policy.latency.spec
        if rule == "steal" and self.policy.steal is not None:
            return self.policy.steal.spec
        return RuleSpec()
