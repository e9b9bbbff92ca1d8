"""PromQL for a wave's bake window, kept apart from the HTTP client.

One query per signal for all namespaces of the wave (grouped by namespace), evaluated
at two instants: now, and at apply (the baseline). Requests, 5xx and p99 are read as
the destination's proxy reports them — the proxies that were just replaced; connection
failures as the clients see them (a destination that no longer accepts shows up only
there).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
BY = "destination_workload_namespace"
FAILURE_FLAGS = "UF|URX|UC|UH|UPE"


def _scope(namespaces: Sequence[str]) -> str:
    for ns in namespaces:
        if not NAMESPACE.match(ns):
            raise ValueError(f"not a namespace name: {ns!r}")
    return f'destination_workload_namespace=~"{"|".join(sorted(namespaces))}"'


def _window(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


def requests(namespaces: Sequence[str], window_s: float) -> str:
    return (
        f"sum by ({BY}) (increase(istio_requests_total"
        f'{{reporter="destination", {_scope(namespaces)}}}[{_window(window_s)}]))'
    )


def errors_5xx(namespaces: Sequence[str], window_s: float) -> str:
    return (
        f"sum by ({BY}) (increase(istio_requests_total"
        f'{{reporter="destination", response_code=~"5..", {_scope(namespaces)}}}'
        f"[{_window(window_s)}]))"
    )


def connection_failures(namespaces: Sequence[str], window_s: float) -> str:
    return (
        f"sum by ({BY}) (increase(istio_requests_total"
        f'{{reporter="source", response_flags=~"{FAILURE_FLAGS}", {_scope(namespaces)}}}'
        f"[{_window(window_s)}]))"
    )


def p99_ms(namespaces: Sequence[str], window_s: float) -> str:
    return (
        f"histogram_quantile(0.99, sum by (le, {BY}) "
        "(rate(istio_request_duration_milliseconds_bucket"
        f'{{reporter="destination", {_scope(namespaces)}}}[{_window(window_s)}])))'
    )
