"""PromQL of `/mesh timeouts`, apart from the HTTP client: one query per signal, for all
services at once (never one query per service), and the parsing of their answers.

Edges count both reporters: a client without a sidecar only shows up as
`reporter="destination"`, and a Prometheus that drops one reporter to save series still
yields the graph. A source workload becomes a service node when some edge names it as
a `destination_workload` (the service it backs); otherwise it stays a workload node (an
ingress gateway, a job, a client outside the mesh).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from commands.core.ports import Sample
from commands.timeouts.model import Edge

UNKNOWN = "unknown"


def edges_query(window: str = "5m") -> str:
    return (
        "sum by (source_workload, source_workload_namespace, destination_service, "
        "destination_workload, destination_workload_namespace) "
        f"(rate(istio_requests_total[{window}])) > 0"
    )


def p99_query(window: str = "5m") -> str:
    return (
        "histogram_quantile(0.99, sum by (le, destination_service) "
        f'(rate(istio_request_duration_milliseconds_bucket{{reporter="destination"}}[{window}])))'
    )


def requests_selector(hosts: Sequence[str]) -> str:
    """Every destination-side request series of `hosts` (a bake baseline's coverage)."""
    return f'istio_requests_total{{reporter="destination", {_hosts(hosts)}}}'


def requests_query(window: str, hosts: Sequence[str]) -> str:
    """Requests per destination service over `window` (bake window of a change)."""
    return (
        "sum by (destination_service) (increase(istio_requests_total"
        f'{{reporter="destination", {_hosts(hosts)}}}[{window}]))'
    )


def errors_query(window: str, hosts: Sequence[str]) -> str:
    return (
        "sum by (destination_service) (increase(istio_requests_total"
        f'{{reporter="destination", response_code=~"5..", {_hosts(hosts)}}}[{window}]))'
    )


def window_p99_query(window: str, hosts: Sequence[str]) -> str:
    return (
        "histogram_quantile(0.99, sum by (le, destination_service) (rate("
        f'istio_request_duration_milliseconds_bucket{{reporter="destination", {_hosts(hosts)}}}'
        f"[{window}])))"
    )


def _hosts(hosts: Sequence[str]) -> str:
    escaped = "|".join(h.replace(".", "\\\\.") for h in sorted(set(hosts)))
    return f'destination_service=~"{escaped}"'


def seconds_window(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


def parse_edges(samples: Sequence[Sample]) -> list[Edge]:
    workload_services: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        workload = _workload(s, "destination")
        host = s.labels.get("destination_service", "")
        if workload and host and host != UNKNOWN:
            workload_services[workload].add(host)
    rates: dict[tuple[str, str, bool], float] = defaultdict(float)
    for s in samples:
        host = s.labels.get("destination_service", "")
        if not host or host == UNKNOWN or math.isnan(s.value):
            continue
        source = _workload(s, "source")
        if source is None:
            continue
        services = workload_services.get(source)
        if services:
            for service in services:
                rates[(service, host, True)] += s.value
        else:
            rates[(source, host, False)] += s.value
    return [
        Edge(source=src, destination=dst, rps=rps, source_is_service=is_service)
        for (src, dst, is_service), rps in sorted(rates.items())
        if src != dst
    ]


def _workload(sample: Sample, side: str) -> str | None:
    name = sample.labels.get(f"{side}_workload", "")
    namespace = sample.labels.get(f"{side}_workload_namespace", "")
    if not name or name == UNKNOWN:
        return None
    return f"{namespace}/{name}"


def parse_by_host(samples: Sequence[Sample]) -> dict[str, float]:
    """`destination_service` → value, NaN (no traffic in the window) left out."""
    found: dict[str, float] = {}
    for s in samples:
        host = s.labels.get("destination_service", "")
        if host and not math.isnan(s.value) and not math.isinf(s.value):
            found[host] = found.get(host, 0.0) + s.value
    return found
