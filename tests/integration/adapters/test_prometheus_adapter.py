"""The Metrics port's adapter against a real Prometheus scraping the simulator."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.adapters.prometheus import PrometheusMetrics
from commands.core.errors import MetricsUnavailable

pytestmark = pytest.mark.prometheus

NODES = """
name: adapter
reporters: [destination]
services:
  - {name: payments, namespace: payments, rps: 20, latency: {p50_ms: 60, p99_ms: 200}}
nodes:
  - {name: node-a, instance: 10.0.1.11:9100, cpus: 2, steal: 6}
"""
STEAL = '100 * avg by (node) (rate(node_cpu_seconds_total{mode="steal"}[10s]))'


@pytest.mark.scenario(NODES)
def test_instant_and_range_queries_read_what_prometheus_computed(prometheus) -> None:
    prometheus.wait_scraped_for(12)
    metrics = PrometheusMetrics(prometheus.url, timeout_s=5)
    try:
        assert metrics.ping().startswith("2.")
        [sample] = metrics.query(STEAL)
        assert sample.labels["node"] == "node-a"
        assert sample.value == pytest.approx(6, abs=1)
        now = time.time()
        points = metrics.query_range(STEAL, now - 10, now, 2)
        assert len(points) >= 3
        assert [t for t, _ in points] == sorted(t for t, _ in points)
        assert all(v == pytest.approx(6, abs=1) for _, v in points[-2:])
        assert metrics.query_range("absent_metric_name", now - 10, now, 2) == []
        with pytest.raises(MetricsUnavailable, match="400"):
            metrics.query("sum(")
    finally:
        metrics.close()


def test_an_unreachable_prometheus_is_said_quickly() -> None:
    metrics = PrometheusMetrics("http://127.0.0.1:9", timeout_s=1)
    started = time.monotonic()
    with pytest.raises(MetricsUnavailable, match="unreachable"):
        metrics.query_range("up", 0, 60, 15)
    metrics.close()
    assert time.monotonic() - started < 5


def test_credentials_and_tenant_are_sent_and_never_shown() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"status": "error", "error": "bad token"})

    metrics = PrometheusMetrics(
        "https://mimir.example",
        bearer_token="s3cret-token",
        tenant="team-a",
        transport=httpx.MockTransport(answer),
    )
    with pytest.raises(MetricsUnavailable) as caught:
        metrics.query("up")
    metrics.close()
    assert seen[0].headers["Authorization"] == "Bearer s3cret-token"
    assert seen[0].headers["X-Scope-OrgID"] == "team-a"
    assert "s3cret" not in str(caught.value) and "401" in str(caught.value)
