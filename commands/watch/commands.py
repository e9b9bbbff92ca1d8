"""The watchers as the core sees them: their policy per cluster, and their commands.

Why this exists: `bot.watch.settings` validates the YAML; this module holds the same
knobs as plain frozen data the cycle (`commands.watch.cycle`) can use without pydantic,
the read-only command an on-call engineer runs to see what the watchers think (who
holds the lease, which cluster is blind, which alerts are open, which services are held
for low traffic, how many cycles were skipped), and the alert actions the buttons
dispatch (`alert ack ID`, …; handled in `commands.watch.actions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from commands.changes.hooks import ChangesKit
from commands.core.errors import PortError
from commands.core.model import Failure, Result, Role, UsageError
from commands.core.ports import Services
from commands.core.refusals import RefusalScope
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from commands.watch import recording
from commands.watch.actions import (
    acknowledge_alert,
    acknowledge_group,
    alert_id,
    roll_back_cause,
    silence_alert,
    silence_group,
)
from commands.watch.queries import Baseline
from commands.watch.rules import RuleSpec
from commands.watch.store import AlertStore

SUMMARY_KEY = "watch:summary"


@dataclass(frozen=True)
class LatencyPolicy:
    default_ms: float | None = 500.0
    per_service_ms: Mapping[str, float] = field(default_factory=dict)  # name, ns/name or host
    factor: float | None = None
    baseline: Baseline = Baseline.NONE
    min_rps: float = 1.0
    window: str = "5m"
    spec: RuleSpec = field(default_factory=RuleSpec)
    recorded: bool = False  # read `watch rules`' recorded series (commands.watch.recording)
    screen: bool = True  # prove most services under threshold from 2 buckets (…screening)

    def static_for(self, host: str) -> float | None:
        parts = host.split(".")
        keys = [host, f"{parts[1]}/{parts[0]}" if len(parts) > 1 else host, parts[0]]
        for key in keys:
            if key in self.per_service_ms:
                return self.per_service_ms[key]
        return self.default_ms


@dataclass(frozen=True)
class StealPolicy:
    warn_pct: float = 10.0
    critical_pct: float = 20.0
    window: str = "5m"
    node_label: str = "node"
    instance_to_node: Mapping[str, str] = field(default_factory=dict)
    spec: RuleSpec = field(default_factory=RuleSpec)


@dataclass(frozen=True)
class WatchPolicy:
    """Everything one cluster's watcher cycle needs to decide and to notify."""

    cluster: str
    channel: str
    cycle_s: float = 30.0
    latency: LatencyPolicy | None = field(default_factory=LatencyPolicy)
    steal: StealPolicy | None = field(default_factory=StealPolicy)
    storm_k: int = 5
    edit_interval_s: float = 60.0
    renotify_s: float = 3600.0
    claim_timeout_s: float = 30.0
    rollback_window_s: float = 7200.0
    runbooks: Mapping[str, str] = field(default_factory=dict)  # rule → URL
    chart: bool = True
    blind_cycles: int = 2  # empty or failed cycles in a row before "watcher blind"


@dataclass
class WatcherCounters:
    """What the edge counts about this replica's watcher cycles, for `watch status`."""

    skipped_cycles: int = 0


@dataclass(frozen=True)
class WatchStatus(Result):
    """What the watchers of each cluster last saw, and who runs them."""

    lease_holder: str | None
    this_replica: str
    clusters: tuple[tuple[str, Mapping[str, Any] | None], ...]
    skipped_cycles: int | None = None


def _status(ctx: Context, args: Args) -> Result:
    services = ctx.services
    wanted: str | None = args.get("cluster")
    names = sorted(services.clusters) if wanted is None else [wanted]
    if wanted is not None and wanted not in services.clusters:
        known = ", ".join(f"`{name}`" for name in sorted(services.clusters)) or "none"
        return UsageError(f"unknown cluster `{wanted}` (configured: {known})")
    try:
        holder = services.lease.holder(services.watcher_lease)
        summaries = tuple((n, services.store.get(SUMMARY_KEY, cluster=n)) for n in names)
    except PortError as exc:
        return Failure(f"Cannot read the watchers' state: {exc}")
    skipped = services.kit(WatcherCounters).skipped_cycles
    return WatchStatus(holder, services.replica_id, summaries, skipped)


SILENCES = {"1h": 3600.0, "4h": 4 * 3600.0}

# ---- alert actions: what the buttons dispatch, and the same typed --------------------------

