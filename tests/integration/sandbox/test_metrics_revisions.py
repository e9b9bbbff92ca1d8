"""Proxy versions per revision in the metrics simulator, read back through real Prometheus.

A staged install's bake compares a wave's services before and after their pods moved to
the new revision's proxy; a scenario ties a regression to that revision, and moving a
namespace (a restarted wave, or its rollback) carries the regression and the proxies'
``istio_build`` tag with it.
"""

from __future__ import annotations

import pytest

from bot.sandbox.metrics import Scenario, bucket_index

pytestmark = pytest.mark.prometheus

P99 = (
    "histogram_quantile(0.99, sum by (le, destination_service) "
    '(rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[5m])))'
)
VERSIONS = 'sum by (namespace, tag) (istio_build{component="proxy"})'
WAVES = """
name: canary-waves
reporters: [destination]
revisions: {default: 1.29.6, 1-30-3: 1.30.3}
services:
  - {name: cart, namespace: shop, rps: 40, latency: {p50_ms: 20, p99_ms: 100}}
  - {name: ledger, namespace: billing, rps: 30, latency: {p50_ms: 20, p99_ms: 100}}
events:
  - {at: 0s, revision: 1-30-3, p99_factor: 3}
  - {at: 1h, namespace: shop, revision: 1-30-3}
  - {at: 2h, namespace: shop, revision: default}
"""


def test_a_regression_follows_the_namespace_onto_the_revision(backfilled_prometheus):
    scenario = Scenario.load(WAVES)
    history = backfilled_prometheus(scenario, hours=3)
    cart, ledger = scenario.service("cart").host, scenario.service("ledger").host
    for minute, cart_p99, shop_tag in [
        (40, 100, "1.29.6"),
        (100, 300, "1.30.3"),
        (170, 100, "1.29.6"),
    ]:
        at = history.at(minute * 60)
        p99 = history.query_values(P99, "destination_service", at)
        assert bucket_index(p99[cart]) == bucket_index(cart_p99), (minute, p99)
        assert bucket_index(p99[ledger]) == bucket_index(100), (minute, p99)
        versions = {
            (s["metric"]["namespace"], s["metric"]["tag"]): float(s["value"][1])
            for s in history.query(VERSIONS, at)
        }
        assert versions == {("shop", shop_tag): 1.0, ("billing", "1.29.6"): 1.0}, minute
