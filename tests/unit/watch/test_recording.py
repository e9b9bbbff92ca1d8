"""`watch rules` and the recorded-series path of the watcher (commands.watch.recording)."""

from __future__ import annotations

import yaml

from commands.core.model import Caller, Role, Text, UsageError
from commands.core.registry import Registry
from commands.watch import commands as watch_commands
from commands.watch.commands import LatencyPolicy, WatchPolicy
from commands.watch.queries import Baseline, latency_query, p99_expr, rate_expr
from commands.watch.reading import RECORDED_HINT, read
from commands.watch.recording import (
    p99_record,
    recorded_latency_query,
    recording_rules,
    rps_record,
)
from tests.unit.fakes import services
from tests.unit.watch.fakes import ScriptedMetrics, host

VIEWER = Caller("u1", Role.VIEWER)


def _registry() -> Registry:
    registry = Registry()
    watch_commands.register(registry)
    return registry


def test_the_rules_record_the_watchers_own_expressions() -> None:
    document = yaml.safe_load(recording_rules("10m", "15s"))
    (group,) = document["groups"]
    assert group["interval"] == "15s"
    assert {r["record"]: r["expr"] for r in group["rules"]} == {
        p99_record("10m"): p99_expr("10m"),
        rps_record("10m"): rate_expr("10m"),
    }
    assert "[10m]" in p99_expr("10m") and "[10m]" in latency_query("10m")


def test_the_recorded_query_reads_both_series_and_the_baseline() -> None:
    plain = recorded_latency_query("5m")
    assert p99_record("5m") in plain and rps_record("5m") in plain
    assert "histogram_quantile" not in plain and "offset" not in plain
    week = recorded_latency_query("5m", Baseline.SAME_TIME_LAST_WEEK)
    assert f"{p99_record('5m')} offset 7d" in week
    assert f"{rps_record('5m')} offset 7d5m" in week  # covered from the window's start


def test_watch_rules_prints_the_file_after_a_comment() -> None:
    result = _registry().dispatch("watch rules window=2m interval=20s", VIEWER, services())
    assert isinstance(result, Text) and result.title.startswith("# ")
    document = yaml.safe_load("\n".join((result.title, *result.lines)))
    assert document == yaml.safe_load(recording_rules("2m", "20s"))


def test_watch_rules_refuses_what_is_not_a_duration() -> None:
    result = _registry().dispatch("watch rules window=five", VIEWER, services())
    assert isinstance(result, UsageError) and "`window=`" in result.problem


def test_a_recorded_policy_sends_the_recorded_query() -> None:
    metrics = ScriptedMetrics()
    metrics.set_service("checkout", 900)
    latency = LatencyPolicy(default_ms=300, recorded=True)
    subjects, blind = read(WatchPolicy("prod", "C", latency=latency, steal=None), metrics)
    assert blind is None and [s.name for s in subjects] == [host("checkout")]
    assert metrics.queries == [recorded_latency_query("5m")]


def test_no_recorded_series_says_where_to_look() -> None:
    latency = LatencyPolicy(default_ms=300, recorded=True)
    subjects, blind = read(WatchPolicy("prod", "C", latency=latency, steal=None), ScriptedMetrics())
    assert subjects == [] and blind is not None and blind.endswith(RECORDED_HINT)
