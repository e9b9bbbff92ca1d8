"""PromQL for a wave's bake window, kept apart from the HTTP client.

One query per signal for all namespaces of the wave (grouped by namespace), evaluated
at two instants: now, and at apply (the baseline). For namespace waves, requests, 5xx
and p99 are read as the destination's proxy reports them — the proxies that were just
replaced — and connection failures as the clients see them (a destination that no
longer accepts shows up only there). Gateways mostly send rather than receive, so a
gateway stage is read from the gateway's own side: everything it reports as a source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
FAILURE_FLAGS = "UF|URX|UC|UH|UPE"


@dataclass(frozen=True)
class Side:
    """Whose proxies' reports are read, and by which namespace label they are grouped."""

    reporter: str
    by: str


WAVE = Side("destination", "destination_workload_namespace")
GATEWAYS = Side("source", "source_workload_namespace")


def _scope(side: Side, namespaces: Sequence[str]) -> str:
    for ns in namespaces:
        if not NAMESPACE.match(ns):
            raise ValueError(f"not a namespace name: {ns!r}")
    return f'{side.by}=~"{"|".join(sorted(namespaces))}"'


def _window(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


def requests(namespaces: Sequence[str], window_s: float, side: Side = WAVE) -> str:
    return (
        f"sum by ({side.by}) (increase(istio_requests_total"
        f'{{reporter="{side.reporter}", {_scope(side, namespaces)}}}[{_window(window_s)}]))'
    )


def errors_5xx(namespaces: Sequence[str], window_s: float, side: Side = WAVE) -> str:
    return (
        f"sum by ({side.by}) (increase(istio_requests_total"
        f'{{reporter="{side.reporter}", response_code=~"5..", {_scope(side, namespaces)}}}'
        f"[{_window(window_s)}]))"
    )


def connection_failures(namespaces: Sequence[str], window_s: float, side: Side = WAVE) -> str:
    return (
        f"sum by ({side.by}) (increase(istio_requests_total"
        f'{{reporter="source", response_flags=~"{FAILURE_FLAGS}", {_scope(side, namespaces)}}}'
        f"[{_window(window_s)}]))"
    )


def p99_ms(namespaces: Sequence[str], window_s: float, side: Side = WAVE) -> str:
    return (
        f"histogram_quantile(0.99, sum by (le, {side.by}) "
        "(rate(istio_request_duration_milliseconds_bucket"
        f'{{reporter="{side.reporter}", {_scope(side, namespaces)}}}[{_window(window_s)}])))'
    )
