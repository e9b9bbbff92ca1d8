"""Wire the watcher cycles of a runtime: one job per cluster, query → evaluate → notify.

Why this exists: the cycle (commands.watch.cycle) is core code behind ports; this
module builds those ports from a runtime — Redis, each cluster's Prometheus and
Kubernetes API, the Slack client, the change pipeline when there is one — and hands
one job per cluster to the leader-elected scheduler. `start_watchers` is what
`meshbot serve` calls; it returns the handle whose `stop()` ends it all.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from prometheus_client import Counter
from slack_sdk import WebClient

from bot.core.runtime import Runtime
from bot.watch.notify import SlackAlertNotifier
from bot.watch.scheduler import LeaseKeeper, WatcherScheduler
from bot.watch.settings import WatchServices
from commands.changes.recent import PipelineRecentChanges, RecentChanges
from commands.watch.commands import WatchPolicy
from commands.watch.cycle import WatchCycle
from commands.watch.ports import CyclePorts, MeshedPods

log = logging.getLogger(__name__)


def new_alert_id() -> str:
    return uuid.uuid4().hex[:16]


def build_cycle(
    runtime: Runtime,
    policy: WatchPolicy,
    client: WebClient,
    keeper: LeaseKeeper,
    changes: RecentChanges | None,
) -> WatchCycle | None:
    services = runtime.services
    metrics = services.metrics.get(policy.cluster)
    if metrics is None:
        log.warning("cluster %s has no prometheus: no watchers for it", policy.cluster)
        return None
    cluster = services.clusters.get(policy.cluster)
    pods: MeshedPods | None = cluster if hasattr(cluster, "meshed_pods_on_node") else None  # type: ignore[assignment]
    notifier = SlackAlertNotifier(
        client, policy, metrics, services.clock, rollback=changes is not None
    )
    ports = CyclePorts(
        store=services.store,
        metrics=metrics,
        notifier=notifier,
        clock=services.clock,
        replica=services.replica_id,
        new_id=new_alert_id,
        still_leader=keeper.valid,
        changes=changes,
        pods=pods,
    )
    return WatchCycle(policy, ports)


def _job(cycle: WatchCycle) -> Callable[[], None]:
    def run() -> None:
        summary = cycle.run()
        log.debug(
            "watch %s: %d subjects, %s, %.0f ms",
            summary.cluster,
            summary.evaluated,
            summary.blind or "ok",
            summary.duration_ms,
        )

    return run


def start_watchers(runtime: Runtime, client: WebClient) -> WatcherScheduler | None:
    """Start this replica's scheduler (it runs the jobs only while it holds the lease)."""
    watch = runtime.services.kit(WatchServices)
    if not watch.config.enabled:
        return None
    policies = watch.policies()
    if not policies:
        log.info("watchers: no cluster has an oncall_channel and prometheus; none started")
        return None
    keeper = LeaseKeeper(
        runtime.services.lease,
        runtime.services.watcher_lease,
        runtime.services.replica_id,
        watch.config.lease_ttl_s,
    )
    changes = PipelineRecentChanges(runtime.services)
    jobs: dict[str, Callable[[], None]] = {}
    for name, policy in policies.items():
        cycle = build_cycle(runtime, policy, client, keeper, changes)
        if cycle is not None:
            jobs[f"meshbot-watch:{name}"] = _job(cycle)
    skipped = Counter(
        "meshbot_watch_skipped_cycles_total",
        "Watcher cycles skipped because the previous one of the same cluster still ran",
        ["job"],
        registry=runtime.telemetry.registry,
    )

    def on_skipped(job_id: str) -> None:
        watch.counters.skipped_cycles += 1
        skipped.labels(job_id).inc()

    scheduler = WatcherScheduler(keeper, jobs, watch.config.cycle_s, on_skipped=on_skipped)
    return scheduler.start()
