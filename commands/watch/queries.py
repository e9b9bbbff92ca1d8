"""PromQL of the watchers, and the parsing of its answers into plain numbers.

Why this exists: the query text is the contract with Prometheus and the part most
likely to be tuned (window, reporter, label names), so it lives apart from the HTTP
client and from the rule engine. Each cycle sends ONE latency query per cluster that
answers for every service at once — p99, request rate and (optionally) the baseline
p99, told apart by a `meshbot_stat` label — and ONE steal query for every node.
Never one query per service: at 5,000 services that is 5,000 round trips a cycle.

A baseline is only used when the service's data covers its whole window: the same
query marks (`baseline_covered`) the services whose series existed at the baseline
window's start; a baseline p99 over a window the data only half covers is dropped, and
the rule holds ("no baseline yet") instead of comparing with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from commands.core.ports import Sample

STAT = "meshbot_stat"
SERVICE_LABEL = "destination_service"


class Baseline(Enum):
    """Which past p99 a relative threshold compares with."""

    NONE = "none"
    HOUR_BEFORE = "hour_before"
    SAME_TIME_LAST_WEEK = "same_time_last_week"

    @property
    def offset(self) -> str | None:
        return {"hour_before": "1h", "same_time_last_week": "7d"}.get(self.value)


def _p99(window: str, offset: str | None = None, only: str = "") -> str:
    shift = f" offset {offset}" if offset else ""
    return (
        "histogram_quantile(0.99, sum by (le, destination_service) "
        f'(rate(istio_request_duration_milliseconds_bucket{{reporter="destination"{only}}}'
        f"[{window}]{shift})))"
    )


def services_matcher(hosts: Iterable[str]) -> str:
    """`,destination_service=~"…"` selecting exactly these hosts (empty: every service)."""
    alternatives = "|".join(re.escape(host) for host in sorted(set(hosts)))
    return f',destination_service=~"{escape(alternatives)}"' if alternatives else ""


def tagged(expr: str, stat: str) -> str:
    return f'label_replace({expr}, "{STAT}", "{stat}", "", "")'


def p99_expr(window: str = "5m") -> str:
    """Every service's p99 (ms) over `window`, from Istio's histogram."""
    return _p99(window)


def rate_expr(window: str = "5m", only: str = "") -> str:
    """Every service's request rate (req/s) over `window` (`only`: a services_matcher)."""
    return (
        "sum by (destination_service) "
        f'(rate(istio_request_duration_milliseconds_count{{reporter="destination"{only}}}'
        f"[{window}]))"
    )


def latency_query(
    window: str = "5m", baseline: Baseline = Baseline.NONE, hosts: Iterable[str] = ()
) -> str:
    """p99 (ms), request rate (req/s) and optional baseline p99 of every service, or of
    only `hosts` when given."""
    only = services_matcher(hosts)
    parts = [tagged(_p99(window, only=only), "p99"), tagged(rate_expr(window, only), "rps")]
    if baseline.offset is not None:
        parts.append(tagged(_p99(window, baseline.offset, only), "baseline"))
        # series present at the baseline window's start (offset + window ago)
        covered = (
            "count by (destination_service) "
            f'(istio_request_duration_milliseconds_count{{reporter="destination"{only}}} '
            f"offset {baseline.offset}{window})"
        )
        parts.append(tagged(covered, "baseline_covered"))
    return " or ".join(parts)


def latency_series(service_host: str, window: str = "5m") -> str:
    """One service's p99, for the chart in an alert's thread."""
    selector = f'reporter="destination",destination_service="{escape(service_host)}"'
    return (
        "histogram_quantile(0.99, sum by (le) "
        f"(rate(istio_request_duration_milliseconds_bucket{{{selector}}}[{window}])))"
    )


def steal_query(window: str = "5m", node_label: str = "node") -> str:
    """Steal % of every node, by `node_label` (a label naming the Kubernetes node)."""
    return f'100 * avg by ({node_label}) (rate(node_cpu_seconds_total{{mode="steal"}}[{window}]))'


def steal_series(node: str, window: str = "5m", node_label: str = "node") -> str:
    return (
        f'100 * avg(rate(node_cpu_seconds_total{{mode="steal",{node_label}="{escape(node)}"}}'
        f"[{window}]))"
    )


def escape(value: str) -> str:
    """`value` inside a PromQL double-quoted string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class ServiceLatency:
    host: str
    p99_ms: float | None = None
    rps: float | None = None
    baseline_ms: float | None = None

    @property
    def name(self) -> str:
        return self.host.split(".", 1)[0]

    @property
    def namespace(self) -> str | None:
        parts = self.host.split(".")
        return parts[1] if len(parts) > 2 else None


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def parse_latency(samples: Iterable[Sample]) -> dict[str, ServiceLatency]:
    """Samples of `latency_query` → service host → its numbers (None where absent/NaN;
    the baseline also None when the data did not cover its window)."""
    found: dict[str, dict[str, float | None]] = {}
    for sample in samples:
        host = sample.labels.get(SERVICE_LABEL)
        stat = sample.labels.get(STAT)
        if not host or stat not in {"p99", "rps", "baseline", "baseline_covered"}:
            continue
        found.setdefault(host, {})[stat] = _number(sample.value)
    return {
        host: ServiceLatency(
            host, v.get("p99"), v.get("rps"), v.get("baseline") if "baseline_covered" in v else None
        )
        for host, v in found.items()
    }


def parse_steal(
    samples: Iterable[Sample],
    node_label: str = "node",
    instance_to_node: dict[str, str] | None = None,
) -> dict[str, float | None]:
    """Samples of `steal_query` → node name → steal %.

    With `node_label: instance`, `instance_to_node` maps instances to node names
    explicitly; an instance missing from it is skipped, never guessed.
    """
    mapping = instance_to_node or {}
    nodes: dict[str, float | None] = {}
    for sample in samples:
        key = sample.labels.get(node_label)
        if not key:
            continue
        name = mapping.get(key, key) if node_label != "instance" else mapping.get(key)
        if name:
            nodes[name] = _number(sample.value)
    return nodes
