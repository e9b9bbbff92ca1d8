"""Step 4 of a watcher cycle: do the Slack work the alerts' outboxes hold, exactly once.

Why this exists: "posted exactly once" across replicas is won here. The cycle claims
each alert's outbox atomically (a claim expires after `claim_timeout_s`), checks that
it still holds the watcher lease before every send, and records each effect as done
right after doing it; a replica that dies mid-way leaves its claim to expire and the
next lease holder finishes the job, and a replica that lost the lease sends nothing.
More than `storm_k` new alerts in one cycle become one grouped message (a storm), and
the members of a storm share one edit and one resolved reply per cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from commands.watch.alerts import (
    BLIND_RULE,
    Alert,
    AlertState,
    Effect,
    Group,
    Tuning,
    claim,
    claimable,
    complete,
)
from commands.watch.causes import enrich
from commands.watch.commands import WatchPolicy
from commands.watch.ports import CyclePorts, NotifyFailed
from commands.watch.store import AlertStore
from commands.watch.summary import CycleSummary

Done = set[tuple[str, Effect]]  # (fingerprint, effect) already done for a whole storm


class Outbox:
    """One cluster's alert outboxes, worked off by the replica that holds the lease."""

    def __init__(
        self, policy: WatchPolicy, ports: CyclePorts, alerts: AlertStore, tuning: Tuning
    ) -> None:
        self.policy = policy
        self.ports = ports
        self.alerts = alerts
        self.tuning = tuning
        self.cluster = policy.cluster
        self.replica = ports.replica

    def drain(self, now: float, summary: CycleSummary) -> None:
        alerts = self._unfinished()
        for alert in alerts:
            if alert.state is not AlertState.RESOLVED:
                summary.counts[alert.state.value] = summary.counts.get(alert.state.value, 0) + 1
        claimed = [
            c
            for a in alerts
            if claimable(a, self.replica, now, self.tuning)
            and (c := self._claim(a, now)) is not None
        ]
        for alert in alerts:  # finished: out of the index
            if alert.state is AlertState.RESOLVED and not alert.outbox:
                self.alerts.index_remove(self.cluster, alert.fingerprint, alert.id)
        if not claimed or not self.ports.still_leader():
            return  # a replica that lost the lease sends nothing; its claims expire
        claimed = [enrich(self.policy, self.ports, self.alerts, a) for a in claimed]
        new_posts = [a for a in claimed if Effect.POST in a.outbox and a.rule != BLIND_RULE]
        grouped: set[str] = set()
        if len(new_posts) > self.policy.storm_k:
            grouped = self._post_group(new_posts, now, summary)
        batched = self._batch_groups(claimed, summary)
        for alert in claimed:
            latest: Alert | None = alert
            if alert.fingerprint in grouped:  # posted with its storm: its record moved on
                latest = self.alerts.load(self.cluster, alert.fingerprint)
            if not self._work_off(latest, now, summary, batched):
                return

    def _unfinished(self) -> list[Alert]:
        index = self.alerts.index(self.cluster)
        loaded = self.alerts.load_many(self.cluster, list(index))  # one read for them all
        return [a for a in loaded if a is not None and a.id == index[a.fingerprint]]

    def _work_off(
        self, alert: Alert | None, now: float, summary: CycleSummary, batched: Done
    ) -> bool:
        """Do one claimed alert's effects in order; False when the lease was lost."""
        latest = alert
        while latest is not None and latest.outbox and latest.claim_by == self.replica:
            if not self.ports.still_leader():
                return False
            try:
                latest = self._perform(latest, latest.outbox[0], now, summary, batched)
            except NotifyFailed:
                summary.failed += 1
                break  # keep the claim: retried next cycle
        if latest is not None and latest.state is AlertState.RESOLVED and not latest.outbox:
            self.alerts.index_remove(self.cluster, latest.fingerprint, latest.id)
        return True

    def _claim(self, alert: Alert, now: float) -> Alert | None:
        replica = self.replica

        def take(current: Any) -> Any:
            if current is None or current.get("id") != alert.id:
                return None
            latest = Alert.from_json(current)
            if not claimable(latest, replica, now, self.tuning):
                return None
            return claim(latest, replica, now).to_json()

        written, value = self.alerts.update(self.cluster, alert.fingerprint, take)
        return Alert.from_json(value) if written and value else None

    def _done(self, alert: Alert, effect: Effect, now: float, **where: Any) -> Alert | None:
        replica = self.replica
        return self.alerts.save(alert, lambda a: complete(a, effect, replica, now, **where))

    def _post_group(self, alerts: list[Alert], now: float, summary: CycleSummary) -> set[str]:
        """One message for a storm; returns the fingerprints now posted as its members."""
        group = Group(self.ports.new_id(), self.cluster, tuple(a.fingerprint for a in alerts), now)
        try:
            ts = self.ports.notifier.post_group(group, alerts, self.policy.channel)
        except NotifyFailed:
            summary.failed += 1
            return set()
        self.alerts.save_group(replace(group, channel=self.policy.channel, ts=ts))
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

    def _batch_groups(self, claimed: Sequence[Alert], summary: CycleSummary) -> Done:
        """Storm members share one message: one edit and one resolved reply per group."""
        done: Done = set()
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
                group = self.alerts.group(self.cluster, group_id)
                if resolved and group is not None:
                    self.ports.notifier.reply_group(group, resolved)
                    summary.replies += 1
                    done |= {(m.fingerprint, Effect.RESOLVED_REPLY) for m in resolved}
            except NotifyFailed:
                summary.failed += 1
        return done

    def _perform(
        self, alert: Alert, effect: Effect, now: float, summary: CycleSummary, batched: Done
    ) -> Alert | None:
        """Do one effect (unless the storm's batch did it) and record it as done."""
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
            fresh = self.alerts.load(self.cluster, alert.fingerprint) or alert
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
        group = self.alerts.group(self.cluster, group_id)
        if group is not None:
            self.ports.notifier.edit_group(group, self.alerts.members(group))
