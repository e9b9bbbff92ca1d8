"""The `watchers:` section of the config file, validated, and turned into core policies.

Why this exists: thresholds, `for` durations, the cycle interval and the lease TTL are
what an on-call team tunes, and a typo there must fail at start with the field and
the reason, not page someone at night. Durations are in seconds (so tests run in
seconds); `for_s` becomes a number of consecutive cycles.

    watchers:
      cycle_s: 30            # one cycle per cluster every 30 s
      lease_ttl_s: 15        # one replica runs the watchers; renewed every ttl/3
      storm_k: 5             # more new alerts than this in one cycle: one grouped message
      latency:
        default_ms: 500      # static p99 threshold; per service below
        services: {payments/payments: 300}
        factor: 2.0          # relative threshold: 2 x the baseline p99 …
        baseline: none       # … hour_before | same_time_last_week (none: static only)
        min_rps: 1           # below this the rule holds (no decision)
        for_s: 90
      steal: {warn_pct: 10, critical_pct: 20, for_s: 120, node_label: node}
      runbooks: {latency: https://wiki/runbooks/p99, steal: https://wiki/runbooks/steal}
      clusters:              # per-cluster replacements of the latency/steal blocks
        prod: {latency: {default_ms: 300}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, model_validator

from bot.core.settings import Strict
from commands.watch.commands import LatencyPolicy, StealPolicy, WatcherCounters, WatchPolicy
from commands.watch.queries import Baseline
from commands.watch.rules import RuleSpec

_WINDOW = r"^\d+(ms|s|m|h|d)$"


class LatencyRuleConfig(Strict):
    enabled: bool = True
    default_ms: float | None = Field(default=500.0, gt=0)
    services: dict[str, float] = Field(
        default_factory=dict, description="name, namespace/name or host → p99 threshold in ms"
    )
    factor: float | None = Field(default=None, gt=1)
    baseline: Literal["none", "hour_before", "same_time_last_week"] = "none"
    min_rps: float = Field(default=1.0, ge=0)
    window: str = Field(default="5m", pattern=_WINDOW)
    for_s: float = Field(default=90.0, ge=0)
    resolve_ratio: float = Field(default=0.9, gt=0, le=1)
    resolve_for_s: float = Field(default=0.0, ge=0)
    recorded: bool = Field(
        default=False,
        description="read the p99 and rate recorded by `meshbot watch rules` (large meshes)",
    )

    @model_validator(mode="after")
    def _some_threshold(self) -> LatencyRuleConfig:
        if self.default_ms is None and not self.services and self.factor is None:
            raise ValueError("set default_ms, services or factor: no threshold is defined")
        if self.factor is not None and self.baseline == "none":
            raise ValueError("factor needs a baseline (hour_before or same_time_last_week)")
        return self


class StealRuleConfig(Strict):
    enabled: bool = True
    warn_pct: float = Field(default=10.0, gt=0, le=100)
    critical_pct: float = Field(default=20.0, gt=0, le=100)
    window: str = Field(default="5m", pattern=_WINDOW)
    for_s: float = Field(default=120.0, ge=0)
    resolve_ratio: float = Field(default=0.9, gt=0, le=1)
    resolve_for_s: float = Field(default=0.0, ge=0)
    node_label: str = Field(default="node", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    instance_to_node: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> StealRuleConfig:
        if self.warn_pct >= self.critical_pct:
            raise ValueError("warn_pct must be below critical_pct")
        if self.node_label == "instance" and not self.instance_to_node:
            raise ValueError("node_label: instance needs instance_to_node (never guessed)")
        return self


class ClusterWatchConfig(Strict):
    enabled: bool = True
    latency: LatencyRuleConfig | None = None
    steal: StealRuleConfig | None = None


class WatchersConfig(Strict):
    enabled: bool = True
    # Floors that protect Prometheus, Redis and Slack from a typo: one cycle is two PromQL
    # queries per cluster; the lease is renewed every lease_ttl_s / 3.
    cycle_s: float = Field(default=30.0, ge=1, le=3600)
    lease_ttl_s: float = Field(default=15.0, ge=3, le=600)
    storm_k: int = Field(default=5, ge=1, le=40)
    edit_interval_s: float = Field(default=60.0, ge=0)
    renotify_s: float = Field(default=3600.0, ge=60)
    claim_timeout_s: float | None = Field(
        default=None, gt=0, description="default: 2 x lease_ttl_s"
    )
    rollback_window_s: float = Field(default=7200.0, gt=0)
    blind_for_s: float = Field(
        default=60.0, ge=0, description="no data this long before the 'watcher blind' notice"
    )
    chart: bool = True
    latency: LatencyRuleConfig = LatencyRuleConfig()
    steal: StealRuleConfig = StealRuleConfig()
    runbooks: dict[str, str] = Field(default_factory=dict)
    clusters: dict[str, ClusterWatchConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _lease_against_cycle(self) -> WatchersConfig:
        most = max(60.0, 10 * self.cycle_s)
        if self.lease_ttl_s > most:
            raise ValueError(
                f"lease_ttl_s {self.lease_ttl_s:g} s is too long for cycle_s {self.cycle_s:g} s: "
                f"when a replica dies, nobody watches for up to 4/3 of the TTL; keep it at "
                f"most {most:g} s (10 cycles, or 60 s)"
            )
        return self

    @model_validator(mode="after")
    def _runbooks(self) -> WatchersConfig:
        for rule, url in self.runbooks.items():
            if rule not in {"latency", "steal", "blind"}:
                raise ValueError(f"runbooks: unknown rule {rule!r} (latency, steal, blind)")
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"runbooks.{rule}: must be an http(s) URL")
        return self


def _cycles(seconds: float, cycle_s: float) -> int:
    return max(1, math.ceil(seconds / cycle_s - 1e-9))


def _spec(for_s: float, resolve_ratio: float, resolve_for_s: float, cycle_s: float) -> RuleSpec:
    return RuleSpec(
        for_cycles=_cycles(for_s, cycle_s),
        resolve_ratio=resolve_ratio,
        resolve_cycles=_cycles(resolve_for_s, cycle_s),
    )


def latency_policy(config: LatencyRuleConfig, cycle_s: float) -> LatencyPolicy:
    return LatencyPolicy(
        default_ms=config.default_ms,
        per_service_ms=dict(config.services),
        factor=config.factor,
        baseline=Baseline(config.baseline),
        min_rps=config.min_rps,
        window=config.window,
        spec=_spec(config.for_s, config.resolve_ratio, config.resolve_for_s, cycle_s),
        recorded=config.recorded,
    )


def steal_policy(config: StealRuleConfig, cycle_s: float) -> StealPolicy:
    return StealPolicy(
        warn_pct=config.warn_pct,
        critical_pct=config.critical_pct,
        window=config.window,
        node_label=config.node_label,
        instance_to_node=dict(config.instance_to_node),
        spec=_spec(config.for_s, config.resolve_ratio, config.resolve_for_s, cycle_s),
    )


class WatchServices:
    """The watchers' kit in `Services`: their settings, and the counters `watch status` shows."""

    def __init__(self, config: WatchersConfig, oncall: Mapping[str, str | None]) -> None:
        self.config = config
        self.oncall = dict(oncall)
        self.counters = WatcherCounters()

    def policies(self) -> dict[str, WatchPolicy]:
        """One policy per cluster that has an on-call channel and is not disabled."""
        c = self.config
        found: dict[str, WatchPolicy] = {}
        for name, channel in sorted(self.oncall.items()):
            override = c.clusters.get(name, ClusterWatchConfig())
            if not c.enabled or not override.enabled or not channel:
                continue
            lat = override.latency or c.latency
            steal = override.steal or c.steal
            found[name] = WatchPolicy(
                cluster=name,
                channel=channel,
                cycle_s=c.cycle_s,
                latency=latency_policy(lat, c.cycle_s) if lat.enabled else None,
                steal=steal_policy(steal, c.cycle_s) if steal.enabled else None,
                storm_k=c.storm_k,
                edit_interval_s=c.edit_interval_s,
                renotify_s=c.renotify_s,
                claim_timeout_s=c.claim_timeout_s or 2 * c.lease_ttl_s,
                rollback_window_s=c.rollback_window_s,
                runbooks=dict(c.runbooks),
                chart=c.chart,
                blind_cycles=_cycles(c.blind_for_s, c.cycle_s),
            )
        return found

    def runbook(self, rule: str) -> str | None:
        return self.config.runbooks.get(rule)
