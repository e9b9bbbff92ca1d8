"""A watcher's baseline is only used when the data covers its whole window: through a
real Prometheus with backfilled history, a service whose series began inside the hour-
before baseline window has no baseline (the rule holds), one with hours of history has.
"""

from __future__ import annotations

import pytest

from bot.adapters.prometheus import PrometheusMetrics
from commands.watch.queries import STAT, Baseline, latency_query, parse_latency
from tests.fixtures.prometheus import BackfillFactory

pytestmark = pytest.mark.prometheus


def baselines(url: str) -> tuple[dict[str, float | None], int]:
    """Each service's baseline as the watchers use it, and how many raw baseline p99s
    Prometheus answered (before the coverage check)."""
    metrics = PrometheusMetrics(url)
    try:
        rows = metrics.query(latency_query("5m", Baseline.HOUR_BEFORE))
    finally:
        metrics.close()
    raw = sum(1 for r in rows if r.labels.get(STAT) == "baseline")
    return {host: s.baseline_ms for host, s in parse_latency(rows).items()}, raw


def test_a_baseline_window_the_data_only_partly_covers_is_not_used(
    backfilled_prometheus: BackfillFactory,
) -> None:
    """62 min of history ending a minute ago: the baseline window (65 to 60 min ago)
    has 2 min of data, enough for a p99 but not for a baseline."""
    found, raw = baselines(backfilled_prometheus("baseline", hours=62 / 60).url)
    assert raw > 0  # Prometheus did answer a (partial) baseline p99 …
    assert found and all(value is None for value in found.values()), found  # … not used


def test_a_baseline_with_hours_of_history_is_used(backfilled_prometheus: BackfillFactory) -> None:
    found, _ = baselines(backfilled_prometheus("baseline", hours=3).url)
    assert found and all(value is not None and value > 0 for value in found.values()), found
