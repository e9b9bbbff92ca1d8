"""Latency distributions and Istio's histogram buckets.

The simulator has to produce histogram buckets from which PromQL's
``histogram_quantile`` recovers the scenario's percentiles. A log-normal
distribution is what request latencies roughly follow and it is fixed by two
numbers a scenario author knows (p50 and p99), so buckets are computed from its
exact CDF rather than from sampled requests: no randomness, no drift.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from statistics import NormalDist

# Envoy/Istio default buckets for istio_request_duration_milliseconds (upper bounds, ms).
ISTIO_DURATION_BUCKETS_MS: tuple[float, ...] = (
    0.5,
    1,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    300000,
    600000,
    1800000,
    3600000,
)

_Z99 = NormalDist().inv_cdf(0.99)


@dataclass(frozen=True)
class LatencyDist:
    """A log-normal latency distribution in milliseconds (ln(ms) ~ N(mu, sigma))."""

    mu: float
    sigma: float

    @classmethod
    def from_percentiles(cls, p50_ms: float, p99_ms: float) -> LatencyDist:
        if not 0 < p50_ms < p99_ms:
            raise ValueError(f"latency needs 0 < p50 < p99, got p50={p50_ms} p99={p99_ms}")
        return cls(mu=math.log(p50_ms), sigma=(math.log(p99_ms) - math.log(p50_ms)) / _Z99)

    def quantile(self, q: float) -> float:
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(q))

    @property
    def p50(self) -> float:
        return math.exp(self.mu)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    def cdf(self, ms: float) -> float:
        if ms <= 0:
            return 0.0
        if math.isinf(ms):
            return 1.0
        return 0.5 * (1.0 + math.erf((math.log(ms) - self.mu) / (self.sigma * math.sqrt(2))))

    def bucket_fractions(
        self, bounds: tuple[float, ...] = ISTIO_DURATION_BUCKETS_MS
    ) -> list[float]:
        """Cumulative share of requests at or below each bound (without +Inf)."""
        return [self.cdf(b) for b in bounds]


def bucket_index(ms: float, bounds: tuple[float, ...] = ISTIO_DURATION_BUCKETS_MS) -> int:
    """Index of the bucket ``(bounds[i-1], bounds[i]]`` holding ``ms``; len(bounds) means +Inf."""
    return bisect.bisect_left(bounds, ms)


def same_or_adjacent_bucket(
    a_ms: float, b_ms: float, bounds: tuple[float, ...] = ISTIO_DURATION_BUCKETS_MS
) -> bool:
    """True when two latencies lie within one bucket of each other (the histogram's resolution)."""
    return abs(bucket_index(a_ms, bounds) - bucket_index(b_ms, bounds)) <= 1
