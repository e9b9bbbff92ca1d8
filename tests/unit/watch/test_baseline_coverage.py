"""A watcher's baseline p99 counts only when its window was covered by data."""

from __future__ import annotations

from commands.core.ports import Sample
from commands.watch.queries import STAT, Baseline, latency_query, parse_latency

HOST = "payments.shop.svc.cluster.local"


def row(stat: str, value: float) -> Sample:
    return Sample({"destination_service": HOST, STAT: stat}, value)


def test_a_baseline_without_data_at_its_window_start_is_dropped() -> None:
    partial = parse_latency([row("p99", 400), row("rps", 50), row("baseline", 120)])
    assert partial[HOST].baseline_ms is None
    covered = parse_latency(
        [row("p99", 400), row("rps", 50), row("baseline", 120), row("baseline_covered", 3)]
    )
    assert covered[HOST].baseline_ms == 120


def test_the_one_latency_query_asks_for_coverage_at_the_baseline_window_start() -> None:
    query = latency_query("5m", Baseline.HOUR_BEFORE)
    assert "offset 1h5m)" in query and '"baseline_covered"' in query
    assert "baseline_covered" not in latency_query("5m", Baseline.NONE)
