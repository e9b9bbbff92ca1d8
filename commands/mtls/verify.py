"""The bake window after an mTLS change: the client side now versus just before.

STRICT breaks exactly the clients that still spoke plaintext, and they see it as 5xx
and connection failures on their own side; a proxy-heavy handshake path shows up as
p99. So for every destination workload in scope the verifier compares the window since
apply with a window of the same length ending at apply. Both windows are read with the
same queries (one per signal for all workloads), evaluated at two instants.

No data, too few requests to judge, or a baseline whose data does not cover its whole
window (a workload that appeared just before the change) is a hold — never a pass and
never a breach.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from commands.changes.bake import (
    BakeVerifier,
    baseline_coverage,
    conclude,
    nothing_comparable,
    short_baseline,
    too_little_traffic,
)
from commands.changes.hooks import Verdict
from commands.changes.model import Change
from commands.core.evidence import History
from commands.core.ports import Metrics, Sample
from commands.mtls.model import MtlsSettings
from commands.mtls.queries import (
    WORKLOAD_BY,
    client_connection_failures,
    client_errors,
    client_p99,
    client_requests,
    client_selector,
)

MIN_WORKLOAD_REQUESTS = 10.0


@dataclass(frozen=True)
class Window:
    requests: float
    errors: float
    connection_failures: float
    p99_ms: float | None

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def _by_workload(samples: Sequence[Sample]) -> dict[str, float]:
    found: dict[str, float] = {}
    for s in samples:
        key = (
            f"{s.labels.get('destination_workload_namespace', '?')}/"
            f"{s.labels.get('destination_workload', '?')}"
        )
        found[key] = found.get(key, 0.0) + s.value
    return found


def measure(
    metrics: Metrics, window_s: float, namespace: str | None, at: float
) -> dict[str, Window]:
    def read(build: Callable[[float, str | None], str]) -> dict[str, float]:
        return _by_workload(metrics.query(build(window_s, namespace), at=at))

    requests = read(client_requests)
    errors = read(client_errors)
    failures = read(client_connection_failures)
    p99 = read(client_p99)
    return {
        w: Window(
            requests[w],
            errors.get(w, 0.0),
            failures.get(w, 0.0),
            None if w not in p99 or math.isnan(p99[w]) else p99[w],
        )
        for w in requests
    }


class MtlsBakeVerifier(BakeVerifier[MtlsSettings]):
    """Registered for the mtls-* change kinds."""

    def compare(
        self, change: Change, metrics: Metrics, applied: float, now: float, window_s: float
    ) -> Verdict:
        scope = (change.verify or {}).get("namespaces") or ["*"]
        namespace = None if "*" in scope or len(scope) != 1 else str(scope[0])
        current = measure(metrics, window_s, namespace, now)
        baseline = measure(metrics, window_s, namespace, applied)
        by = tuple(label.strip() for label in WORKLOAD_BY.split(","))
        coverage = baseline_coverage(metrics, client_selector(namespace), by, applied, window_s)
        return judge(current, baseline, self.settings, coverage, window_s)


def judge(
    current: dict[str, Window],
    baseline: dict[str, Window],
    s: MtlsSettings,
    coverage: Mapping[str, History] | None = None,
    window_s: float = 0.0,
) -> Verdict:
    """`coverage` (per workload, how far its data went back at apply): a workload whose
    baseline window is not fully covered is not compared."""
    total = sum(w.requests for w in current.values())
    if total < s.bake_min_requests:
        return too_little_traffic(total, s.bake_min_requests, "client-side requests")
    breaches: list[str] = []
    judged: list[str] = []
    short: list[str] = []
    for workload, now in sorted(current.items()):
        before = baseline.get(workload)
        if now.requests < MIN_WORKLOAD_REQUESTS or before is None or before.requests <= 0:
            continue
        missing = short_baseline(coverage, workload, window_s)
        if missing:
            short.append(missing)
            continue
        judged.append(workload)
        ratio, base = now.error_ratio, before.error_ratio
        if ratio > base * s.error_ratio_factor and ratio > base + s.error_ratio_margin:
            breaches.append(f"{workload}: 5xx {ratio:.1%} (baseline {base:.1%})")
        if now.connection_failures > before.connection_failures + s.connection_failure_margin:
            breaches.append(
                f"{workload}: {now.connection_failures:.0f} connection failures "
                f"(baseline {before.connection_failures:.0f})"
            )
        if (
            now.p99_ms is not None
            and before.p99_ms is not None
            and (
                now.p99_ms > before.p99_ms * s.p99_factor
                and now.p99_ms - before.p99_ms > s.p99_margin_ms
            )
        ):
            breaches.append(
                f"{workload}: p99 {now.p99_ms:.0f} ms (baseline {before.p99_ms:.0f} ms)"
            )
    return conclude(
        breaches,
        judged,
        nothing_judged=nothing_comparable(
            "no workload had traffic both before and after the change; cannot compare", short
        ),
        passed=f"5xx, connection failures and p99 within baseline for {', '.join(judged[:8])}",
    )
