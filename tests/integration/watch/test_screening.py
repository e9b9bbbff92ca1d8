"""Screening on real Prometheus: for every threshold tried — far from the services' p99,
a hair either side of it, on a bucket bound — the screened read breaches exactly the
services the full `histogram_quantile` over every bucket breaches, with the same p99,
in a fixed number of queries however many services there are."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from bot.adapters.prometheus import PrometheusMetrics
from bot.sandbox.metrics.scenario import Scenario
from commands.core.ports import Sample
from commands.watch.commands import LatencyPolicy, WatchPolicy
from commands.watch.queries import latency_query, parse_latency
from commands.watch.reading import read
from commands.watch.rules import RuleState, evaluate
from tests.fixtures.metrics import ExporterFactory
from tests.fixtures.prometheus import StartPrometheus, require_prometheus

WINDOW = "10s"
P99S = (8, 40, 120, 240, 260, 480, 900, 2400)


class PinnedMetrics:
    """The real adapter, every query asked at one instant, each query kept."""

    def __init__(self, inner: PrometheusMetrics, at: float) -> None:
        self.inner, self.at = inner, at
        self.queries: list[str] = []

    def describe(self) -> str:
        return self.inner.describe()

    def ping(self) -> str:
        return self.inner.ping()

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Sample]:
        self.queries.append(promql)
        return self.inner.query(promql, at=self.at)

    def query_range(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.query_range(*args, **kwargs)


def _scenario() -> Scenario:
    services = [
        {
            "name": f"svc-{p99}",
            "namespace": "shop",
            "rps": 40,
            "latency": {"p50_ms": max(1, p99 // 6), "p99_ms": p99},
            "callers": [{"workload": "istio-ingressgateway", "namespace": "istio-system"}],
        }
        for p99 in P99S
    ]
    return Scenario.from_dict(
        {"name": "screening", "duration": "1h", "reporters": ["destination"], "services": services}
    )


def _breaching(metrics: PinnedMetrics, **latency: Any) -> dict[str, float | None]:
    policy = WatchPolicy(
        "prod", "C", latency=LatencyPolicy(window=WINDOW, min_rps=1, **latency), steal=None
    )
    subjects, blind = read(policy, metrics)
    assert blind is None
    return {
        s.name: s.reading.value
        for s in subjects
        if evaluate(s.spec, s.reading, RuleState()).breaching
    }


@pytest.fixture
def pinned(
    metrics_exporter: ExporterFactory, start_prometheus: StartPrometheus
) -> Iterator[PinnedMetrics]:
    """A real Prometheus that scraped `_scenario()` for 12 s, asked at one instant."""
    require_prometheus()
    prom = start_prometheus([metrics_exporter(_scenario())])
    prom.wait_scraped_for(12)
    adapter = PrometheusMetrics(prom.url)
    try:
        yield PinnedMetrics(adapter, adapter.query("time()")[0].value)
    finally:
        adapter.close()


def test_screened_reads_breach_exactly_what_the_full_query_breaches(
    pinned: PinnedMetrics,
) -> None:
    exact = parse_latency(pinned.query(latency_query(WINDOW)))
    p99s = sorted(s.p99_ms for s in exact.values() if s.p99_ms is not None)
    assert len(p99s) == len(P99S)
    thresholds = {1.0, 250.0, 500.0, 1000.0, 100_000.0}
    thresholds |= {p * f for p in p99s for f in (0.5, 0.999, 1.001, 2)}
    for threshold in sorted(thresholds):
        full = _breaching(pinned, default_ms=threshold, screen=False)
        pinned.queries.clear()
        screened = _breaching(pinned, default_ms=threshold)
        assert screened.keys() == full.keys(), threshold
        for host, value in full.items():
            assert value is not None and math.isfinite(value)
            assert screened[host] == pytest.approx(value, rel=1e-9), (threshold, host)
        assert len(pinned.queries) <= 4
        if threshold > 10 * p99s[-1]:  # nothing near: no exact query at all
            assert all("histogram_quantile" not in q for q in pinned.queries)


def test_per_service_thresholds_are_screened_each_against_its_own(
    pinned: PinnedMetrics,
) -> None:
    per_service = {"shop/svc-8": 5.0, "svc-2400": 5000.0, "svc-480": 100.0}
    full = _breaching(pinned, default_ms=1000, per_service_ms=per_service, screen=False)
    screened = _breaching(pinned, default_ms=1000, per_service_ms=per_service)
    hosts = {f"svc-{p}.shop.svc.cluster.local" for p in (8, 480)}
    assert screened.keys() == full.keys() == hosts
