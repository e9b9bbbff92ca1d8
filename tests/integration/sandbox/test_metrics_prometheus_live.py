"""A real Prometheus scraping the simulator computes the scenario's p99 and steal.

This is the proof that the simulator's exposition is what the bot's PromQL expects:
the exact queries of the domain notes, run by Prometheus itself, over live scrapes.
"""

from __future__ import annotations

import pytest

from bot.sandbox.metrics import bucket_index

pytestmark = pytest.mark.prometheus

P99 = (
    "histogram_quantile(0.99, sum by (le, destination_service) "
    '(rate(istio_request_duration_milliseconds_bucket{{reporter="destination"}}[{window}])))'
)
STEAL = '100 * avg by (instance) (rate(node_cpu_seconds_total{{mode="steal"}}[{window}]))'
LIVE = """
name: live
reporters: [destination]
services:
  - name: frontend
    namespace: shop
    rps: 200
    latency: {p50_ms: 30, p99_ms: 180}
  - name: payments
    namespace: payments
    rps: 200
    latency: {p50_ms: 60, p99_ms: 700}
    callers: [{service: frontend, share: 1.0}]
nodes:
  - {name: node-a, instance: 10.0.1.11:9100, cpus: 2, steal: 0}
  - {name: node-c, instance: 10.0.1.13:9100, cpus: 2, steal: 7, hypervisor: true}
"""


@pytest.mark.scenario(LIVE)
def test_live_p99_and_steal_match_the_scenario(prometheus):
    scenario = prometheus.simulator.scenario
    hosts = [s.host for s in scenario.services]
    p99 = prometheus.wait_for(P99.format(window="15s"), "destination_service", hosts)
    for service in scenario.services:
        expected = service.latency.p99
        assert abs(bucket_index(p99[service.host]) - bucket_index(expected)) <= 1, (
            service.name,
            p99[service.host],
            expected,
        )
    prometheus.wait_scraped_for(10)  # rate() divides by the range: wait until it is full
    steal = prometheus.query_values(STEAL.format(window="10s"), "instance")
    assert steal["10.0.1.13:9100"] == pytest.approx(7, abs=1)
    assert steal["10.0.1.11:9100"] == pytest.approx(0, abs=1)
    # honor_labels keeps the exporter's instance/node labels instead of the target's
    nodes = prometheus.query_values('node_uname_info{job="meshbot-sandbox"}', "node")
    assert set(nodes) == {"node-a", "node-c"}


@pytest.mark.scenario(LIVE)
def test_live_event_shows_up_in_prometheus(prometheus):
    host = "payments.payments.svc.cluster.local"
    before = prometheus.wait_for(P99.format(window="5s"), "destination_service", [host])
    assert bucket_index(before[host]) == bucket_index(700)
    prometheus.simulator.inject({"service": "payments", "p99_factor": 4})  # 2800 ms
    prometheus.simulator.inject({"node": "node-a", "steal": 30})
    prometheus.wait_seconds(6.5)  # until the 5s window holds only post-event scrapes
    after = prometheus.query_values(P99.format(window="5s"), "destination_service")
    steal = prometheus.query_values(STEAL.format(window="5s"), "instance")
    assert bucket_index(after[host]) == bucket_index(2800), after
    assert steal["10.0.1.11:9100"] == pytest.approx(30, abs=1), steal
    assert steal["10.0.1.13:9100"] == pytest.approx(7, abs=1), steal
