"""The PromQL the preflight runs, and how its answers map to Kubernetes node names.

A constant number of queries answers for every node (three, whatever the node count):
one query per node is what makes a 2,000-node preflight slow and hammers Prometheus.
Series are mapped to node names explicitly — the configured node label, or the
configured instance → node table — never by guessing from an IP or a hostname.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from commands.core.errors import MetricsUnavailable
from commands.core.ports import Metrics, Sample
from commands.preflight.model import PreflightSettings

_STEAL_5M = '100 * avg by ({label}, instance) (rate(node_cpu_seconds_total{{mode="steal"}}[5m]))'
STEAL_AVG_1H = '100 * avg by ({label}, instance) (rate(node_cpu_seconds_total{{mode="steal"}}[1h]))'
STEAL_WORST_5M_1H = "max_over_time((" + _STEAL_5M + ")[1h:5m])"
# The flags we read, plus a `_present` marker for nodes whose node_exporter reports CPU
# flags but none of these three (so "lacks AES" is told apart from "no data").
CPU_FLAGS = (
    'node_cpu_flag_info{{flag=~"aes|avx2|hypervisor"}} or on ({label}, instance) '
    'label_replace(count by ({label}, instance) (node_cpu_flag_info), "flag", "_present", "", "")'
)


def queries(settings: PreflightSettings) -> dict[str, str]:
    label = settings.node_label
    return {
        "steal_avg": STEAL_AVG_1H.format(label=label),
        "steal_worst": STEAL_WORST_5M_1H.format(label=label),
        "cpu_flags": CPU_FLAGS.format(label=label),
    }


@dataclass(frozen=True)
class NodeMetrics:
    """Per node name: steal (avg, worst 5m) and CPU flags; `error` says why data is missing."""

    steal_avg: Mapping[str, float] = field(default_factory=dict)
    steal_worst: Mapping[str, float] = field(default_factory=dict)
    flags: Mapping[str, frozenset[str]] = field(default_factory=dict)
    error: str | None = None
    unmapped: tuple[str, ...] = ()
    query_count: int = 0


def node_of(sample: Sample, settings: PreflightSettings) -> str | None:
    name = sample.labels.get(settings.node_label)
    if name:
        return name
    instance = sample.labels.get("instance", "")
    return settings.instance_to_node.get(instance)


def fetch(metrics: Metrics | None, settings: PreflightSettings, at: float) -> NodeMetrics:
    """Run the queries; Prometheus down or absent gives an error string, never an exception."""
    if metrics is None:
        return NodeMetrics(error="no Prometheus is configured for this cluster")
    texts = queries(settings)
    answers: dict[str, Sequence[Sample]] = {}
    try:
        for key, promql in texts.items():
            answers[key] = metrics.query(promql, at=at)
    except MetricsUnavailable as exc:
        return NodeMetrics(error=str(exc), query_count=len(answers) + 1)
    unmapped: set[str] = set()

    def by_node(samples: Sequence[Sample]) -> dict[str, float]:
        values: dict[str, float] = {}
        for sample in samples:
            node = node_of(sample, settings)
            if node is None:
                unmapped.add(sample.labels.get("instance", "?"))
                continue
            if sample.value == sample.value:  # NaN: no data in the window
                values[node] = max(values.get(node, 0.0), sample.value)
        return values

    flags: dict[str, set[str]] = {}
    for sample in answers["cpu_flags"]:
        node = node_of(sample, settings)
        if node is None:
            unmapped.add(sample.labels.get("instance", "?"))
        elif sample.value > 0:
            flags.setdefault(node, set()).add(sample.labels.get("flag", ""))
    return NodeMetrics(
        steal_avg=by_node(answers["steal_avg"]),
        steal_worst=by_node(answers["steal_worst"]),
        flags={k: frozenset(v) for k, v in flags.items()},
        unmapped=tuple(sorted(unmapped)),
        query_count=len(texts),
    )
