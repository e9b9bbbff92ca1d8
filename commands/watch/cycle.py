"""One watcher cycle for one cluster: read → decide → record → notify.

Why this exists: the cycle is where exactly-once is won or lost, so it is core code
driven through ports (Metrics, Store, a notifier, the change pipeline) and tested with
in-memory fakes as well as against real Redis, Prometheus and the Slack emulator. This
module only runs the steps in order; each lives in its own module:

1. `commands.watch.reading`: every service's rate in ONE query, the p99 screened from
   two buckets each and measured only where that cannot clear it (a few small queries
   whatever the mesh's size, `commands.watch.screening`), every node's steal in ONE
   query; no answer makes the cluster blind (`commands.watch.blind`: one deduplicated
   notice, no alert decision at all, a "recovered" edit when data returns);
2. `commands.watch.deciding`: each subject judged with `commands.watch.rules`, each
   transition applied inside `Store.update` (atomic) with the Slack work it needs
   written into the alert's outbox;
3. `commands.watch.outbox`: the outboxes claimed and worked off while the lease holds —
   posts (one grouped message for a storm), edits, thread replies and charts — each
   step recorded, so a crash leaves work for the next holder and never a second post.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from commands.watch.alerts import Tuning
from commands.watch.blind import record_blindness
from commands.watch.commands import SUMMARY_KEY, WatchPolicy
from commands.watch.deciding import Decisions
from commands.watch.outbox import Outbox
from commands.watch.ports import CyclePorts
from commands.watch.reading import Subject, read
from commands.watch.store import AlertStore
from commands.watch.summary import CycleSummary


class WatchCycle:
    def __init__(self, policy: WatchPolicy, ports: CyclePorts) -> None:
        self.policy = policy
        self.ports = ports
        self.tuning = Tuning(
            edit_interval_s=policy.edit_interval_s,
            renotify_s=policy.renotify_s,
            claim_timeout_s=policy.claim_timeout_s,
        )
        self.alerts = AlertStore(ports.store)
        self.decisions = Decisions(policy, self.alerts, self.tuning, ports.new_id)
        self.outbox = Outbox(policy, ports, self.alerts, self.tuning)

    @property
    def cluster(self) -> str:
        return self.policy.cluster

    def read(self, index: Mapping[str, str]) -> tuple[list[Subject], str | None]:
        """Every subject's reading, or why the cluster is blind; `index`: the open alerts
        (their services are measured exactly, never only screened)."""
        return read(self.policy, self.ports.metrics, index.keys())

    def run(self) -> CycleSummary:
        started = time.perf_counter()
        now = self.ports.clock.now()
        summary = CycleSummary(self.cluster, now, self.ports.replica)
        index = self.alerts.index(self.cluster)
        subjects, blind = self.read(index)
        summary.blind = blind
        touched = record_blindness(
            self.policy, self.alerts, self.tuning, self.ports.new_id, blind, now
        )
        if blind is None:
            t0 = time.perf_counter()
            touched |= self.evaluate(subjects, now, summary, index)
            summary.eval_ms = (time.perf_counter() - t0) * 1000
        self.alerts.index_add(self.cluster, touched)
        self.drain(now, summary)
        summary.duration_ms = (time.perf_counter() - started) * 1000
        self.ports.store.put(SUMMARY_KEY, summary.to_json(), cluster=self.cluster)
        return summary

    def evaluate(
        self,
        subjects: Sequence[Subject],
        now: float,
        summary: CycleSummary,
        index: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Apply this cycle's decisions; returns fingerprints of alerts created (fp → id)."""
        return self.decisions.evaluate(subjects, now, summary, index)

    def drain(self, now: float, summary: CycleSummary) -> None:
        """Do the Slack work the outboxes hold, while this replica holds the lease."""
        self.outbox.drain(now, summary)
