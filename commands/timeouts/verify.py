"""The bake window after a timeouts change: the service's p99 and 5xx, now versus before.

A timeout set too low shows up at once as 5xx (504s from the mesh) and a per-try
timeout too low as higher latency from retries, both on the service whose route
changed. So the verifier compares the window since apply with a window of the same
length ending at apply, for the changed hosts only, with one query per signal for all
of them. Too little traffic (or none), or a baseline whose data does not cover its
whole window, is a hold — never a pass and never a breach.
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.changes.bake import (
    BakeVerifier,
    baseline_coverage,
    conclude,
    nothing_comparable,
    short_baseline,
    too_little_traffic,
)
from commands.changes.hooks import Verdict, VerdictOutcome
from commands.changes.model import Change
from commands.core.evidence import History
from commands.core.ports import Metrics
from commands.timeouts.model import TimeoutsSettings
from commands.timeouts.queries import (
    errors_query,
    parse_by_host,
    requests_query,
    requests_selector,
    seconds_window,
    window_p99_query,
)

KIND = "timeouts"
ERROR_RATIO_MARGIN = 0.01  # +1 point of 5xx on top of doubling
P99_FACTOR = 1.5
P99_MARGIN_MS = 50.0
MIN_HOST_REQUESTS = 10.0


def _read(
    metrics: Metrics, hosts: list[str], window: str, at: float
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    requests = parse_by_host(metrics.query(requests_query(window, hosts), at=at))
    errors = parse_by_host(metrics.query(errors_query(window, hosts), at=at))
    p99 = parse_by_host(metrics.query(window_p99_query(window, hosts), at=at))
    return requests, errors, p99


class TimeoutsBakeVerifier(BakeVerifier[TimeoutsSettings]):
    """Registered for the `timeouts` change kind."""

    def compare(
        self, change: Change, metrics: Metrics, applied: float, now: float, window_s: float
    ) -> Verdict:
        hosts = [str(h) for h in (change.verify or {}).get("hosts") or []]
        if not hosts:
            return Verdict(VerdictOutcome.PASS, ("no service to watch",))
        window = seconds_window(window_s)
        req_now, err_now, p99_now = _read(metrics, hosts, window, now)
        req_before, err_before, p99_before = _read(metrics, hosts, window, applied)
        coverage = baseline_coverage(
            metrics, requests_selector(hosts), ("destination_service",), applied, window_s
        )
        return judge(
            hosts,
            (req_now, err_now, p99_now),
            (req_before, err_before, p99_before),
            self.settings,
            coverage,
            window_s,
        )


Window = tuple[dict[str, float], dict[str, float], dict[str, float]]


def judge(
    hosts: list[str],
    now: Window,
    before: Window,
    settings: TimeoutsSettings,
    coverage: Mapping[str, History] | None = None,
    window_s: float = 0.0,
) -> Verdict:
    req_now, err_now, p99_now = now
    req_before, err_before, p99_before = before
    total = sum(req_now.get(h, 0.0) for h in hosts)
    if total < settings.bake_min_requests:
        return too_little_traffic(
            total, settings.bake_min_requests, f"requests to {', '.join(hosts)}"
        )
    breaches: list[str] = []
    judged: list[str] = []
    short: list[str] = []
    for host in hosts:
        n, b = req_now.get(host, 0.0), req_before.get(host, 0.0)
        if n < MIN_HOST_REQUESTS or b <= 0:
            continue
        missing = short_baseline(coverage, host, window_s)
        if missing:
            short.append(missing)
            continue
        judged.append(host)
        ratio, base = err_now.get(host, 0.0) / n, err_before.get(host, 0.0) / b
        if ratio > base * 2 and ratio > base + ERROR_RATIO_MARGIN:
            breaches.append(f"{host}: 5xx {ratio:.1%} (before {base:.1%})")
        p_now, p_before = p99_now.get(host), p99_before.get(host)
        if (
            p_now is not None
            and p_before is not None
            and p_now > p_before * P99_FACTOR
            and p_now - p_before > P99_MARGIN_MS
        ):
            breaches.append(f"{host}: p99 {p_now:.0f}ms (before {p_before:.0f}ms)")
    return conclude(
        breaches,
        judged,
        nothing_judged=nothing_comparable(
            "no changed service had traffic both before and after", short
        ),
        passed=f"p99 and 5xx within the baseline for {', '.join(judged)}",
    )