ID = Param(
    "id",
    "the alert's id, shown under the alert as `alert …`",
    required=True,
    convert=alert_id,
    placeholder="ID",
)
GROUP_ID = Param(
    "id",
    "the grouped message's id, shown under it as `group …`",
    required=True,
    convert=alert_id,
    placeholder="ID",
)
FOR = Param("for", "how long", required=True, choices=tuple(SILENCES))


def _ack(ctx: Context, args: Args) -> Result:
    return acknowledge_alert(ctx.services, ctx.caller, args.get("id"))


def _silence(ctx: Context, args: Args) -> Result:
    label = str(args.get("for"))
    return silence_alert(ctx.services, ctx.caller, args.get("id"), SILENCES[label], label)


def _rollback(ctx: Context, args: Args) -> Result:
    return roll_back_cause(ctx.services, ctx.caller, args.get("id"))


def _group_ack(ctx: Context, args: Args) -> Result:
    return acknowledge_group(ctx.services, ctx.caller, args.get("id"))


def _group_silence(ctx: Context, args: Args) -> Result:
    label = str(args.get("for"))
    return silence_group(ctx.services, ctx.caller, args.get("id"), SILENCES[label], label)


def _alert_scope(services: Services, args: Args) -> RefusalScope | None:
    """A refused alert action is recorded in the stream of the alert's cluster."""
    try:
        found = AlertStore(services.store).locate(str(args.get("id", "")))
    except PortError:
        return None
    if found is None:
        return None
    return RefusalScope(found.cluster, {"alert": str(args.get("id"))})


def _group_scope(services: Services, args: Args) -> RefusalScope | None:
    """A refused storm-wide action is recorded in the stream of the storm's cluster."""
    try:
        cluster = AlertStore(services.store).locate_group(str(args.get("id", "")))
    except PortError:
        return None
    return None if cluster is None else RefusalScope(cluster, {"group": str(args.get("id"))})


def _register_alert_actions(registry: Registry) -> None:
    registry.register_all(
        [
            CommandSpec(
                "alert ack",
                "Acknowledge an alert: you are on it (stops the reminders)",
                _ack,
                examples=("alert ack 7f3a9c2e41d05b6a",),
                changes_state=True,
                refusal_scope=_alert_scope,
                role=Role.OPERATOR,
                positionals=(ID,),
            ),
            CommandSpec(
                "alert silence",
                "Silence an alert (and new ones on the same subject) for 1 or 4 hours",
                _silence,
                examples=("alert silence 7f3a9c2e41d05b6a for=1h",),
                changes_state=True,
                refusal_scope=_alert_scope,
                role=Role.OPERATOR,
                positionals=(ID,),
                options=(FOR,),
                details="The expiry is noted in the alert's thread.",
            ),
            CommandSpec(
                "alert rollback",
                "Roll back the meshbot change named as the alert's likely cause",
                _rollback,
                examples=("alert rollback 7f3a9c2e41d05b6a",),
                changes_state=True,
                refusal_scope=_alert_scope,
                needs=(ChangesKit,),
                role=Role.OPERATOR,
                positionals=(ID,),
                details=(
                    "Runs the change's rollback through the change pipeline as you: its "
                    "policy, drift check and audit apply. The outcome goes in the alert's thread."
                ),
            ),
            CommandSpec(
                "alert group ack",
                "Acknowledge every alert of a storm's grouped message",
                _group_ack,
                examples=("alert group ack 2d8e61b0c4a97f35",),
                changes_state=True,
                refusal_scope=_group_scope,
                role=Role.OPERATOR,
                positionals=(GROUP_ID,),
            ),
            CommandSpec(
                "alert group silence",
                "Silence every alert of a storm's grouped message",
                _group_silence,
                examples=("alert group silence 2d8e61b0c4a97f35 for=4h",),
                changes_state=True,
                refusal_scope=_group_scope,
                role=Role.OPERATOR,
                positionals=(GROUP_ID,),
                options=(FOR,),
            ),
        ]
    )


def register(registry: Registry) -> None:
    """`watch status`, `watch rules`, and the alert actions (commands.watch.actions)."""
    _register_alert_actions(registry)
    registry.register(
        CommandSpec(
            "watch status",
            "Show what the watchers last saw: lease holder, blind clusters, open alerts, holds",
            _status,
            needs=(WatcherCounters,),
            role=Role.VIEWER,
            positionals=(
                Param("cluster", "a configured cluster (default: all)", placeholder="CLUSTER"),
            ),
            details=(
                "Each cluster's last cycle: when, how long it took, whether Prometheus "
                "answered (blind), the alerts pending/firing/acknowledged/silenced, and the "
                "services held because their traffic is below the minimum request rate."
            ),
            examples=("watch status", "watch status prod-eu"),
        )
    )
    recording.register(registry)
