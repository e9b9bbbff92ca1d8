"""A low-rate service through real Prometheus: the p99 it computes is the service's own.

At ~2 requests a second a one-minute window holds ~120 requests split over six series
(three callers, 200 and 503). Rounding each histogram bucket down on its own pushed the
lost fractions above every bucket, and Prometheus read a steady 160 ms p99 as up to
~1.9 s — a false alert from the test bed. An hour of history is backfilled and the
p99 is asked for at every 15 s step of it.
"""

from __future__ import annotations

import pytest

from bot.sandbox.metrics import Scenario

pytestmark = pytest.mark.prometheus

STEADY = """
name: low-rate
reporters: [destination]
services:
  - name: steady
    namespace: shop
    rps: 2
    error_ratio: 0.02
    latency: {p50_ms: 60, p99_ms: 160}
    callers:
      - {workload: a, namespace: shop, share: 0.5}
      - {workload: b, namespace: shop, share: 0.3}
      - {workload: c, namespace: shop, share: 0.2}
"""
HISTOGRAM = "istio_request_duration_milliseconds_bucket"
P99 = f'histogram_quantile(0.99, sum by (le) (rate({HISTOGRAM}{{reporter="destination"}}[1m])))'
SLOW = (
    f'sum(increase({HISTOGRAM}{{reporter="destination", le="+Inf"}}[1m])) '
    f'- sum(increase({HISTOGRAM}{{reporter="destination", le="250"}}[1m]))'
)


def test_prometheus_reads_the_p99_bucket_of_a_steady_low_rate_service(backfilled_prometheus):
    history = backfilled_prometheus(Scenario.load(STEADY), hours=1)
    params = {
        "start": history.at(120).timestamp(),
        "end": history.end.timestamp(),
        "step": "15",
    }
    p99 = history.api("query_range", {"query": P99, **params})["result"]
    readings = [float(value) for _, value in p99[0]["values"]]
    assert len(readings) > 200
    assert max(readings) <= 250, max(readings)  # true p99 160 ms: the (100, 250] bucket
    assert min(readings) > 100
    tail = history.api("query_range", {"query": SLOW, **params})["result"][0]["values"]
    # requests slower than 250 ms per minute: 1 in ~1,500 is due, so almost always none
    assert sum(1 for _, value in tail if float(value) > 0.5) < len(tail) / 4
