"""Screening in the core: which services two buckets clear, which are measured, and why an
open alert's service is always measured (its resolve hysteresis needs the exact p99)."""

from __future__ import annotations

from commands.core.ports import Sample
from commands.watch.commands import LatencyPolicy
from commands.watch.rules import RuleSpec
from commands.watch.screening import (
    bound_at_or_below,
    bounds_of,
    buckets_query,
    parse_layout,
    screen,
)
from tests.unit.watch.fakes import ISTIO_BUCKETS
from tests.unit.watch.test_cycle import Rig

ENVOY = parse_layout([Sample({"le": le}, 1) for le in ISTIO_BUCKETS])
# Prometheus 3 stores classic histograms' bounds normalised: "250" becomes "250.0".
PROMETHEUS_3 = parse_layout(
    [Sample({"le": le if le == "+Inf" else f"{float(le)}"}, 1) for le in ISTIO_BUCKETS]
)


def test_a_service_is_cleared_only_when_99_percent_fall_at_or_below_the_bound() -> None:
    rates = {
        "fast": {"250": 99.5, "+Inf": 100.0},
        "edge": {"250": 99.0, "+Inf": 100.0},  # exactly 99 %: measured, never guessed
        "slow": {"250": 90.0, "+Inf": 100.0},
        "idle": {"250": 0.0, "+Inf": 0.0},
        "custom": {"200": 100.0, "+Inf": 100.0},  # its own buckets lack 250
    }
    result = screen(bounds_of(rates, lambda host: 300.0, ENVOY), rates)
    assert result.cleared == {"fast": 250.0}
    assert result.measure == {"edge", "slow", "idle", "custom"}


def test_the_bound_follows_the_labels_prometheus_stores() -> None:
    assert bound_at_or_below(PROMETHEUS_3, 300) == (250.0, "250.0")
    assert bound_at_or_below(ENVOY, 300) == (250.0, "250")
    assert bound_at_or_below(ENVOY, 0.2) is None  # under the first bucket: measure
    query = buckets_query({"250.0"}, "5m")
    assert 'le=~"\\\\+Inf|250\\\\.0"' in query
    rates = {"svc": {"250.0": 100.0, "+Inf": 100.0}}
    assert screen(bounds_of(["svc"], lambda h: 300.0, PROMETHEUS_3), rates).cleared == {
        "svc": 250.0
    }


def test_kept_and_thresholdless_services_are_measured() -> None:
    rates = {"a": {"250": 100.0, "+Inf": 100.0}, "b": {"250": 100.0, "+Inf": 100.0}}
    bounds = bounds_of(rates, lambda host: None if host == "b" else 300.0, ENVOY)
    result = screen(bounds, rates, keep={"a"})
    assert result.cleared == {} and result.measure == {"a", "b"}


def test_a_firing_alert_resolves_on_its_exact_p99_not_on_a_screened_bound() -> None:
    # threshold 260 resolves below 234; a p99 of 200 is under the 250 bucket, which alone
    # would only prove "at most 250" and keep the alert firing
    latency = LatencyPolicy(default_ms=260, min_rps=1, spec=RuleSpec(for_cycles=2))
    rig = Rig(latency=latency, steal=None)
    rig.metrics.set_service("payments", 900)
    rig.metrics.set_service("frontend", 100)
    rig.tick(3)
    assert rig.notifier.kinds()[0] == "post"
    rig.metrics.set_service("payments", 200)
    rig.tick()
    assert rig.alerts() == []
    assert rig.notifier.sent[-2].state == "resolved"
