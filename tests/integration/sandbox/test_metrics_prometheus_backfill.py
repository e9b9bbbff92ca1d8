"""Hours of simulated history, backfilled with promtool, queried at past times.

The watchers use 5-minute windows and compare with earlier periods; this checks the
same PromQL over backfilled blocks returns the scenario's values at each point.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox.metrics import MetricsSimulator, Scenario, bucket_index

pytestmark = pytest.mark.prometheus

P99 = (
    "histogram_quantile(0.99, sum by (le, destination_service) "
    '(rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[5m])))'
)
STEAL = '100 * avg by (instance) (rate(node_cpu_seconds_total{mode="steal"}[5m]))'
HISTORY = """
name: afternoon-incident
reporters: [destination]
services:
  - name: checkout
    namespace: shop
    rps: 40
    latency: {p50_ms: 45, p99_ms: 220}
  - name: payments
    namespace: payments
    rps: 30
    latency: {p50_ms: 60, p99_ms: 400}
    callers: [{service: checkout, share: 1.0}]
nodes:
  - {name: node-a, instance: 10.0.1.11:9100, cpus: 2, steal: 0.5}
  - {name: node-c, instance: 10.0.1.13:9100, cpus: 2, steal: 3, hypervisor: true}
events:
  - {at: 1h, service: payments, p99_factor: 5}
  - {at: 90m, node: node-c, steal: 25}
  - {at: 2h, service: payments, p99_factor: 1}
  - {at: 2h, node: node-c, steal: 3}
"""


def test_backfilled_history_answers_at_past_times(backfilled_prometheus):
    scenario = Scenario.load(HISTORY)
    history = backfilled_prometheus(scenario, hours=3)
    payments = scenario.service("payments").host
    checkout = scenario.service("checkout").host
    for minute, factor, steal in [(40, 1, 3), (100, 5, 25), (170, 1, 3)]:
        at = history.at(minute * 60)
        p99 = history.query_values(P99, "destination_service", at)
        assert bucket_index(p99[payments]) == bucket_index(400 * factor), (minute, p99)
        assert bucket_index(p99[checkout]) == bucket_index(220), (minute, p99)
        by_node = history.query_values(STEAL, "instance", at)
        assert by_node["10.0.1.13:9100"] == pytest.approx(steal, abs=1), (minute, by_node)
        assert by_node["10.0.1.11:9100"] == pytest.approx(0.5, abs=1)


def test_history_continues_into_live_scrapes(backfilled_prometheus, metrics_exporter):
    scenario = Scenario.load(HISTORY)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    start = end - timedelta(hours=2, minutes=10)  # now is 2h10m into the scenario
    exporter = metrics_exporter(MetricsSimulator(scenario, clock=start))
    history = backfilled_prometheus(scenario, end=end, hours=2 + 10 / 60, targets=[exporter])
    steal = history.query_values(STEAL, "instance")  # 5m window: history + live samples
    assert steal["10.0.1.13:9100"] == pytest.approx(3, abs=1)
    series = history.query('node_cpu_seconds_total{mode="steal",cpu="0",node="node-c"}')
    assert len(series) == 1  # backfilled and scraped samples are one series
